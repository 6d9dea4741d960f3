//! The order of record: how every service records a change and how readers
//! get changes back in an order that never loses one.
//!
//! A sequence number or a timestamp taken inside a transaction is not an
//! order of record: transactions commit in another order than they number
//! their rows, so a reader that passed position N can later find N-1 commit
//! behind it. Rows that feed readers (events, webhook deliveries, audit
//! entries waiting to be sealed) therefore carry the writing transaction's
//! id (`xid8`, `pg_current_xact_id()`), and readers return only rows whose
//! transaction is below the *horizon* — `pg_snapshot_xmin` of their own
//! snapshot, the oldest transaction still running anywhere — ordered by
//! `(transaction id, sequence)`. Every transaction below the horizon has
//! ended, and every transaction that ends later has an id at or above it, so
//! nothing can ever commit behind a position a reader was given.
//!
//! Why this and not one sequencer renumbering rows after commit: it needs no
//! background job on the read path (a row is readable as soon as older
//! transactions end, typically milliseconds), no second write per row, and it
//! holds across replicas for free, since they share one transaction counter.
//! Its cost: one long transaction holds the horizon back for every reader,
//! so connections bound idle transactions (`idle_in_transaction_session_timeout`)
//! and `/metrics` exposes the lag (`record_horizon_lag_seconds`).
//!
//! - [`events`]: the outbox and the feed (`GET /v1/events`), webhook fan-out.
//! - [`audit`]: audit entries, appended with no shared lock; listing, verification.
//! - [`sealer`]: chains pending audit entries in the order of record and signs checkpoints.
//! - [`sync`]: delta sync tokens (`GET /v1/sync/...`) read back from the events.

pub mod audit;
pub mod events;
pub mod sealer;
pub mod sync;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::Value;

use crate::auth::Actor;

pub use events::{Change, Event};

/// A place in the order of record: the writing transaction's id and the
/// row's sequence number. `(tx, 0)` means "every transaction below `tx`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// `xid8` of the transaction (fits an i64 for the next billions of years of epochs).
    pub tx: i64,
    /// Sequence number within the order of record.
    pub seq: i64,
}

impl Position {
    /// The position before everything below the horizon `h`.
    pub fn horizon(h: i64) -> Position {
        Position { tx: h, seq: 0 }
    }

    /// Opaque text form with a one-letter tag saying what it is for.
    pub fn encode(&self, tag: char) -> String {
        URL_SAFE_NO_PAD.encode(format!("{tag}{}.{}", self.tx, self.seq))
    }

    /// Reads [`Position::encode`]'s form back; `None` when it is not one with this tag.
    pub fn decode(s: &str, tag: char) -> Option<Position> {
        let raw = URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let (tx, seq) = raw.strip_prefix(tag)?.split_once('.')?;
        let (tx, seq) = (tx.parse().ok()?, seq.parse().ok()?);
        (tx >= 0 && seq >= 0).then_some(Position { tx, seq })
    }
}

#[derive(QueryableByName)]
struct Horizon {
    #[diesel(sql_type = BigInt)]
    h: i64,
}

/// SQL for the horizon of the statement's snapshot, as a bigint.
pub const HORIZON_SQL: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// The horizon now: every transaction with a lower id has ended.
pub fn horizon(conn: &mut PgConnection) -> QueryResult<i64> {
    Ok(diesel::sql_query(format!("SELECT {HORIZON_SQL} AS h")).get_result::<Horizon>(conn)?.h)
}

/// Records a change: its event (and webhook deliveries) and its audit entry,
/// in the caller's transaction. Neither takes a lock another writer waits on.
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

/// Records changes in one statement whatever their number: their events,
/// the deliveries of matching webhooks and their audit entries, in order.
/// One round trip and one plan per audited write, instead of three.
pub fn change_many(conn: &mut PgConnection, actor: &Actor, changes: Vec<Change>) -> QueryResult<()> {
    use diesel::sql_types::{Array, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    if changes.is_empty() {
        return Ok(());
    }
    let n = changes.len();
    let (mut event_ids, mut audit_ids) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut kinds, mut types, mut ids) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut fields, mut data) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for c in changes {
        event_ids.push(uuid::Uuid::now_v7());
        audit_ids.push(uuid::Uuid::now_v7());
        kinds.push(c.kind);
        types.push(c.resource_type);
        ids.push(c.resource_id);
        fields.push(Value::from(c.fields));
        data.push(c.data);
    }
    flag_sensitive(conn, &types, &ids, &data)?;
    let at = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    diesel::sql_query(format!(
        "WITH input AS ( \
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[]) \
             WITH ORDINALITY AS i(event_id, audit_id, kind, resource_type, resource_id, fields, data, n)), \
         ev AS ( \
           INSERT INTO events (id, type, resource_type, resource_id, changed_fields, data) \
           SELECT event_id, kind, resource_type, resource_id, fields, data FROM input ORDER BY n \
           RETURNING id, seq, type, resource_id), \
         dl AS ( \
           INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_seq) \
           SELECT gen_random_uuid(), w.id, e.id, e.seq FROM ev e JOIN webhooks w ON {} ORDER BY e.seq), \
         au AS ( \
           INSERT INTO audit_pending (id, at, actor, action, resource_type, resource_id, request_id, fields) \
           SELECT audit_id, $8, $9, kind, resource_type, resource_id, $10, fields FROM input ORDER BY n) \
         SELECT count(*) AS n FROM ev",
        events::SUBSCRIBED
    ))
    .bind::<Array<SqlUuid>, _>(&event_ids)
    .bind::<Array<SqlUuid>, _>(&audit_ids)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Text>, _>(&types)
    .bind::<Array<Text>, _>(&ids)
    .bind::<Array<Jsonb>, _>(&fields)
    .bind::<Array<Nullable<Jsonb>>, _>(&data)
    .bind::<Timestamptz, _>(at)
    .bind::<Text, _>(&actor.sub)
    .bind::<Nullable<Text>, _>(&actor.request_id)
    .get_result::<crate::db::Count>(conn)?;
    Ok(())
}

/// [`flag_sensitive`] for one resource written without an event (an interaction).
pub fn flag_doc(conn: &mut PgConnection, resource_type: &str, id: uuid::Uuid, doc: Value) -> QueryResult<()> {
    flag_sensitive(conn, &[resource_type.to_owned()], &[id.to_string()], &[Some(doc)])
}

/// Under `CLIENTELE_SENSITIVE_TEXT=flag`: flags the special-category free
/// text of the written resources for review (field and category, never the
/// text), in the writer's transaction. Every write of every path (REST,
/// GraphQL, batches) passes here with the resource as the API returns it.
fn flag_sensitive(
    conn: &mut PgConnection,
    types: &[String],
    ids: &[String],
    data: &[Option<Value>],
) -> QueryResult<()> {
    use crate::services::sensitive;
    use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
    if sensitive::mode() != sensitive::Mode::Flag {
        return Ok(());
    }
    let (mut rid, mut rtype, mut field, mut category) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((t, id), d) in types.iter().zip(ids).zip(data) {
        let (Some(d), Ok(id)) = (d, uuid::Uuid::parse_str(id)) else { continue };
        if !matches!(t.as_str(), "client" | "contact" | "interaction" | "order") {
            continue;
        }
        for (f, c) in sensitive::hits(t, d) {
            rid.push(id);
            rtype.push(t.clone());
            field.push(f);
            category.push(c.as_str().to_owned());
        }
    }
    if rid.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "INSERT INTO sensitive_flags (id, resource_type, resource_id, field, category, lexicon_version) \
         SELECT gen_random_uuid(), t, id, f, c, $5 FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) AS x(t, id, f, c)",
    )
    .bind::<Array<Text>, _>(&rtype)
    .bind::<Array<SqlUuid>, _>(&rid)
    .bind::<Array<Text>, _>(&field)
    .bind::<Array<Text>, _>(&category)
    .bind::<Text, _>(sensitive::version())
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_order_by_transaction_first() {
        let p = Position { tx: 812_345, seq: 17 };
        assert_eq!(Position::decode(&p.encode('e'), 'e'), Some(p));
        assert_eq!(Position::decode(&p.encode('e'), 's'), None);
        for bad in ["", "!!", &URL_SAFE_NO_PAD.encode("e1"), &URL_SAFE_NO_PAD.encode("e-1.2")] {
            assert_eq!(Position::decode(bad, 'e'), None, "{bad}");
        }
        assert!(Position { tx: 2, seq: 1 } > Position { tx: 1, seq: 99 });
        assert!(Position::horizon(5) < Position { tx: 5, seq: 1 });
    }
}
