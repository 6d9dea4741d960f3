//! The audit trail: every write, request step, export and erasure, in the
//! transaction of the change; field names, never values.
//!
//! Writers append to `audit_pending` in their own transaction and take no
//! lock another writer waits on. The [sealer](super::sealer) moves entries,
//! in the order of record, into `audit_log`, numbering them and chaining
//! each to the previous one by SHA-256, within a second of commit; it signs
//! checkpoints of the head so that someone outside the database can hold it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::sealer::{self, Signer};
use crate::auth::{Actor, Scope};
use crate::db::schema::{audit_checkpoints, audit_head, audit_log, audit_pending};
use crate::error::AppError;
use crate::models::audit::{AuditEntry, Checkpoint};
use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page};

/// What one audit entry records: action, resource type, resource id, field names.
pub type Entry<'a> = (&'a str, &'a str, String, Vec<String>);

/// Appends an entry in the caller's transaction (see [`record_many`]).
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

/// Appends entries in order, in one insert whatever their number. They take
/// the transaction's id and a sequence number by default, which is all the
/// sealer needs to put them in the order of record: no shared row is locked.
pub fn record_many(conn: &mut PgConnection, actor: &Actor, entries: Vec<Entry<'_>>) -> QueryResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let at = Utc::now().trunc_subsecs(6);
    let rows: Vec<_> = entries
        .into_iter()
        .map(|(action, resource_type, resource_id, fields)| {
            (
                audit_pending::id.eq(Uuid::now_v7()),
                audit_pending::at.eq(at),
                audit_pending::actor.eq(actor.sub.clone()),
                audit_pending::action.eq(action.to_owned()),
                audit_pending::resource_type.eq(resource_type.to_owned()),
                audit_pending::resource_id.eq(Some(resource_id)),
                audit_pending::request_id.eq(actor.request_id.clone()),
                audit_pending::fields.eq(serde_json::Value::from(fields)),
            )
        })
        .collect();
    // 8 parameters a row: 5,000 rows stay under Postgres's 65,535.
    for chunk in rows.chunks(5_000) {
        diesel::insert_into(audit_pending::table).values(chunk).execute(conn)?;
    }
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
    /// Position in the chain; null until the entry is sealed (within about a second of commit).
    pub seq: Option<i64>,
    /// False while the entry waits for the sealer.
    pub sealed: bool,
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
    /// Hex SHA-256 of this entry and the previous hash; null until sealed.
    pub hash: Option<String>,
}

impl From<AuditEntry> for AuditOut {
    fn from(e: AuditEntry) -> Self {
        AuditOut {
            id: e.id,
            seq: Some(e.seq),
            sealed: true,
            at: e.at,
            actor: e.actor,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            request_id: e.request_id,
            fields: serde_json::from_value(e.fields).unwrap_or_default(),
            hash: Some(hex::encode(e.hash)),
        }
    }
}

/// An entry waiting for the sealer.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_pending, check_for_backend(diesel::pg::Pg))]
struct Pending {
    id: Uuid,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    request_id: Option<String>,
    fields: serde_json::Value,
}

impl From<Pending> for AuditOut {
    fn from(e: Pending) -> Self {
        AuditOut {
            id: e.id,
            seq: None,
            sealed: false,
            at: e.at,
            actor: e.actor,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            request_id: e.request_id,
            fields: serde_json::from_value(e.fields).unwrap_or_default(),
            hash: None,
        }
    }
}

/// Filters of `GET /v1/audit`.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
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

/// Applies the filters of [`AuditFilter`] to a boxed query on `$table`.
macro_rules! filtered {
    ($q:expr, $table:ident, $f:expr) => {{
        let mut q = $q;
        if let Some(v) = $f.actor.clone() {
            q = q.filter($table::actor.eq(v));
        }
        if let Some(v) = $f.action.clone() {
            q = q.filter($table::action.eq(v));
        }
        if let Some(v) = $f.resource_type.clone() {
            q = q.filter($table::resource_type.eq(v));
        }
        if let Some(v) = $f.resource_id.clone() {
            q = q.filter($table::resource_id.eq(v));
        }
        if let Some(v) = $f.request_id.clone() {
            q = q.filter($table::request_id.eq(v));
        }
        q
    }};
}

/// `GET /v1/audit`: sealed entries in chain order; the last page also lists
/// the entries still waiting for the sealer (`sealed: false`, no `seq`).
/// `next_cursor` only ever moves over sealed entries, so a reader that
/// follows it sees each entry once, in its final place.
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
    let q = audit_log::table.select(AuditEntry::as_select()).filter(audit_log::seq.gt(after)).into_boxed();
    let mut rows: Vec<AuditEntry> = filtered!(q, audit_log, f).order(audit_log::seq).limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(|r| URL_SAFE_NO_PAD.encode(format!("a{}", r.seq)))).flatten();
    let room = limit - rows.len() as i64;
    let mut data: Vec<AuditOut> = rows.into_iter().map(AuditOut::from).collect();
    if !more && room > 0 {
        let q = audit_pending::table.select(Pending::as_select()).into_boxed();
        let pending: Vec<Pending> =
            filtered!(q, audit_pending, f).order((audit_pending::tx, audit_pending::ord)).limit(room).load(conn)?;
        data.extend(pending.into_iter().map(AuditOut::from));
    }
    Ok(Page { data, next_cursor })
}

/// Answer of `GET /v1/audit/verify` and `POST /v1/audit/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut {
    /// True when every sealed entry is intact and chained (and, for a POST,
    /// the chain still extends the checkpoint given).
    pub ok: bool,
    /// Sealed entries checked.
    pub entries: i64,
    /// Entries committed but not sealed yet (sealed within about a second).
    pub unsealed: i64,
    /// Sequence number of the first broken link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<i64>,
    /// What is wrong there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// A checkpoint held outside the database, for `POST /v1/audit/verify`
/// (as `GET /v1/audit/checkpoints` gave it; `at` may be left out).
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct CheckpointInput {
    /// The chain position the checkpoint names.
    #[schema(required, minimum = 1)]
    #[validate(required, range(min = 1))]
    pub seq: Option<i64>,
    /// Hex SHA-256 of the entry at `seq`.
    #[schema(required, min_length = 64, max_length = 64)]
    #[validate(required, length(equal = 64))]
    pub hash: Option<String>,
    /// Base64 Ed25519 signature of `clientele-audit:<seq>:<hash>`; when given, it must be ours.
    pub signature: Option<String>,
    /// Ignored (accepted so that a checkpoint can be sent back as it came).
    pub at: Option<DateTime<Utc>>,
}

/// Walks the sealed chain from the start, in pages of 1,000, and checks it
/// against the head and the newest signed checkpoint; `expect` is a
/// `(seq, hash)` the chain must contain.
fn walk(conn: &mut PgConnection, expect: Option<(i64, Vec<u8>)>) -> QueryResult<VerifyOut> {
    conn.build_transaction().read_only().repeatable_read().run(|conn| {
        let (head_seq, head_hash): (i64, Vec<u8>) =
            audit_head::table.select((audit_head::seq, audit_head::hash)).first(conn)?;
        let unsealed: i64 = audit_pending::table.count().get_result(conn)?;
        let newest: Option<Checkpoint> = audit_checkpoints::table
            .select(Checkpoint::as_select())
            .order(audit_checkpoints::seq.desc())
            .first(conn)
            .optional()?;
        let mut pins: Vec<(i64, Vec<u8>, &'static str)> = Vec::new();
        if let Some(c) = newest {
            pins.push((c.seq, c.hash, "entry differs from the newest signed checkpoint"));
        }
        if let Some((seq, hash)) = expect {
            pins.push((seq, hash, "entry differs from the checkpoint given"));
        }
        let mut expected_seq = 1;
        let mut prev = vec![0u8; 32];
        let broken = |at: i64, reason| VerifyOut {
            ok: false,
            entries: at - 1,
            unsealed,
            broken_at: Some(at),
            reason: Some(reason),
        };
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
                    return Ok(broken(expected_seq, "entry missing"));
                }
                if e.prev_hash != prev {
                    return Ok(broken(e.seq, "previous hash does not match"));
                }
                if e.compute_hash() != e.hash {
                    return Ok(broken(e.seq, "entry altered"));
                }
                if let Some((_, _, reason)) = pins.iter().find(|(s, h, _)| *s == e.seq && *h != e.hash) {
                    return Ok(broken(e.seq, reason));
                }
                prev = e.hash;
                expected_seq += 1;
            }
        }
        let entries = expected_seq - 1;
        if entries != head_seq || (entries > 0 && prev != head_hash) {
            return Ok(broken(entries + 1, "entries missing at the end of the chain"));
        }
        if let Some((seq, _, _)) = pins.iter().find(|(s, _, _)| *s > entries) {
            return Ok(broken(*seq, "the chain no longer reaches this checkpoint"));
        }
        Ok(VerifyOut { ok: true, entries, unsealed, broken_at: None, reason: None })
    })
}

/// `GET /v1/audit/verify`: recomputes the whole sealed chain.
pub fn verify(conn: &mut PgConnection, actor: &Actor) -> Result<VerifyOut, AppError> {
    actor.require(Scope::AuditRead)?;
    Ok(walk(conn, None)?)
}

/// `POST /v1/audit/verify`: recomputes the chain and proves it still
/// extends a checkpoint kept outside the database.
pub fn verify_checkpoint(
    conn: &mut PgConnection,
    actor: &Actor,
    signer: &Signer,
    body: serde_json::Map<String, serde_json::Value>,
) -> Result<VerifyOut, AppError> {
    actor.require(Scope::AuditRead)?;
    let (input, errors) = crate::services::decode::<CheckpointInput>(body);
    errors.finish()?;
    let input = input.ok_or_else(|| AppError::BadRequest("the body is not a checkpoint".into()))?;
    let seq = input.seq.unwrap_or_default();
    let hash = input
        .hash
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .filter(|h| h.len() == 32)
        .ok_or_else(|| AppError::field("hash", "invalid", "hash must be 64 hex digits"))?;
    if let Some(sig) = &input.signature {
        let sig = STANDARD.decode(sig).map_err(|_| AppError::field("signature", "invalid", "not base64"))?;
        if !signer.verifies(seq, &hash, &sig) {
            return Err(AppError::field(
                "signature",
                "invalid_signature",
                "this signature was not made by this service's audit key for this seq and hash",
            ));
        }
    }
    Ok(walk(conn, Some((seq, hash)))?)
}

/// A signed checkpoint as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointOut {
    /// Chain position of the head when signed.
    pub seq: i64,
    /// Hex SHA-256 of the entry at `seq`.
    pub hash: String,
    pub at: DateTime<Utc>,
    /// Base64 Ed25519 signature of the UTF-8 text `clientele-audit:<seq>:<hash>`.
    pub signature: String,
}

impl From<Checkpoint> for CheckpointOut {
    fn from(c: Checkpoint) -> Self {
        CheckpointOut { seq: c.seq, hash: hex::encode(&c.hash), at: c.at, signature: STANDARD.encode(&c.signature) }
    }
}

/// Query of `GET /v1/audit/checkpoints`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
}

/// `GET /v1/audit/checkpoints`, newest first.
pub fn checkpoints(
    conn: &mut PgConnection,
    actor: &Actor,
    f: CheckpointFilter,
) -> Result<Page<CheckpointOut>, AppError> {
    actor.require(Scope::AuditRead)?;
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::field("limit", "out_of_range", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let before = match &f.after {
        Some(c) => super::Position::decode(c, 'k')
            .map(|p| p.seq)
            .ok_or_else(|| AppError::field("after", "invalid_cursor", "the cursor is not one this list returned"))?,
        None => i64::MAX,
    };
    let mut rows: Vec<Checkpoint> = audit_checkpoints::table
        .select(Checkpoint::as_select())
        .filter(audit_checkpoints::seq.lt(before))
        .order(audit_checkpoints::seq.desc())
        .limit(limit + 1)
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(|r| super::Position { tx: 0, seq: r.seq }.encode('k'))).flatten();
    Ok(Page { data: rows.into_iter().map(CheckpointOut::from).collect(), next_cursor })
}

/// Answer of `GET /v1/audit/public-key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeyOut {
    /// Always `Ed25519`.
    pub alg: &'static str,
    /// Base64 of the 32 raw bytes of the public key.
    pub key: String,
}

/// `GET /v1/audit/public-key`.
pub fn public_key(actor: &Actor, signer: &Signer) -> Result<PublicKeyOut, AppError> {
    actor.require(Scope::AuditRead)?;
    Ok(PublicKeyOut { alg: "Ed25519", key: signer.public_b64() })
}

/// The text a checkpoint signs (re-exported for clients' convenience in tests).
pub fn signed_text(seq: i64, hash: &[u8]) -> String {
    sealer::message(seq, hash)
}
