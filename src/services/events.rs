//! The transactional outbox: every write emits an event in the transaction of
//! the change, fanned out at once to the deliveries of matching webhooks, so
//! a rolled-back change emits nothing and a committed one is never lost.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::audit;
use crate::auth::{Actor, Scope};
use crate::db::schema::events;
use crate::error::AppError;
use crate::http::pagination::{DEFAULT_LIMIT, MAX_LIMIT};

/// An event as the feed and webhooks carry it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct Event {
    #[serde(skip)]
    pub seq: i64,
    pub id: Uuid,
    /// `<resource>.<action>`: `contact.created`, `order.updated`, `consent.withdrawn`, `dsar.completed`, `contact.erased`...
    #[serde(rename = "type")]
    #[diesel(column_name = type_)]
    pub kind: String,
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

/// Records a change: the audit entry and the event, in the caller's transaction.
pub fn change(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    resource_type: &str,
    resource_id: impl ToString,
    fields: Vec<String>,
    data: Option<Value>,
) -> QueryResult<()> {
    let change = Change {
        kind: action.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_id: resource_id.to_string(),
        fields,
        data,
    };
    change_many(conn, actor, vec![change])
}

/// Records changes: their events first, then their audit entries, which lock
/// the chain head until commit (see [`audit::record_many`]).
pub fn change_many(conn: &mut PgConnection, actor: &Actor, changes: Vec<Change>) -> QueryResult<()> {
    emit_many(conn, &changes)?;
    audit::record_many(
        conn,
        actor,
        changes
            .iter()
            .map(|c| (c.kind.as_str(), c.resource_type.as_str(), c.resource_id.clone(), c.fields.clone()))
            .collect(),
    )
}

/// Emits an event and queues its deliveries to matching enabled webhooks
/// (and, for `dsar.*` events, to the request's status callback).
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

/// Emits events in one insert and queues their deliveries in one more.
fn emit_many(conn: &mut PgConnection, changes: &[Change]) -> QueryResult<()> {
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
    diesel::sql_query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_seq) \
         SELECT gen_random_uuid(), w.id, e.id, e.seq \
         FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[]) AS e(id, seq, kind, resource_id) \
         JOIN webhooks w ON w.enabled AND ( \
           (w.dsar_id IS NULL AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(w.events) p \
              WHERE p = '*' OR p = e.kind OR (right(p, 2) = '.*' AND left(p, -2) = split_part(e.kind, '.', 1)))) \
           OR (w.dsar_id::text = e.resource_id AND e.kind LIKE 'dsar.%')) \
         ORDER BY e.seq",
    )
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
    pub next_cursor: String,
}

fn cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("e{seq}"))
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
    let bad = || AppError::field("after", "invalid_cursor", "the cursor is not one this feed returned");
    let after = match &f.after {
        Some(c) => {
            let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
            std::str::from_utf8(&raw)
                .ok()
                .and_then(|s| s.strip_prefix('e'))
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?
        }
        None => 0i64,
    };
    let mut q = events::table.select(Event::as_select()).filter(events::seq.gt(after)).into_boxed();
    let allowed: Vec<String> = prefixes.iter().map(|p| format!("{p}.%")).collect();
    q = q.filter(
        diesel::dsl::sql::<diesel::sql_types::Bool>("type LIKE ANY(")
            .bind::<diesel::sql_types::Array<Text>, _>(allowed)
            .sql(")"),
    );
    if let Some(t) = f.kind {
        q = match t.strip_suffix(".*") {
            Some(prefix) => q.filter(events::type_.like(format!("{}.%", prefix.replace(['%', '_'], "")))),
            None => q.filter(events::type_.eq(t)),
        };
    }
    let rows: Vec<Event> = q.order(events::seq).limit(limit).load(conn)?;
    let next = rows.last().map_or(after, |e| e.seq);
    Ok(FeedPage { data: rows, next_cursor: cursor(next) })
}

/// Deletes events older than `days` (their deliveries go with them).
pub fn purge(conn: &mut PgConnection, days: i64) -> QueryResult<usize> {
    diesel::delete(
        events::table.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("occurred_at < now() - make_interval(days => ")
                .bind::<diesel::sql_types::Integer, _>(days as i32)
                .sql(")"),
        ),
    )
    .execute(conn)
}
