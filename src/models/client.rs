//! The `clients` table: companies.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::clients;

/// A row of `clients`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = clients, check_for_backend(diesel::pg::Pg))]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub siren: Option<String>,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub naf_code: Option<String>,
    pub sector: Option<String>,
    pub employee_count: Option<i32>,
    pub annual_revenue_cents: Option<i64>,
    pub currency: Option<String>,
    pub website: Option<String>,
    pub billing_address: Option<serde_json::Value>,
    pub acquisition_channel: Option<String>,
    pub owner: Option<String>,
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
    /// Stored and swept (`spend_window`): exact as of the last sweep.
    pub spent_last_12m_cents: i64,
}

/// Every writable column of a client: inserted as is, or set whole on update
/// (a merge patch is applied to the current values first).
#[derive(Debug, Clone, PartialEq, Serialize, Insertable, AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub struct ClientWrite {
    pub name: String,
    pub status: String,
    pub siren: Option<String>,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub naf_code: Option<String>,
    pub sector: Option<String>,
    pub employee_count: Option<i32>,
    pub annual_revenue_cents: Option<i64>,
    pub currency: Option<String>,
    pub website: Option<String>,
    pub billing_address: Option<serde_json::Value>,
    pub acquisition_channel: Option<String>,
    pub owner: Option<String>,
    pub tags: serde_json::Value,
    pub custom_fields: serde_json::Value,
}

impl From<&Client> for ClientWrite {
    fn from(c: &Client) -> Self {
        ClientWrite {
            name: c.name.clone(),
            status: c.status.clone(),
            siren: c.siren.clone(),
            siret: c.siret.clone(),
            vat_number: c.vat_number.clone(),
            naf_code: c.naf_code.clone(),
            sector: c.sector.clone(),
            employee_count: c.employee_count,
            annual_revenue_cents: c.annual_revenue_cents,
            currency: c.currency.clone(),
            website: c.website.clone(),
            billing_address: c.billing_address.clone(),
            acquisition_channel: c.acquisition_channel.clone(),
            owner: c.owner.clone(),
            tags: c.tags.clone(),
            custom_fields: c.custom_fields.clone(),
        }
    }
}

/// Loads a client, optionally locking it for update.
pub fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> QueryResult<Option<Client>> {
    let q = clients::table.find(id).select(Client::as_select());
    if lock { q.for_update().first(conn).optional() } else { q.first(conn).optional() }
}
