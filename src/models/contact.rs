//! The `contacts` table: people.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::contacts;

/// A row of `contacts`.
#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
pub struct Contact {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub status: String,
    pub source: Option<String>,
    pub lawful_basis: String,
    pub restricted: bool,
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub tags: serde_json::Value,
    pub custom_fields: serde_json::Value,
    pub orders_count: i64,
    pub total_spent_cents: i64,
    pub first_order_at: Option<DateTime<Utc>>,
    pub last_order_at: Option<DateTime<Utc>>,
    pub last_order_total_cents: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub audience: String,
    pub provenance: Option<serde_json::Value>,
    pub art14_notice_due_at: Option<DateTime<Utc>>,
    pub art14_notice_sent_at: Option<DateTime<Utc>>,
    /// Stored and swept (`spend_window`): exact as of the last sweep.
    pub spent_last_12m_cents: i64,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contact").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Every writable column of a contact.
#[derive(Clone, PartialEq, Serialize, Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct ContactWrite {
    pub client_id: Option<Uuid>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub status: String,
    pub source: Option<String>,
    pub lawful_basis: String,
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub tags: serde_json::Value,
    pub custom_fields: serde_json::Value,
    pub audience: String,
    pub provenance: Option<serde_json::Value>,
    pub art14_notice_due_at: Option<DateTime<Utc>>,
}

impl From<&Contact> for ContactWrite {
    fn from(c: &Contact) -> Self {
        ContactWrite {
            client_id: c.client_id,
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            job_title: c.job_title.clone(),
            birth_date: c.birth_date,
            status: c.status.clone(),
            source: c.source.clone(),
            lawful_basis: c.lawful_basis.clone(),
            last_interaction_at: c.last_interaction_at,
            tags: c.tags.clone(),
            custom_fields: c.custom_fields.clone(),
            audience: c.audience.clone(),
            provenance: c.provenance.clone(),
            art14_notice_due_at: c.art14_notice_due_at,
        }
    }
}

/// Loads a contact, optionally locking it for update.
pub fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> QueryResult<Option<Contact>> {
    let q = contacts::table.find(id).select(Contact::as_select());
    if lock { q.for_update().first(conn).optional() } else { q.first(conn).optional() }
}

/// True when the contact exists (an index probe: no row is sent back).
pub fn exists(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(contacts::table.find(id))).get_result(conn)
}

/// Finds a contact by email, case-insensitively, optionally locking it for update.
pub fn find_by_email(conn: &mut PgConnection, email: &str, lock: bool) -> QueryResult<Option<Contact>> {
    let q = contacts::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(email)
                .sql(")"),
        )
        .select(Contact::as_select());
    if lock { q.for_update().first(conn).optional() } else { q.first(conn).optional() }
}
