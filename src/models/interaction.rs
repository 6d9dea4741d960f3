//! The `interactions` table: calls, emails, meetings and notes with a contact.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::interactions;

/// A row of `interactions`.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = interactions, check_for_backend(diesel::pg::Pg))]
pub struct Interaction {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub kind: String,
    pub direction: String,
    pub occurred_at: DateTime<Utc>,
    pub summary: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}
