//! The audit sealer: one at a time across every replica (a transaction-scoped
//! advisory lock), it takes the pending entries below the horizon in the
//! order of record, numbers them, chains each to the previous by SHA-256,
//! moves them into `audit_log` and advances the head, all in one transaction.
//! Now and then it signs the head with Ed25519 (a checkpoint, also emitted as
//! an `audit.checkpoint` event), so that someone outside the database can
//! hold the head and later prove that the trail still extends it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::HORIZON_SQL;
use crate::db::schema::{audit_checkpoints, audit_head, audit_log};
use crate::models::audit::{AuditEntry, Checkpoint};

/// Advisory lock key of the sealer ("audit").
const SEALER_LOCK_KEY: i64 = 0x61_7564_6974;
/// Entries sealed per transaction at most.
pub const BATCH: i64 = 5_000;

/// The Ed25519 key that signs checkpoints. `Debug` never shows it.
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(public {})", self.public_b64())
    }
}

impl Signer {
    /// From `CLIENTELE_AUDIT_SIGNING_KEY`: standard base64 of a 32-byte seed.
    pub fn from_base64_seed(s: &str) -> Result<Signer, String> {
        let raw = STANDARD.decode(s.trim()).map_err(|_| "is not standard base64".to_owned())?;
        let seed: [u8; 32] = raw.try_into().map_err(|_| "must decode to exactly 32 bytes".to_owned())?;
        Ok(Signer { key: SigningKey::from_bytes(&seed) })
    }

    /// A key derived from another secret (`--dev` only: the JWT secret).
    pub fn derived_from(secret: &[u8]) -> Signer {
        let mut h = Sha256::new();
        h.update(b"clientele-audit-signing-key\0");
        h.update(secret);
        Signer { key: SigningKey::from_bytes(&h.finalize().into()) }
    }

    /// A random key (development without any configured secret).
    pub fn random() -> Signer {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        Signer { key: SigningKey::from_bytes(&seed) }
    }

    /// Base64 of the 32 raw bytes of the public key.
    pub fn public_b64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    /// Signs the checkpoint `(seq, hash)`.
    pub fn sign(&self, seq: i64, hash: &[u8]) -> Vec<u8> {
        self.key.sign(message(seq, hash).as_bytes()).to_bytes().to_vec()
    }

    /// True when `sig` is this key's signature of `(seq, hash)`.
    pub fn verifies(&self, seq: i64, hash: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else { return false };
        self.key.verifying_key().verify(message(seq, hash).as_bytes(), &sig).is_ok()
    }
}

/// The UTF-8 text a checkpoint signs: `clientele-audit:<seq>:<hex hash>`.
pub fn message(seq: i64, hash: &[u8]) -> String {
    format!("clientele-audit:{seq}:{}", hex::encode(hash))
}

#[derive(QueryableByName)]
struct PendingRow {
    #[diesel(sql_type = BigInt)]
    tx: i64,
    #[diesel(sql_type = BigInt)]
    ord: i64,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    resource_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    resource_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = Jsonb)]
    fields: serde_json::Value,
}

/// What one [`seal`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// Entries sealed.
    pub entries: usize,
    /// The seq of the checkpoint signed, if one was.
    pub checkpoint: Option<i64>,
    /// False when another sealer held the lock (nothing was done).
    pub ran: bool,
}

/// Seals up to [`BATCH`] pending entries in one transaction, and signs a
/// checkpoint when entries were sealed and the newest checkpoint is older
/// than `checkpoint_every` (or there is none). Does nothing while another
/// sealer holds the lock.
pub fn seal(conn: &mut PgConnection, signer: &Signer, checkpoint_every: Duration) -> QueryResult<Sealed> {
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Got {
            #[diesel(sql_type = Bool)]
            got: bool,
        }
        let got: Got = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS got")
            .bind::<BigInt, _>(SEALER_LOCK_KEY)
            .get_result(conn)?;
        if !got.got {
            return Ok(Sealed::default());
        }
        let (mut seq, mut prev): (i64, Vec<u8>) =
            audit_head::table.select((audit_head::seq, audit_head::hash)).for_update().first(conn)?;
        let pending: Vec<PendingRow> = diesel::sql_query(
            "SELECT tx::text::bigint AS tx, ord, id, at, actor, action, resource_type, resource_id, request_id, fields \
             FROM audit_pending WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx, ord LIMIT $1",
        )
        .bind::<BigInt, _>(BATCH)
        .load(conn)?;
        let Some(last) = pending.last().map(|p| (p.tx, p.ord)) else {
            return Ok(Sealed { ran: true, ..Sealed::default() });
        };
        let mut rows = Vec::with_capacity(pending.len());
        for p in pending {
            seq += 1;
            let mut entry = AuditEntry {
                seq,
                id: p.id,
                at: p.at,
                actor: p.actor,
                action: p.action,
                resource_type: p.resource_type,
                resource_id: p.resource_id,
                request_id: p.request_id,
                fields: p.fields,
                prev_hash: prev,
                hash: Vec::new(),
            };
            entry.hash = entry.compute_hash();
            prev = entry.hash.clone();
            rows.push(entry);
        }
        // 11 parameters a row.
        for chunk in rows.chunks(5_000) {
            diesel::insert_into(audit_log::table).values(chunk).execute(conn)?;
        }
        // Everything at or before `last` below the horizon was just read:
        // nothing else can sort there (see `crate::record`).
        diesel::sql_query("DELETE FROM audit_pending WHERE (tx, ord) <= ($1::text::xid8, $2)")
            .bind::<Text, _>(last.0.to_string())
            .bind::<BigInt, _>(last.1)
            .execute(conn)?;
        diesel::update(audit_head::table).set((audit_head::seq.eq(seq), audit_head::hash.eq(&prev))).execute(conn)?;
        let newest: Option<DateTime<Utc>> =
            audit_checkpoints::table.select(diesel::dsl::max(audit_checkpoints::at)).first(conn)?;
        let now = Utc::now().trunc_subsecs(6);
        let due = newest.is_none_or(|at| (now - at).to_std().unwrap_or_default() >= checkpoint_every);
        let checkpoint = if due {
            let c = Checkpoint { seq, hash: prev.clone(), at: now, signature: signer.sign(seq, &prev) };
            diesel::insert_into(audit_checkpoints::table).values(&c).execute(conn)?;
            let data = serde_json::to_value(super::audit::CheckpointOut::from(c)).unwrap_or_default();
            super::events::emit(conn, "audit.checkpoint", "audit", &seq.to_string(), vec![], Some(data))?;
            Some(seq)
        } else {
            None
        };
        Ok(Sealed { entries: rows.len(), checkpoint, ran: true })
    })
}

/// Seals until nothing below the horizon is left (or another sealer runs).
pub fn seal_all(conn: &mut PgConnection, signer: &Signer, checkpoint_every: Duration) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let s = seal(conn, signer, checkpoint_every)?;
        total += s.entries;
        if !s.ran || (s.entries as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// How far the order of record lags, for `/metrics`.
#[derive(Debug, Default, Clone, Copy, QueryableByName)]
pub struct Lag {
    /// Age of the oldest transaction still running that holds the horizon back.
    #[diesel(sql_type = Double)]
    pub horizon_seconds: f64,
    /// Entries waiting for the sealer.
    #[diesel(sql_type = BigInt)]
    pub unsealed: i64,
    /// Age of the oldest entry waiting for the sealer.
    #[diesel(sql_type = Double)]
    pub seal_seconds: f64,
    /// The horizon itself.
    #[diesel(sql_type = BigInt)]
    pub horizon: i64,
}

/// Reads the lags in one statement.
pub fn lag(conn: &mut PgConnection) -> QueryResult<Lag> {
    diesel::sql_query(format!(
        "SELECT coalesce((SELECT extract(epoch FROM clock_timestamp() - min(xact_start)) FROM pg_stat_activity \
                          WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()), 0)::float8 AS horizon_seconds, \
                (SELECT count(*) FROM audit_pending) AS unsealed, \
                coalesce((SELECT extract(epoch FROM clock_timestamp() - min(at)) FROM audit_pending), 0)::float8 \
                  AS seal_seconds, \
                {HORIZON_SQL} AS horizon"
    ))
    .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_seq_and_hash() {
        let s = Signer::derived_from(b"a secret of some length, at least 32 bytes");
        let hash = [7u8; 32];
        let sig = s.sign(12, &hash);
        assert!(s.verifies(12, &hash, &sig));
        assert!(!s.verifies(13, &hash, &sig));
        assert!(!s.verifies(12, &[8u8; 32], &sig));
        assert!(!s.verifies(12, &hash, &sig[1..]));
        assert_eq!(message(1, &[0xab; 2]), "clientele-audit:1:abab");
        let seeded = Signer::from_base64_seed(&STANDARD.encode([1u8; 32])).unwrap();
        assert_ne!(seeded.public_b64(), s.public_b64());
        assert!(Signer::from_base64_seed("c2hvcnQ=").is_err());
        assert!(!format!("{s:?}").contains(&STANDARD.encode(s.key.to_bytes())));
    }
}
