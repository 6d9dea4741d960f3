//! Delta sync (API.md §7): `GET /v1/sync/{clients,contacts,orders}`.
//!
//! Without a token, every row, paged by id; the last page carries a
//! `sync_token`. With `?token=`, the rows changed since that token, read
//! back from the events of that resource type in the order of record (so a
//! token never skips a committed change), each in its current API shape, and
//! a tombstone for each row that no longer exists. A token is a position in
//! the order of record: the horizon when it was issued. The events are kept
//! for the feed's retention; a token older than what was purged answers 410.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Position;
use super::events::{self, Select};
use crate::auth::{Actor, Scope};
use crate::db::schema::{clients, contacts, orders};
use crate::error::AppError;
use crate::models::order::{self as order_model, Order, OrderLine};
use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::services::clients::ClientOut;
use crate::services::contacts::ContactOut;
use crate::services::orders::OrderOut;
use crate::services::related;

/// A resource that can be synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Clients,
    Contacts,
    Orders,
}

impl Resource {
    fn resource_type(self) -> &'static str {
        match self {
            Resource::Clients => "client",
            Resource::Contacts => "contact",
            Resource::Orders => "order",
        }
    }

    fn scope(self) -> Scope {
        match self {
            Resource::Clients => Scope::ClientsRead,
            Resource::Contacts => Scope::ContactsRead,
            Resource::Orders => Scope::OrdersRead,
        }
    }
}

/// Query of `GET /v1/sync/...`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `sync_token` of the last page of the previous sync: the changes since then.
    pub token: Option<String>,
    /// The previous page's `next_cursor`, to continue a sync in progress.
    pub after: Option<String>,
}

/// A row deleted, erased or merged since the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tombstone {
    pub id: Uuid,
    /// Always true.
    pub deleted: bool,
    /// `deleted`, `erased` (a data-subject erasure or a retention sweep) or `merged`.
    pub reason: &'static str,
    /// For `merged`: the row it was merged into.
    pub merged_into: Option<Uuid>,
}

/// A row in its API shape, or a tombstone (`deleted: true`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SyncItem<T> {
    Row(T),
    Deleted(Tombstone),
}

/// A page of a sync. Exactly one of `next_cursor` and `sync_token` is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncPage<T> {
    pub data: Vec<SyncItem<T>>,
    /// More pages: pass as `?after=`.
    pub next_cursor: Option<String>,
    /// Last page: keep it, and pass it as `?token=` next time for the changes since now.
    pub sync_token: Option<String>,
}

/// Where a sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A full read in progress: started at horizon `h`, after row `id`.
    Full { h: i64, after: Uuid },
    /// Changes after this position.
    Delta(Position),
}

fn encode(r: Resource, p: Place, token: bool) -> String {
    let r = r.resource_type();
    URL_SAFE_NO_PAD.encode(match p {
        Place::Full { h, after } => format!("sync1:{r}:f:{h}:{}", after.simple()),
        Place::Delta(p) => format!("sync1:{r}:{}:{}:{}", if token { 't' } else { 'd' }, p.tx, p.seq),
    })
}

fn decode(r: Resource, s: &str, field: &'static str, token: bool) -> Result<Place, AppError> {
    let bad = || AppError::field(field, "invalid_cursor", format!("not a {field} that this sync returned"));
    let raw = URL_SAFE_NO_PAD.decode(s.as_bytes()).map_err(|_| bad())?;
    let raw = std::str::from_utf8(&raw).map_err(|_| bad())?;
    let parts: Vec<&str> = raw.split(':').collect();
    let [version, resource, kind, a, b] = parts.as_slice() else { return Err(bad()) };
    if *version != "sync1" {
        return Err(bad());
    }
    if *resource != r.resource_type() {
        return Err(AppError::field(field, "invalid_cursor", format!("this {field} belongs to another resource")));
    }
    let n = |v: &str| v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(bad);
    match (*kind, token) {
        ("f", false) => Ok(Place::Full { h: n(a)?, after: Uuid::try_parse(b).map_err(|_| bad())? }),
        ("d", false) | ("t", true) => Ok(Place::Delta(Position { tx: n(a)?, seq: n(b)? })),
        _ => Err(bad()),
    }
}

/// `GET /v1/sync/{resource}`.
pub fn sync<T: Shaped>(conn: &mut PgConnection, actor: &Actor, q: SyncQuery) -> Result<SyncPage<T>, AppError> {
    let r = T::RESOURCE;
    actor.require(r.scope())?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::field("limit", "out_of_range", format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let place = match (&q.token, &q.after) {
        (Some(_), Some(_)) => {
            return Err(AppError::field("after", "conflict", "pass either token or after, not both"));
        }
        (Some(t), None) => decode(r, t, "token", true)?,
        (None, Some(a)) => decode(r, a, "after", false)?,
        // Changes from transactions still running when the read starts come
        // again in the first delta: the full read may or may not see them.
        (None, None) => Place::Full { h: super::horizon(conn)?, after: Uuid::nil() },
    };
    match place {
        Place::Full { h, after } => {
            let mut ids = T::ids_after(conn, after, limit + 1)?;
            let more = ids.len() as i64 > limit;
            ids.truncate(limit as usize);
            let mut rows = T::load(conn, &ids)?;
            let data = ids.iter().filter_map(|id| rows.remove(id)).map(SyncItem::Row).collect();
            let (next_cursor, sync_token) = match (more, ids.last()) {
                (true, Some(last)) => (Some(encode(r, Place::Full { h, after: *last }, false)), None),
                _ => (None, Some(encode(r, Place::Delta(Position::horizon(h)), true))),
            };
            Ok(SyncPage { data, next_cursor, sync_token })
        }
        Place::Delta(from) => {
            if events::purged_through(conn)?.is_some_and(|p| from < p) {
                return Err(AppError::Gone(
                    "this sync token is older than the change history kept; sync again without a token".into(),
                ));
            }
            let (changes, horizon) =
                events::read_after(conn, from, Select::ResourceType(r.resource_type().into()), limit)?;
            let full = changes.len() as i64 >= limit;
            let next =
                if full { changes.last().map_or(from, |(p, _)| *p) } else { from.max(Position::horizon(horizon)) };
            // Each changed row once, where it last changed in this page.
            let mut seen = HashSet::new();
            let mut ids: Vec<Uuid> = changes
                .iter()
                .rev()
                .filter_map(|(_, e)| Uuid::try_parse(&e.resource_id).ok())
                .filter(|id| seen.insert(*id))
                .collect();
            ids.reverse();
            let mut rows = T::load(conn, &ids)?;
            let gone: Vec<Uuid> = ids.iter().filter(|id| !rows.contains_key(id)).copied().collect();
            let mut reasons = tombstones(conn, r, &gone)?;
            let data = ids
                .iter()
                .map(|id| match rows.remove(id) {
                    Some(row) => SyncItem::Row(row),
                    None => SyncItem::Deleted(reasons.remove(id).unwrap_or(Tombstone {
                        id: *id,
                        deleted: true,
                        reason: "deleted",
                        merged_into: None,
                    })),
                })
                .collect();
            Ok(if full {
                SyncPage { data, next_cursor: Some(encode(r, Place::Delta(next), false)), sync_token: None }
            } else {
                SyncPage { data, next_cursor: None, sync_token: Some(encode(r, Place::Delta(next), true)) }
            })
        }
    }
}

/// Why each of `ids` is gone, from its newest event.
fn tombstones(conn: &mut PgConnection, r: Resource, ids: &[Uuid]) -> Result<HashMap<Uuid, Tombstone>, AppError> {
    use crate::db::schema::events::dsl as e;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let rows: Vec<(String, String, Option<serde_json::Value>)> = e::events
        .filter(e::resource_type.eq(r.resource_type()))
        .filter(e::resource_id.eq_any(&keys))
        .distinct_on(e::resource_id)
        .order((e::resource_id, e::tx.desc(), e::seq.desc()))
        .select((e::resource_id, e::type_, e::data))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, data)| {
            let id = Uuid::try_parse(&id).ok()?;
            let (reason, merged_into) = match kind.rsplit('.').next() {
                Some("erased") => ("erased", None),
                Some("merged") => (
                    "merged",
                    data.as_ref().and_then(|d| d["survivor_id"].as_str()).and_then(|s| Uuid::try_parse(s).ok()),
                ),
                _ => ("deleted", None),
            };
            Some((id, Tombstone { id, deleted: true, reason, merged_into }))
        })
        .collect())
}

/// A resource's API shape, loaded by ids for a sync.
pub trait Shaped: Sized {
    /// Which resource this is.
    const RESOURCE: Resource;
    /// Ids after `after`, in id order.
    fn ids_after(conn: &mut PgConnection, after: Uuid, limit: i64) -> QueryResult<Vec<Uuid>>;
    /// The rows that still exist, by id.
    fn load(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Self>, AppError>;
}

impl Shaped for ClientOut {
    const RESOURCE: Resource = Resource::Clients;
    fn ids_after(conn: &mut PgConnection, after: Uuid, limit: i64) -> QueryResult<Vec<Uuid>> {
        clients::table.select(clients::id).filter(clients::id.gt(after)).order(clients::id).limit(limit).load(conn)
    }
    fn load(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Self>, AppError> {
        related::clients_out(conn, ids)
    }
}

impl Shaped for ContactOut {
    const RESOURCE: Resource = Resource::Contacts;
    fn ids_after(conn: &mut PgConnection, after: Uuid, limit: i64) -> QueryResult<Vec<Uuid>> {
        contacts::table.select(contacts::id).filter(contacts::id.gt(after)).order(contacts::id).limit(limit).load(conn)
    }
    fn load(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Self>, AppError> {
        related::contacts_out(conn, ids)
    }
}

impl Shaped for OrderOut {
    const RESOURCE: Resource = Resource::Orders;
    fn ids_after(conn: &mut PgConnection, after: Uuid, limit: i64) -> QueryResult<Vec<Uuid>> {
        orders::table.select(orders::id).filter(orders::id.gt(after)).order(orders::id).limit(limit).load(conn)
    }
    fn load(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Self>, AppError> {
        let rows: Vec<Order> = orders::table.filter(orders::id.eq_any(ids)).select(Order::as_select()).load(conn)?;
        let mut lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
        for l in order_model::lines_of(conn, ids)? {
            lines.entry(l.order_id).or_default().push(l);
        }
        Ok(rows
            .into_iter()
            .map(|o| {
                let mine = lines.remove(&o.id).unwrap_or_default();
                (o.id, OrderOut::from_row(o, mine))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_tokens_are_not_interchangeable() {
        let p = Place::Delta(Position { tx: 9, seq: 3 });
        let token = encode(Resource::Contacts, p, true);
        assert_eq!(decode(Resource::Contacts, &token, "token", true).unwrap(), p);
        assert!(decode(Resource::Contacts, &token, "after", false).is_err());
        assert!(decode(Resource::Orders, &token, "token", true).is_err());
        let full = Place::Full { h: 5, after: Uuid::now_v7() };
        let cursor = encode(Resource::Clients, full, false);
        assert_eq!(decode(Resource::Clients, &cursor, "after", false).unwrap(), full);
        assert!(decode(Resource::Clients, &cursor, "token", true).is_err());
        assert!(decode(Resource::Clients, "garbage", "token", true).is_err());
    }
}
