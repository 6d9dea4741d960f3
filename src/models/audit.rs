//! The sealed `audit_log` table and its signed checkpoints.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{audit_checkpoints, audit_log};

/// One audit entry.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    pub fields: serde_json::Value,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditEntry {
    /// SHA-256 over the previous hash and every field of the entry, each
    /// length-prefixed so no two entries serialise alike.
    pub fn compute_hash(&self) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(&self.prev_hash);
        h.update(self.seq.to_be_bytes());
        h.update(self.id.as_bytes());
        h.update(self.at.timestamp_micros().to_be_bytes());
        let fields = self.fields.to_string();
        for part in [
            self.actor.as_str(),
            self.action.as_str(),
            self.resource_type.as_str(),
            self.resource_id.as_deref().unwrap_or("\u{0}"),
            self.request_id.as_deref().unwrap_or("\u{0}"),
            fields.as_str(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().to_vec()
    }
}

/// A signed checkpoint of the chain head.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints, check_for_backend(diesel::pg::Pg))]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub at: DateTime<Utc>,
    pub signature: Vec<u8>,
}
