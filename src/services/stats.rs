//! Sales statistics of clients and contacts (`stats` in API.md §4).
//!
//! Counted orders are those whose status is a sale (`pending`, `paid`,
//! `fulfilled`); cancelled and refunded orders do not count. Amounts are
//! summed in minor units whatever the currency. The lifetime figures are
//! stored on the client or contact row and refreshed in the transaction of
//! every order write; `spent_last_12m_cents` moves with the clock, so it is
//! computed when read, one grouped query per page.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// SQL list of the order statuses that count as a sale.
pub const SALE_STATUSES_SQL: &str = "('pending', 'paid', 'fulfilled')";

/// Read-only sales figures.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Stats {
    /// Orders that count as a sale.
    pub orders_count: i64,
    /// Sum of their totals, in minor units.
    pub total_spent_cents: i64,
    /// Sum over the last 12 months.
    pub spent_last_12m_cents: i64,
    /// Date of the first counted order.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Date of the last counted order.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Total of the last counted order.
    pub last_order_total_cents: Option<i64>,
}

/// Whose stats: the column of `orders` that links to it, and its table.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// A company.
    Client,
    /// A person.
    Contact,
}

impl Owner {
    fn table(self) -> &'static str {
        match self {
            Owner::Client => "clients",
            Owner::Contact => "contacts",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Owner::Client => "client_id",
            Owner::Contact => "contact_id",
        }
    }

    /// SQL for the 12-month spend of the row of the owner's table in scope.
    pub fn spent_12m_sql(self) -> String {
        format!(
            "(SELECT coalesce(sum(o.total_cents), 0)::bigint FROM orders o WHERE o.{col} = {table}.id \
             AND o.status IN {SALE_STATUSES_SQL} AND o.ordered_at >= now() - interval '12 months')",
            col = self.column(),
            table = self.table()
        )
    }
}

/// Recomputes the stored stats of one client or contact, and promotes a
/// prospect to customer once it has an order that is not cancelled. Returns
/// true when it promoted.
pub fn refresh(conn: &mut PgConnection, owner: Owner, id: Uuid) -> QueryResult<bool> {
    let (table, col) = (owner.table(), owner.column());
    diesel::sql_query(format!(
        "UPDATE {table} t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first, \
         last_order_at = s.last, last_order_total_cents = (SELECT total_cents FROM orders \
           WHERE {col} = $1 AND status IN {SALE_STATUSES_SQL} ORDER BY ordered_at DESC, id DESC LIMIT 1) \
         FROM (SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first, \
               max(ordered_at) AS last FROM orders WHERE {col} = $1 AND status IN {SALE_STATUSES_SQL}) s \
         WHERE t.id = $1"
    ))
    .bind::<SqlUuid, _>(id)
    .execute(conn)?;
    diesel::sql_query(format!(
        "UPDATE {table} SET status = 'customer', version = version + 1, updated_at = now() \
         WHERE id = $1 AND status = 'prospect' \
         AND EXISTS (SELECT 1 FROM orders WHERE {col} = $1 AND status <> 'cancelled')"
    ))
    .bind::<SqlUuid, _>(id)
    .execute(conn)
    .map(|n| n > 0)
}

#[derive(QueryableByName)]
struct Spent {
    #[diesel(sql_type = SqlUuid)]
    owner_id: Uuid,
    #[diesel(sql_type = BigInt)]
    spent: i64,
}

/// The 12-month spend of several clients or contacts, in one query.
pub fn spent_last_12m(conn: &mut PgConnection, owner: Owner, ids: &[Uuid]) -> QueryResult<HashMap<Uuid, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let col = owner.column();
    let rows: Vec<Spent> = diesel::sql_query(format!(
        "SELECT {col} AS owner_id, sum(total_cents)::bigint AS spent FROM orders \
         WHERE {col} = ANY($1) AND status IN {SALE_STATUSES_SQL} \
         AND ordered_at >= now() - interval '12 months' GROUP BY {col}"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.owner_id, r.spent)).collect())
}
