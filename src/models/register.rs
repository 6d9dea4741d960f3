//! The `purposes`, `processing_activities` and `retention_policies` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::{processing_activities, purposes, retention_policies};

/// A row of `purposes`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = purposes, check_for_backend(diesel::pg::Pg))]
pub struct Purpose {
    pub key: String,
    pub description: String,
    pub lawful_basis: String,
    pub retention_days: i32,
    pub marketing: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable columns of a purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Insertable, AsChangeset)]
#[diesel(table_name = purposes)]
pub struct PurposeWrite {
    pub key: String,
    pub description: String,
    pub lawful_basis: String,
    pub retention_days: i32,
    pub marketing: bool,
}

/// A row of `processing_activities` (Art. 30).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = processing_activities, check_for_backend(diesel::pg::Pg))]
pub struct Activity {
    pub id: Uuid,
    pub name: String,
    pub purposes: serde_json::Value,
    pub lawful_basis: String,
    pub data_subjects: serde_json::Value,
    pub data_categories: serde_json::Value,
    pub recipients: serde_json::Value,
    pub retention: String,
    pub transfers: String,
    pub security_measures: serde_json::Value,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The writable columns of an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Insertable, AsChangeset)]
#[diesel(table_name = processing_activities)]
pub struct ActivityWrite {
    pub name: String,
    pub purposes: serde_json::Value,
    pub lawful_basis: String,
    pub data_subjects: serde_json::Value,
    pub data_categories: serde_json::Value,
    pub recipients: serde_json::Value,
    pub retention: String,
    pub transfers: String,
    pub security_measures: serde_json::Value,
    pub source: String,
}

/// A row of `retention_policies`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = retention_policies, check_for_backend(diesel::pg::Pg))]
pub struct RetentionPolicy {
    pub status: String,
    pub days: Option<i32>,
    pub basis: String,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}
