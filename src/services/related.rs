//! Batch reads behind GraphQL's nested fields (`Contact.client`,
//! `Client.contacts`, `Contact.orders`, ...): one round of queries per batch
//! of parents, whatever their number, with the same scope checks as the
//! lists. Each parent gets its own page, cut in SQL by a `LATERAL` subquery,
//! so a parent with 10,000 orders costs what one page costs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use super::clients::ClientOut;
use super::consents::{self, ConsentEvent};
use super::contacts::{ContactOut, InteractionOut};
use super::orders::OrderOut;
use super::stats::Owner;
use crate::auth::{Actor, Scope};
use crate::db::schema::{clients, contacts, interactions, orders};
use crate::error::AppError;
use crate::models::client::Client;
use crate::models::contact::Contact;
use crate::models::interaction::Interaction;
use crate::models::order::{self as order_model, Order, OrderLine};
use crate::pagination::{PageRequest, SortKey};

/// The page every parent gets: its first `limit` children after `after`,
/// in `(created_at, id)` order like the REST lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildPage {
    /// Children per parent (1 to 200).
    pub limit: i64,
    /// `(created_at` in microseconds, `id)` of the last child already seen.
    pub after: Option<(i64, Uuid)>,
}

impl ChildPage {
    /// Validates a page size and a cursor as the REST lists do (fields `limit`, `after`).
    pub fn parse(limit: Option<i64>, after: Option<&str>) -> Result<Self, AppError> {
        let p = PageRequest::parse(limit, after, Some(SortKey::CreatedAt))?;
        Ok(ChildPage { limit: p.limit, after: p.after.map(|c| (c.micros, c.id)) })
    }

    fn after_at(&self) -> Option<DateTime<Utc>> {
        self.after.and_then(|(micros, _)| DateTime::from_timestamp_micros(micros))
    }

    fn after_id(&self) -> Option<Uuid> {
        self.after.map(|(_, id)| id)
    }
}

/// The children of one parent: one page, and whether more follow.
#[derive(Debug, Clone)]
pub struct Children<T> {
    /// At most `limit` rows, oldest first.
    pub rows: Vec<T>,
    /// True when the parent has more children after these.
    pub has_next: bool,
}

impl<T> Default for Children<T> {
    fn default() -> Self {
        Children { rows: Vec::new(), has_next: false }
    }
}

/// `table.id IN (the first limit + 1 rows of each parent after the cursor)`:
/// one `LATERAL` subquery per parent, served by the `(parent, created_at, id)`
/// indexes where they exist.
macro_rules! first_per_parent {
    ($table:literal, $parent:literal, $ids:expr, $page:expr) => {
        diesel::dsl::sql::<Bool>(concat!($table, ".id IN (SELECT c.id FROM unnest("))
            .bind::<Array<SqlUuid>, _>($ids.to_vec())
            .sql(concat!(
                "::uuid[]) AS p(id) CROSS JOIN LATERAL (SELECT x.id FROM ",
                $table,
                " x WHERE x.",
                $parent,
                " = p.id AND ("
            ))
            .bind::<Nullable<Timestamptz>, _>($page.after_at())
            .sql("::timestamptz IS NULL OR (x.created_at, x.id) > (")
            .bind::<Nullable<Timestamptz>, _>($page.after_at())
            .sql(", ")
            .bind::<Nullable<SqlUuid>, _>($page.after_id())
            .sql(")) ORDER BY x.created_at, x.id LIMIT ")
            .bind::<BigInt, _>($page.limit + 1)
            .sql(") c)")
    };
}

/// Groups rows (sorted by parent, then page order) into one page per parent.
fn group<R, T>(
    rows: Vec<R>,
    page: &ChildPage,
    parent: impl Fn(&R) -> Option<Uuid>,
    mut out: impl FnMut(R) -> T,
) -> HashMap<Uuid, Children<T>> {
    let mut map: HashMap<Uuid, Children<T>> = HashMap::new();
    for row in rows {
        let Some(p) = parent(&row) else { continue };
        let entry = map.entry(p).or_default();
        if entry.rows.len() as i64 >= page.limit {
            entry.has_next = true;
        } else {
            entry.rows.push(out(row));
        }
    }
    map
}

/// Clients by id (for `Contact.client`, `Order.client`); unknown ids are absent.
pub fn clients_by_ids(
    conn: &mut PgConnection,
    actor: &Actor,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, ClientOut>, AppError> {
    actor.require(Scope::ClientsRead)?;
    clients_out(conn, ids)
}

/// [`clients_by_ids`] without the scope check, for answers the caller already may give.
pub(crate) fn clients_out(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, ClientOut>, AppError> {
    let rows: Vec<Client> = clients::table.filter(clients::id.eq_any(ids)).select(Client::as_select()).load(conn)?;
    Ok(rows.into_iter().map(|c| (c.id, ClientOut::from_row(c))).collect())
}

/// Contacts by id (for `Order.contact`); unknown ids are absent.
pub fn contacts_by_ids(
    conn: &mut PgConnection,
    actor: &Actor,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, ContactOut>, AppError> {
    actor.require(Scope::ContactsRead)?;
    contacts_out(conn, ids)
}

/// [`contacts_by_ids`] without the scope check, for answers the caller already may give.
pub(crate) fn contacts_out(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, ContactOut>, AppError> {
    let rows: Vec<Contact> =
        contacts::table.filter(contacts::id.eq_any(ids)).select(Contact::as_select()).load(conn)?;
    Ok(rows.into_iter().map(|c| (c.id, ContactOut::from_row(c))).collect())
}

/// One page of contacts per client (`Client.contacts`).
pub fn contacts_of_clients(
    conn: &mut PgConnection,
    actor: &Actor,
    client_ids: &[Uuid],
    page: &ChildPage,
) -> Result<HashMap<Uuid, Children<ContactOut>>, AppError> {
    actor.require(Scope::ContactsRead)?;
    let rows: Vec<Contact> = contacts::table
        .filter(first_per_parent!("contacts", "client_id", client_ids, page))
        .order((contacts::client_id, contacts::created_at, contacts::id))
        .select(Contact::as_select())
        .load(conn)?;
    Ok(group(rows, page, |c| c.client_id, ContactOut::from_row))
}

/// One page of orders per client (`Client.orders`) or per contact (`Contact.orders`).
pub fn orders_of(
    conn: &mut PgConnection,
    actor: &Actor,
    owner: Owner,
    owner_ids: &[Uuid],
    page: &ChildPage,
) -> Result<HashMap<Uuid, Children<OrderOut>>, AppError> {
    actor.require(Scope::OrdersRead)?;
    let q = orders::table.select(Order::as_select());
    let first = page.limit + 1;
    let rows: Vec<Order> = match (owner, owner_ids, page.after) {
        // The first page of one parent (a single `contact { orders }`): a
        // static query, which diesel prepares once per connection, where the
        // boxed `LATERAL` one is parsed and planned by Postgres every time.
        (Owner::Client, [id], None) => {
            q.filter(orders::client_id.eq(id)).order((orders::created_at, orders::id)).limit(first).load(conn)?
        }
        (Owner::Contact, [id], None) => {
            q.filter(orders::contact_id.eq(id)).order((orders::created_at, orders::id)).limit(first).load(conn)?
        }
        (Owner::Client, ..) => q
            .into_boxed()
            .filter(first_per_parent!("orders", "client_id", owner_ids, page))
            .order((orders::client_id, orders::created_at, orders::id))
            .load(conn)?,
        (Owner::Contact, ..) => q
            .into_boxed()
            .filter(first_per_parent!("orders", "contact_id", owner_ids, page))
            .order((orders::contact_id, orders::created_at, orders::id))
            .load(conn)?,
    };
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    for l in order_model::lines_of(conn, &ids)? {
        lines.entry(l.order_id).or_default().push(l);
    }
    let parent = |o: &Order| match owner {
        Owner::Client => o.client_id,
        Owner::Contact => o.contact_id,
    };
    Ok(group(rows, page, parent, |o| {
        let mine = lines.remove(&o.id).unwrap_or_default();
        OrderOut::from_row(o, mine)
    }))
}

/// One page of interactions per contact (`Contact.interactions`).
pub fn interactions_of_contacts(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_ids: &[Uuid],
    page: &ChildPage,
) -> Result<HashMap<Uuid, Children<InteractionOut>>, AppError> {
    actor.require(Scope::ContactsRead)?;
    let rows: Vec<Interaction> = interactions::table
        .filter(first_per_parent!("interactions", "contact_id", contact_ids, page))
        .order((interactions::contact_id, interactions::created_at, interactions::id))
        .select(Interaction::as_select())
        .load(conn)?;
    Ok(group(rows, page, |i| Some(i.contact_id), InteractionOut::from))
}

/// The current consent state per purpose of each contact (`Contact.consents`):
/// the latest event per purpose, purposes in order; contacts without any
/// event are absent.
pub fn consents_of_contacts(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ConsentEvent>>, AppError> {
    actor.require(Scope::ConsentsRead)?;
    consents::current_of_many(conn, contact_ids)
}
