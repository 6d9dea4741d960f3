//! The audit trail: every write, request step, export and erasure, in the
//! transaction of the change; field names, never values; each entry chained
//! to the previous one by SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Actor, Scope};
use crate::db::schema::{audit_head, audit_log};
use crate::error::AppError;
use crate::http::pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use crate::models::audit::AuditEntry;

/// What one audit entry records: action, resource type, resource id, field names.
pub type Entry<'a> = (&'a str, &'a str, String, Vec<String>);

/// Appends an entry. Must run inside the transaction of the change: it locks
/// the chain head until commit, so entries chain in commit order.
pub fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    resource_type: &str,
    resource_id: impl ToString,
    fields: Vec<String>,
) -> QueryResult<()> {
    record_many(conn, actor, vec![(action, resource_type, resource_id.to_string(), fields)])
}

/// Appends entries in order: one lock of the chain head, one insert, one
/// head update, whatever their number. Callers append last in their
/// transaction, so the head (which serialises every write) is held only for
/// these three statements and the commit.
pub fn record_many(conn: &mut PgConnection, actor: &Actor, entries: Vec<Entry<'_>>) -> QueryResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev): (i64, Vec<u8>) =
        audit_head::table.select((audit_head::seq, audit_head::hash)).for_update().first(conn)?;
    let at = Utc::now().trunc_subsecs(6);
    let mut rows = Vec::with_capacity(entries.len());
    for (action, resource_type, resource_id, fields) in entries {
        seq += 1;
        let mut entry = AuditEntry {
            seq,
            id: Uuid::now_v7(),
            at,
            actor: actor.sub.clone(),
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: Some(resource_id),
            request_id: actor.request_id.clone(),
            fields: serde_json::Value::from(fields),
            prev_hash: prev,
            hash: Vec::new(),
        };
        entry.hash = entry.compute_hash();
        prev = entry.hash.clone();
        rows.push(entry);
    }
    // 11 parameters a row: 5,000 rows stay under Postgres's 65,535.
    for chunk in rows.chunks(5_000) {
        diesel::insert_into(audit_log::table).values(chunk).execute(conn)?;
    }
    diesel::update(audit_head::table).set((audit_head::seq.eq(seq), audit_head::hash.eq(&prev))).execute(conn)?;
    Ok(())
}

/// Names of the non-null top-level fields of a document (what a create set).
pub fn set_fields(doc: &serde_json::Value) -> Vec<String> {
    doc.as_object()
        .map(|m| m.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k.clone()).collect())
        .unwrap_or_default()
}

/// An audit entry as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: Uuid,
    /// Position in the chain.
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The token `sub` that acted.
    pub actor: String,
    /// E.g. `contact.updated`, `dsar.completed`, `contact.erased`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    /// Names of the fields changed, never their values.
    pub fields: Vec<String>,
    /// Hex SHA-256 of this entry and the previous hash.
    pub hash: String,
}

impl From<AuditEntry> for AuditOut {
    fn from(e: AuditEntry) -> Self {
        AuditOut {
            id: e.id,
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            request_id: e.request_id,
            fields: serde_json::from_value(e.fields).unwrap_or_default(),
            hash: hex::encode(e.hash),
        }
    }
}

/// Filters of `GET /v1/audit`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
}

/// `GET /v1/audit`, oldest first.
pub fn list(conn: &mut PgConnection, actor: &Actor, f: AuditFilter) -> Result<Page<AuditOut>, AppError> {
    actor.require(Scope::AuditRead)?;
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::field("limit", "out_of_range", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let bad = || AppError::field("after", "invalid_cursor", "the cursor is not one this list returned");
    let after: i64 = match &f.after {
        Some(c) => {
            let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
            std::str::from_utf8(&raw)
                .ok()
                .and_then(|s| s.strip_prefix('a'))
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?
        }
        None => 0,
    };
    let mut q = audit_log::table.select(AuditEntry::as_select()).filter(audit_log::seq.gt(after)).into_boxed();
    if let Some(v) = f.actor {
        q = q.filter(audit_log::actor.eq(v));
    }
    if let Some(v) = f.action {
        q = q.filter(audit_log::action.eq(v));
    }
    if let Some(v) = f.resource_type {
        q = q.filter(audit_log::resource_type.eq(v));
    }
    if let Some(v) = f.resource_id {
        q = q.filter(audit_log::resource_id.eq(v));
    }
    if let Some(v) = f.request_id {
        q = q.filter(audit_log::request_id.eq(v));
    }
    let mut rows: Vec<AuditEntry> = q.order(audit_log::seq).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(|r| URL_SAFE_NO_PAD.encode(format!("a{}", r.seq)))).flatten();
    Ok(Page { data: rows.into_iter().map(AuditOut::from).collect(), next_cursor })
}

/// Answer of `GET /v1/audit/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut {
    /// True when every entry is intact and chained.
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// Sequence number of the first broken link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<i64>,
    /// What is wrong there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// `GET /v1/audit/verify`: recomputes the whole chain, in pages of 1,000.
pub fn verify(conn: &mut PgConnection, actor: &Actor) -> Result<VerifyOut, AppError> {
    actor.require(Scope::AuditRead)?;
    conn.build_transaction().read_only().repeatable_read().run(|conn| {
        let (head_seq, head_hash): (i64, Vec<u8>) =
            audit_head::table.select((audit_head::seq, audit_head::hash)).first(conn)?;
        let mut expected_seq = 1;
        let mut prev = vec![0u8; 32];
        let broken =
            |at: i64, reason| Ok(VerifyOut { ok: false, entries: at - 1, broken_at: Some(at), reason: Some(reason) });
        loop {
            let rows: Vec<AuditEntry> = audit_log::table
                .select(AuditEntry::as_select())
                .filter(audit_log::seq.ge(expected_seq))
                .order(audit_log::seq)
                .limit(1000)
                .load(conn)?;
            if rows.is_empty() {
                break;
            }
            for e in rows {
                if e.seq != expected_seq {
                    return broken(expected_seq, "entry missing");
                }
                if e.prev_hash != prev {
                    return broken(e.seq, "previous hash does not match");
                }
                if e.compute_hash() != e.hash {
                    return broken(e.seq, "entry altered");
                }
                prev = e.hash;
                expected_seq += 1;
            }
        }
        let entries = expected_seq - 1;
        if entries != head_seq || (entries > 0 && prev != head_hash) {
            return broken(entries + 1, "entries missing at the end of the chain");
        }
        Ok(VerifyOut { ok: true, entries, broken_at: None, reason: None })
    })
}
