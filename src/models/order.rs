//! The `orders` and `order_lines` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::{order_lines, orders};

/// A row of `orders`.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct Order {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub number: Option<String>,
    pub status: String,
    pub currency: String,
    pub total_cents: i64,
    pub ordered_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// Every writable column of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Insertable, AsChangeset)]
#[diesel(table_name = orders, treat_none_as_null = true)]
pub struct OrderWrite {
    pub client_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub number: Option<String>,
    pub status: String,
    pub currency: String,
    pub total_cents: i64,
    pub ordered_at: DateTime<Utc>,
}

impl From<&Order> for OrderWrite {
    fn from(o: &Order) -> Self {
        OrderWrite {
            client_id: o.client_id,
            contact_id: o.contact_id,
            source: o.source.clone(),
            external_id: o.external_id.clone(),
            number: o.number.clone(),
            status: o.status.clone(),
            currency: o.currency.clone(),
            total_cents: o.total_cents,
            ordered_at: o.ordered_at,
        }
    }
}

/// A row of `order_lines`.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_lines, check_for_backend(diesel::pg::Pg))]
pub struct OrderLine {
    #[serde(skip)]
    pub order_id: Uuid,
    #[serde(skip)]
    pub position: i32,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

/// Loads an order, optionally locking it.
pub fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> QueryResult<Option<Order>> {
    let q = orders::table.find(id).select(Order::as_select());
    if lock { q.for_update().first(conn).optional() } else { q.first(conn).optional() }
}

/// Loads an order by its source and external id, without locking it (order
/// writes lock it after its owners: see `services::orders::owners`).
pub fn find_external(conn: &mut PgConnection, source: &str, external_id: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::source.eq(source).and(orders::external_id.eq(external_id)))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// The lines of several orders, in one query, grouped by order in input order.
pub fn lines_of(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<OrderLine>> {
    order_lines::table
        .filter(order_lines::order_id.eq_any(ids))
        .order((order_lines::order_id, order_lines::position))
        .select(OrderLine::as_select())
        .load(conn)
}

/// Deletes the lines of the `changed` orders and inserts `lines` (those of
/// the changed orders and of new ones): two statements for any number.
pub fn replace_lines(conn: &mut PgConnection, changed: &[Uuid], lines: &[OrderLine]) -> QueryResult<()> {
    if !changed.is_empty() {
        diesel::delete(order_lines::table.filter(order_lines::order_id.eq_any(changed))).execute(conn)?;
    }
    // 6 parameters a row: 10,000 rows stay under Postgres's 65,535.
    for chunk in lines.chunks(10_000) {
        diesel::insert_into(order_lines::table).values(chunk).execute(conn)?;
    }
    Ok(())
}
