//! Lists of orders and the orders of a contact (exports).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::types::OrderOut;
use crate::auth::{Actor, Scope};
use crate::db::schema::orders;
use crate::domain::OrderStatus;
use crate::error::AppError;
use crate::models::order::{self as model, Order, OrderLine};
use crate::pagination::{Page, PageRequest, SortKey};

/// Filters of `GET /v1/orders`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    /// `created_at` (default) or `updated_at`.
    pub sort: Option<SortKey>,
    pub client_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    pub source: Option<String>,
    pub ordered_after: Option<DateTime<Utc>>,
    pub ordered_before: Option<DateTime<Utc>>,
    /// Rows updated after this time, for people browsing recent changes. Not
    /// for sync: `updated_at` is when the writing transaction started, so a
    /// row can commit later with an earlier time. Integrators mirroring us
    /// use `GET /v1/sync/{resource}`, which never skips a committed change.
    pub updated_after: Option<DateTime<Utc>>,
}

/// `GET /v1/orders` (and the per-client and per-contact lists).
pub fn list(conn: &mut PgConnection, actor: &Actor, f: OrderFilter) -> Result<Page<OrderOut>, AppError> {
    actor.require(Scope::OrdersRead)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), f.sort)?;
    let mut q = orders::table.select(Order::as_select()).into_boxed();
    if let Some(v) = f.client_id {
        q = q.filter(orders::client_id.eq(v));
    }
    if let Some(v) = f.contact_id {
        q = q.filter(orders::contact_id.eq(v));
    }
    if let Some(v) = f.status {
        q = q.filter(orders::status.eq(v.as_str()));
    }
    if let Some(v) = f.source {
        q = q.filter(orders::source.eq(v));
    }
    if let Some(v) = f.ordered_after {
        q = q.filter(orders::ordered_at.gt(v));
    }
    if let Some(v) = f.ordered_before {
        q = q.filter(orders::ordered_at.lt(v));
    }
    if let Some(v) = f.updated_after {
        q = q.filter(orders::updated_at.gt(v));
    }
    let rows: Vec<Order> = crate::paginate!(q, orders, page).load(conn)?;
    let ids: Vec<Uuid> = rows.iter().take(page.limit as usize).map(|r| r.id).collect();
    let mut lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    for l in model::lines_of(conn, &ids)? {
        lines.entry(l.order_id).or_default().push(l);
    }
    let key = |o: &Order| (if page.sort == SortKey::UpdatedAt { o.updated_at } else { o.created_at }, o.id);
    Ok(page.page(rows, key, |o| {
        let mine = lines.remove(&o.id).unwrap_or_default();
        OrderOut::from_row(o, mine)
    }))
}

/// Every order of a contact with its lines, oldest first (exports).
pub fn all_for_contact(conn: &mut PgConnection, contact_id: Uuid) -> Result<Vec<OrderOut>, AppError> {
    let rows: Vec<Order> = orders::table
        .filter(orders::contact_id.eq(contact_id))
        .order((orders::ordered_at, orders::id))
        .select(Order::as_select())
        .load(conn)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    for l in model::lines_of(conn, &ids)? {
        lines.entry(l.order_id).or_default().push(l);
    }
    Ok(rows
        .into_iter()
        .map(|o| {
            let mine = lines.remove(&o.id).unwrap_or_default();
            OrderOut::from_row(o, mine)
        })
        .collect())
}
