//! Sales statistics of clients and contacts (`stats` in API.md §4).
//!
//! Counted orders are those whose status is a sale (`pending`, `paid`,
//! `fulfilled`); cancelled and refunded orders do not count. Amounts are
//! summed in minor units whatever the currency. The lifetime figures are
//! stored on the client or contact row and refreshed in the transaction of
//! every order write; `spent_last_12m_cents` moves with the clock, so it is
//! computed when read, one grouped query per page.

use std::collections::HashMap;

use chrono::{DateTime, Months, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Uuid as SqlUuid};
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

/// Recomputes the stored stats of clients or contacts (one statement for
/// any number of them, rows locked in id order), and promotes to customer the
/// prospects among them that have an order that is not cancelled. Returns the
/// promoted ids.
pub fn refresh_many(conn: &mut PgConnection, owner: Owner, ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let (table, col) = (owner.table(), owner.column());
    diesel::sql_query(format!(
        "UPDATE {table} t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first, \
         last_order_at = s.last, last_order_total_cents = s.last_total \
         FROM unnest($1::uuid[]) AS ids(id) CROSS JOIN LATERAL ( \
           SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first, \
                  max(ordered_at) AS last, \
                  (SELECT total_cents FROM orders WHERE {col} = ids.id AND status IN {SALE_STATUSES_SQL} \
                   ORDER BY ordered_at DESC, id DESC LIMIT 1) AS last_total \
           FROM orders WHERE {col} = ids.id AND status IN {SALE_STATUSES_SQL}) s \
         WHERE t.id = ids.id"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(conn)?;
    #[derive(QueryableByName)]
    struct Promoted {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let promoted: Vec<Promoted> = diesel::sql_query(format!(
        "UPDATE {table} SET status = 'customer', version = version + 1, updated_at = now() \
         WHERE id = ANY($1) AND status = 'prospect' \
         AND EXISTS (SELECT 1 FROM orders WHERE {col} = {table}.id AND status <> 'cancelled') RETURNING id"
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)?;
    Ok(promoted.into_iter().map(|p| p.id).collect())
}

/// The statuses of [`SALE_STATUSES_SQL`], for the query builder.
const SALE_STATUSES: [&str; 3] = ["pending", "paid", "fulfilled"];

/// The 12-month spend of several clients or contacts, in one query.
///
/// Built with the query builder, so diesel prepares it once per connection
/// (a raw `sql_query` is parsed and planned by Postgres on every call); the
/// few rows are summed here.
pub fn spent_last_12m(conn: &mut PgConnection, owner: Owner, ids: &[Uuid]) -> QueryResult<HashMap<Uuid, i64>> {
    use crate::db::schema::orders;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let since = Utc::now().checked_sub_months(Months::new(12)).unwrap_or_default();
    let sales = orders::status.eq_any(SALE_STATUSES).and(orders::ordered_at.ge(since));
    let rows: Vec<(Option<Uuid>, i64)> = match owner {
        Owner::Client => orders::table
            .filter(orders::client_id.eq_any(ids))
            .filter(sales)
            .select((orders::client_id, orders::total_cents))
            .load(conn)?,
        Owner::Contact => orders::table
            .filter(orders::contact_id.eq_any(ids))
            .filter(sales)
            .select((orders::contact_id, orders::total_cents))
            .load(conn)?,
    };
    let mut out = HashMap::new();
    for (owner_id, total) in rows {
        if let Some(id) = owner_id {
            *out.entry(id).or_insert(0i64) += total;
        }
    }
    Ok(out)
}
