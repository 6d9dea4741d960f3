//! The `dsar_requests` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::dsar_requests;

/// A row of `dsar_requests`.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dsar_requests, check_for_backend(diesel::pg::Pg))]
pub struct DsarRow {
    pub id: Uuid,
    #[diesel(column_name = type_)]
    pub kind: String,
    pub status: String,
    pub subject_email: Option<String>,
    pub subject_contact_id: Option<Uuid>,
    pub subject_hmac: Option<Vec<u8>>,
    pub changes: Option<serde_json::Value>,
    pub requested_by: Option<String>,
    pub note: Option<String>,
    pub requester: String,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub extended: bool,
    pub extension_reason: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub external_id: Option<String>,
    /// How identity was established (`email_link`, `partner`, `controller`,
    /// `legacy`); `None` while unverified.
    pub verification: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verify_nonce: Option<Vec<u8>>,
    pub verify_token_hash: Option<Vec<u8>>,
    pub verify_expires_at: Option<DateTime<Utc>>,
    pub verify_contact_id: Option<Uuid>,
    pub verify_mail: Option<String>,
    pub verify_mail_attempts: i32,
    pub verify_mail_next_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for DsarRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DsarRow").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// Loads a request, optionally locking it.
pub fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> QueryResult<Option<DsarRow>> {
    let q = dsar_requests::table.find(id).select(DsarRow::as_select());
    if lock { q.for_update().first(conn).optional() } else { q.first(conn).optional() }
}
