//! The transactional outbox and the change feed.
//!
//! Every write emits an event in the transaction of the change, fanned out at
//! once to the deliveries of matching webhooks, so a rolled-back change emits
//! nothing and a committed one is never lost. The feed returns events in the
//! order of record (see [`crate::record`]): by `(tx, seq)`, below the horizon.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{HORIZON_SQL, Position};
use crate::auth::{Actor, Scope};
use crate::db::schema::events;
use crate::error::AppError;
use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};

/// An event as the feed and webhooks carry it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    /// `<resource>.<action>`: `contact.created`, `order.updated`, `consent.withdrawn`, `dsar.completed`, `contact.erased`, `audit.checkpoint`...
    #[serde(rename = "type")]
    pub kind: String,
    /// When the writing transaction started.
    pub occurred_at: DateTime<Utc>,
    pub resource_type: String,
    pub resource_id: String,
    /// Names of the fields the write changed.
    #[schema(value_type = Vec<String>)]
    pub changed_fields: Value,
    /// The resource as the API returns it; null for deletions and erasures.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// One change to record: the event type (`order.updated`), resource type
/// and id, the changed field names and the resource as the API returns it.
pub struct Change {
    pub kind: String,
    pub resource_type: String,
    pub resource_id: String,
    pub fields: Vec<String>,
    pub data: Option<Value>,
}

/// Emits an event and queues its deliveries to matching enabled webhooks
/// (and, for `dsar.*` events, to the request's status callback), without
/// an audit entry (the caller records its own).
pub fn emit(
    conn: &mut PgConnection,
    kind: &str,
    resource_type: &str,
    resource_id: &str,
    fields: Vec<String>,
    data: Option<Value>,
) -> QueryResult<()> {
    emit_many(
        conn,
        &[Change {
            kind: kind.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_owned(),
            fields,
            data,
        }],
    )
}

/// The join condition of an event `e` (`kind`, `resource_id`) to the webhooks
/// `w` that want it: enabled subscriptions whose patterns match, and a DSAR's
/// status callback for that request's `dsar.*` events, except
/// `dsar.verification_requested`: it carries the link, which only the
/// controller's mailer may see (the submitter would verify for the person).
pub(crate) const SUBSCRIBED: &str = "w.enabled AND ( \
    (w.dsar_id IS NULL AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(w.events) p \
       WHERE p = '*' OR p = e.type OR (right(p, 2) = '.*' AND left(p, -2) = split_part(e.type, '.', 1)))) \
    OR (w.dsar_id::text = e.resource_id AND e.type LIKE 'dsar.%' AND e.type <> 'dsar.verification_requested'))";

/// Emits events in one insert and queues their deliveries in one more. Both
/// rows take the transaction's id by default (`tx`, `event_tx`).
pub(crate) fn emit_many(conn: &mut PgConnection, changes: &[Change]) -> QueryResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(changes.len());
    let mut seqs = Vec::with_capacity(changes.len());
    // 6 parameters a row.
    for chunk in changes.chunks(5_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|c| {
                (
                    events::id.eq(Uuid::now_v7()),
                    events::type_.eq(&c.kind),
                    events::resource_type.eq(&c.resource_type),
                    events::resource_id.eq(&c.resource_id),
                    events::changed_fields.eq(Value::from(c.fields.clone())),
                    events::data.eq(c.data.as_ref()),
                )
            })
            .collect();
        let inserted: Vec<(i64, Uuid)> =
            diesel::insert_into(events::table).values(&rows).returning((events::seq, events::id)).get_results(conn)?;
        for (seq, id) in inserted {
            seqs.push(seq);
            ids.push(id);
        }
    }
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    let resources: Vec<&str> = changes.iter().map(|c| c.resource_id.as_str()).collect();
    diesel::sql_query(format!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_seq) \
         SELECT gen_random_uuid(), w.id, e.id, e.seq \
         FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[]) AS e(id, seq, type, resource_id) \
         JOIN webhooks w ON {SUBSCRIBED} ORDER BY e.seq",
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&seqs)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Text>, _>(&resources)
    .execute(conn)?;
    Ok(())
}

/// The event type prefixes a token may read, by scope.
fn readable(actor: &Actor) -> Vec<&'static str> {
    [
        (Scope::ClientsRead, "client"),
        (Scope::ContactsRead, "contact"),
        (Scope::OrdersRead, "order"),
        (Scope::ConsentsRead, "consent"),
        (Scope::DsarManage, "dsar"),
        (Scope::AuditRead, "audit"),
    ]
    .into_iter()
    .filter(|(s, _)| actor.has(*s))
    .map(|(_, p)| p)
    .collect()
}

/// Query of `GET /v1/events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Resume after this position (the previous page's `next_cursor`).
    pub after: Option<String>,
    /// An event type (`contact.updated`) or a pattern (`contact.*`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

/// A page of the feed. Unlike other lists, `next_cursor` is never null: a
/// feed has no end, so keep it and ask again later.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub data: Vec<Event>,
    /// Where to resume. It may move past the last event of the page (the
    /// feed has looked further and found nothing for this filter).
    pub next_cursor: String,
}

/// The tag of feed cursors.
const TAG: char = 'f';

/// The cursor of a position in the feed.
pub fn cursor(p: Position) -> String {
    p.encode(TAG)
}

/// Reads a feed cursor, including the older form (a bare `seq`, tag `e`),
/// which maps exactly: every event numbered before the order of record
/// existed carries the transaction that introduced it.
fn decode_cursor(conn: &mut PgConnection, c: &str) -> Result<Position, AppError> {
    let bad = || AppError::field("after", "invalid_cursor", "the cursor is not one this feed returned");
    if let Some(p) = Position::decode(c, TAG) {
        return Ok(p);
    }
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c.as_bytes()).map_err(|_| bad())?;
    let seq: i64 = std::str::from_utf8(&raw)
        .ok()
        .and_then(|s| s.strip_prefix('e'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    use crate::db::schema::record_epoch;
    let tx: String =
        record_epoch::table.select(diesel::dsl::sql::<Text>("tx::text")).first(conn).map_err(AppError::from)?;
    Ok(Position { tx: tx.parse().map_err(|_| bad())?, seq })
}

#[derive(QueryableByName)]
struct FeedRow {
    #[diesel(sql_type = BigInt)]
    horizon: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    tx: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    seq: Option<i64>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    occurred_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    resource_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    resource_id: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    changed_fields: Option<Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    data: Option<Value>,
}

/// Which events a read wants.
pub(crate) enum Select {
    /// `type` matches one of these LIKE patterns.
    TypeLike(Vec<String>),
    /// `type` is exactly this (served by the `(type, tx, seq)` index).
    Type(String),
    /// `resource_type` is exactly this (served by `(resource_type, tx, seq)`).
    ResourceType(String),
}

/// Events after `after` that `select` wants, below the horizon, in the order
/// of record; with the horizon of the same snapshot. One statement, so the
/// horizon is the one the rows were read under.
pub(crate) fn read_after(
    conn: &mut PgConnection,
    after: Position,
    select: Select,
    limit: i64,
) -> QueryResult<(Vec<(Position, Event)>, i64)> {
    // `= ($3)[1]` rather than a text parameter keeps one binding type; it
    // is a stable expression, so the index still serves it.
    let (cond, values) = match select {
        Select::TypeLike(p) => ("ev.type LIKE ANY($3)", p),
        Select::Type(t) => ("ev.type = ($3::text[])[1]", vec![t]),
        Select::ResourceType(t) => ("ev.resource_type = ($3::text[])[1]", vec![t]),
    };
    let rows: Vec<FeedRow> = diesel::sql_query(format!(
        "WITH h AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) \
         SELECT {HORIZON_SQL} AS horizon, e.tx, e.seq, e.id, e.kind, e.occurred_at, e.resource_type, \
                e.resource_id, e.changed_fields, e.data \
         FROM h LEFT JOIN LATERAL ( \
           SELECT ev.tx::text::bigint AS tx, ev.seq, ev.id, ev.type AS kind, ev.occurred_at, ev.resource_type, \
                  ev.resource_id, ev.changed_fields, ev.data \
           FROM events ev \
           WHERE (ev.tx, ev.seq) > ($1::text::xid8, $2) AND ev.tx < h.x AND {cond} \
           ORDER BY ev.tx, ev.seq LIMIT $4) e ON true"
    ))
    .bind::<Text, _>(after.tx.to_string())
    .bind::<BigInt, _>(after.seq)
    .bind::<Array<Text>, _>(values)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let horizon = rows.first().map_or(0, |r| r.horizon);
    let events = rows
        .into_iter()
        .filter_map(|r| {
            Some((
                Position { tx: r.tx?, seq: r.seq? },
                Event {
                    id: r.id?,
                    kind: r.kind?,
                    occurred_at: r.occurred_at?,
                    resource_type: r.resource_type?,
                    resource_id: r.resource_id?,
                    changed_fields: r.changed_fields?,
                    data: r.data,
                },
            ))
        })
        .collect();
    Ok((events, horizon))
}

/// Escapes LIKE's wildcards in a literal part of a pattern.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// `GET /v1/events`: the ordered change feed, deletions included, limited to
/// the resources the token may read.
pub fn feed(conn: &mut PgConnection, actor: &Actor, f: EventFilter) -> Result<FeedPage, AppError> {
    let prefixes = readable(actor);
    if prefixes.is_empty() {
        return Err(AppError::Forbidden { scope: "clients:read" });
    }
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::field("limit", "out_of_range", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let after = match &f.after {
        Some(c) => decode_cursor(conn, c)?,
        None => Position::default(),
    };
    // The readable prefixes, narrowed by the requested type or pattern.
    let select = match f.kind.as_deref() {
        None => Some(Select::TypeLike(prefixes.iter().map(|p| format!("{p}.%")).collect())),
        Some(t) => match t.strip_suffix(".*") {
            Some(p) => prefixes.contains(&p).then(|| Select::TypeLike(vec![format!("{}.%", like_literal(p))])),
            None => prefixes.contains(&t.split('.').next().unwrap_or(t)).then(|| Select::Type(t.to_owned())),
        },
    };
    let Some(select) = select else {
        return Ok(FeedPage { data: Vec::new(), next_cursor: cursor(after) });
    };
    let (rows, horizon) = read_after(conn, after, select, limit)?;
    // A short page saw everything below the horizon: resume from there, so a
    // narrow filter does not rescan what it skipped.
    let next = if (rows.len() as i64) < limit {
        after.max(Position::horizon(horizon))
    } else {
        rows.last().map_or(after, |(p, _)| *p)
    };
    Ok(FeedPage { data: rows.into_iter().map(|(_, e)| e).collect(), next_cursor: cursor(next) })
}

/// Deletes events older than `days` (their deliveries go with them), and
/// remembers the newest position deleted: a sync token behind it is expired.
pub fn purge(conn: &mut PgConnection, days: i64) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct Purged {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let purged: Purged = diesel::sql_query(
        "WITH d AS (DELETE FROM events WHERE occurred_at < now() - make_interval(days => $1) RETURNING tx, seq), \
         m AS (SELECT tx, seq FROM d ORDER BY tx DESC, seq DESC LIMIT 1), \
         u AS (UPDATE record_epoch r SET purged_tx = m.tx, purged_seq = m.seq FROM m \
               WHERE r.purged_tx IS NULL OR (m.tx, m.seq) > (r.purged_tx, r.purged_seq) RETURNING 1) \
         SELECT (SELECT count(*) FROM d) AS n",
    )
    .bind::<diesel::sql_types::Integer, _>(days as i32)
    .get_result(conn)?;
    Ok(purged.n as usize)
}

/// The newest position the retention purge deleted, if any.
pub(crate) fn purged_through(conn: &mut PgConnection) -> QueryResult<Option<Position>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<BigInt>)]
        tx: Option<i64>,
        #[diesel(sql_type = Nullable<BigInt>)]
        seq: Option<i64>,
    }
    let r: Row = diesel::sql_query("SELECT purged_tx::text::bigint AS tx, purged_seq AS seq FROM record_epoch")
        .get_result(conn)?;
    Ok(r.tx.zip(r.seq).map(|(tx, seq)| Position { tx, seq }))
}
