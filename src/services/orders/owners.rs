//! Who an order names, and the locks an order write takes.
//!
//! # One lock order
//!
//! Every write of orders locks, in this order: the clients it touches (the
//! buyers' and, for an order that moves, its former ones), then the contacts,
//! each set in id order, with `FOR NO KEY UPDATE` (what the stats UPDATE
//! takes anyway; the foreign-key checks of concurrent order inserts, `FOR KEY
//! SHARE`, do not wait for it); then the existing orders, in id order, `FOR
//! UPDATE`. Only then does it insert orders (in `(source, external_id)`
//! order, so that writers inserting the same new keys wait for each other in
//! one order), create the contacts of new customers (in email order, for the
//! same reason), update orders and move the owners' stats, on rows it already
//! holds. The other writers of those rows keep to that order: a contact write
//! (PATCH, consent, interaction, deletion, erasure) locks its contact, then
//! takes at most `FOR KEY SHARE` of a client (which `NO KEY UPDATE` does not
//! block) or cascades into orders (after the contact); a client write locks
//! the client, then cascades into contacts and orders. So no two writers wait
//! for each other in a cycle, whatever else serialises them.
//!
//! What a write touches is known only once its orders and customers are read,
//! so they are read first without locks and checked once locked. An owner
//! that came in between (an order moved to another buyer, a contact moved to
//! another client) is then taken only if no one holds it (`SKIP LOCKED`,
//! never waiting, so out of order without risk). Otherwise, or when what was
//! read no longer holds (an order deleted, a customer's email changed; for a
//! PATCH or a conditional write, any change of the order), the write fails
//! with [`AppError::Contention`] and runs again whole (`db::run_retrying`);
//! the owners it could not take are then locked in order with the others
//! (`db::carried`), so the next run does not fail on them again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use diesel::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::validate::Draft;
use super::write::NO_INDEX;
use crate::db::{
    self,
    schema::{clients, contacts, orders},
};
use crate::domain::{LawfulBasis, Status};
use crate::error::{AppError, MOVED};
use crate::models::contact::{self as contact_model, ContactWrite};
use crate::models::order::Order;
use crate::services::{audit, events, to_doc};

/// The clients and contacts an order write found and holds locked.
#[derive(Default)]
pub(super) struct Owners {
    pub(super) clients: HashSet<Uuid>,
    pub(super) contacts: HashSet<Uuid>,
}

/// What was read of a contact before locking, to check once it is locked.
struct Seen {
    /// The order that named it.
    index: usize,
    contact: Uuid,
    /// The email a customer was matched by (the column as read).
    email: Option<Option<String>>,
    /// The client an order took from the contact.
    client: Option<Option<Uuid>>,
}

/// How an existing order, read before it is locked, must be found once locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// As read (same version): the write was derived from it (a merge
    /// patch) or is conditional on its version (`If-Match`).
    Exact,
    /// At any version, with its buyers among the owners locked: the write
    /// replaces it whole (an upsert, a batch item).
    Latest,
}

/// Matches customers to existing contacts and fills `client_id` from the
/// contact when absent (reads, no lock); then locks the owners and the
/// existing orders in the one order (see the module), replaces each existing
/// order by its locked row and checks nothing read moved. Customers without
/// a contact keep their `customer`: [`create_customers`] makes them.
///
/// An error carries the index of the order it concerns ([`NO_INDEX`]: none).
pub(super) fn lock(
    conn: &mut PgConnection,
    items: &mut [(Option<Order>, Draft)],
    read: Read,
) -> Result<Owners, (usize, AppError)> {
    let mut seen = Vec::new();
    for (i, (_, draft)) in items.iter_mut().enumerate() {
        if let Some(c) = &draft.customer {
            let Some(found) = contact_model::find_by_email(conn, c.email.as_str(), false).map_err(|e| (i, e.into()))?
            else {
                continue;
            };
            draft.customer = None;
            draft.write.contact_id = Some(found.id);
            let from_contact = draft.write.client_id.is_none();
            if from_contact {
                draft.write.client_id = found.client_id;
            }
            seen.push(Seen {
                index: i,
                contact: found.id,
                email: Some(found.email),
                client: from_contact.then_some(found.client_id),
            });
        } else if let (None, Some(contact_id)) = (draft.write.client_id, draft.write.contact_id) {
            let contact =
                contact_model::find(conn, contact_id, false).map_err(|e| (i, e.into()))?.ok_or_else(|| {
                    (i, AppError::field("contact_id", "not_found", "the referenced resource does not exist"))
                })?;
            draft.write.client_id = contact.client_id;
            seen.push(Seen { index: i, contact: contact_id, email: None, client: Some(contact.client_id) });
        }
    }
    let (mut client_ids, mut contact_ids) = (BTreeSet::new(), BTreeSet::new());
    for (existing, draft) in items.iter() {
        client_ids.extend(draft.write.client_id);
        contact_ids.extend(draft.write.contact_id);
        if let Some(o) = existing {
            client_ids.extend(o.client_id);
            contact_ids.extend(o.contact_id);
        }
    }
    // Owners an earlier run of this write could not take out of order.
    client_ids.extend(db::carried::of("clients"));
    contact_ids.extend(db::carried::of("contacts"));
    let moved = || (NO_INDEX, AppError::Contention(MOVED));
    let (mut clients, contacts) = lock_owners(conn, &client_ids, &contact_ids).map_err(|e| (NO_INDEX, e.into()))?;
    let mut contacts_held: HashSet<Uuid> = contacts.keys().copied().collect();
    let ids: Vec<Uuid> = items.iter().filter_map(|(o, _)| o.as_ref().map(|o| o.id)).collect();
    let mut locked = lock_orders(conn, &ids).map_err(|e| (NO_INDEX, e.into()))?;
    // Owners that moved in since the reads: taken only if free now (below).
    let (mut more_clients, mut more_contacts) = (BTreeSet::new(), BTreeSet::new());
    for (existing, _) in items.iter_mut() {
        if let Some(o) = existing {
            let now = locked.remove(&o.id).ok_or_else(moved)?;
            if read == Read::Exact
                && (now.version, now.client_id, now.contact_id) != (o.version, o.client_id, o.contact_id)
            {
                return Err(moved());
            }
            more_clients.extend(now.client_id.filter(|c| !clients.contains(c)));
            more_contacts.extend(now.contact_id.filter(|c| !contacts_held.contains(c)));
            *o = now;
        }
    }
    for s in &seen {
        let (client, email) = contacts.get(&s.contact).ok_or_else(moved)?;
        if s.email.as_ref().is_some_and(|e| e != email) {
            return Err(moved());
        }
        if s.client.is_some_and(|c| c != *client) {
            // The contact changed company: its order follows it.
            items[s.index].1.write.client_id = *client;
            more_clients.extend(client.filter(|c| !clients.contains(c)));
        }
    }
    if !more_clients.is_empty() || !more_contacts.is_empty() {
        // Out of the lock order, so without waiting: a writer that holds one
        // of them may be waiting for a row this one holds.
        let (got_clients, got_contacts) =
            lock_owners_if_free(conn, &more_clients, &more_contacts).map_err(|e| (NO_INDEX, e.into()))?;
        if got_clients.len() < more_clients.len() || got_contacts.len() < more_contacts.len() {
            // The next run takes them in order, waiting.
            db::carried::add("clients", more_clients);
            db::carried::add("contacts", more_contacts);
            return Err(moved());
        }
        clients.extend(got_clients);
        contacts_held.extend(got_contacts);
    }
    Ok(Owners { clients, contacts: contacts_held })
}

/// Locks an order about to be deleted: its owners, then itself (see the
/// module); returns its locked row.
pub(super) fn lock_one(conn: &mut PgConnection, order: &Order) -> Result<Order, AppError> {
    lock_owners(conn, &order.client_id.into_iter().collect(), &order.contact_id.into_iter().collect())?;
    let same = |l: &Order| (l.version, l.client_id, l.contact_id) == (order.version, order.client_id, order.contact_id);
    lock_orders(conn, &[order.id])?.remove(&order.id).filter(same).ok_or(AppError::Contention(MOVED))
}

/// A locked contact: its client and email, as the checks after locking need.
type LockedContact = (Option<Uuid>, Option<String>);

/// Locks clients, then contacts, each in id order; returns those that exist.
fn lock_owners(
    conn: &mut PgConnection,
    client_ids: &BTreeSet<Uuid>,
    contact_ids: &BTreeSet<Uuid>,
) -> QueryResult<(HashSet<Uuid>, HashMap<Uuid, LockedContact>)> {
    let mut found_clients = HashSet::new();
    if !client_ids.is_empty() {
        found_clients = clients::table
            .filter(clients::id.eq_any(client_ids))
            .order(clients::id)
            .select(clients::id)
            .for_no_key_update()
            .load::<Uuid>(conn)?
            .into_iter()
            .collect();
    }
    let mut found_contacts = HashMap::new();
    if !contact_ids.is_empty() {
        found_contacts = contacts::table
            .filter(contacts::id.eq_any(contact_ids))
            .order(contacts::id)
            .select((contacts::id, contacts::client_id, contacts::email))
            .for_no_key_update()
            .load::<(Uuid, Option<Uuid>, Option<String>)>(conn)?
            .into_iter()
            .map(|(id, client, email)| (id, (client, email)))
            .collect();
    }
    Ok((found_clients, found_contacts))
}

/// Locks those of these clients and contacts that no one else holds now
/// (`SKIP LOCKED`: it never waits); returns the ids it got.
fn lock_owners_if_free(
    conn: &mut PgConnection,
    client_ids: &BTreeSet<Uuid>,
    contact_ids: &BTreeSet<Uuid>,
) -> QueryResult<(Vec<Uuid>, Vec<Uuid>)> {
    let mut got = (Vec::new(), Vec::new());
    if !client_ids.is_empty() {
        got.0 = clients::table
            .filter(clients::id.eq_any(client_ids))
            .select(clients::id)
            .for_no_key_update()
            .skip_locked()
            .load(conn)?;
    }
    if !contact_ids.is_empty() {
        got.1 = contacts::table
            .filter(contacts::id.eq_any(contact_ids))
            .select(contacts::id)
            .for_no_key_update()
            .skip_locked()
            .load(conn)?;
    }
    Ok(got)
}

/// Locks orders in id order; returns those that still exist, as locked.
fn lock_orders(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<HashMap<Uuid, Order>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(orders::table
        .filter(orders::id.eq_any(ids))
        .order(orders::id)
        .select(Order::as_select())
        .for_update()
        .load(conn)?
        .into_iter()
        .map(|o| (o.id, o))
        .collect())
}

/// Creates the contacts of the customers [`lock`] did not match, under
/// `contract`, one per email and in email order (two writers creating the
/// same contacts wait for each other in one order); fills each order's
/// `contact_id`, and `client_id` from the contact when absent. Returns the
/// changes of the created contacts, for the caller to record with the others.
pub(super) fn create_customers(
    conn: &mut PgConnection,
    items: &mut [(Option<Order>, Draft)],
    owners: &mut Owners,
) -> Result<Vec<events::Change>, (usize, AppError)> {
    let mut by_email: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (_, draft)) in items.iter().enumerate() {
        if let Some(c) = &draft.customer {
            by_email.entry(c.email.normalized()).or_default().push(i);
        }
    }
    let mut changes = Vec::new();
    for indexes in by_email.into_values() {
        let first = indexes[0];
        let draft = &mut items[first].1;
        let c = draft.customer.take().expect("a customer to create");
        let write = ContactWrite {
            client_id: draft.write.client_id,
            first_name: c.first_name,
            last_name: c.last_name,
            email: Some(c.email.as_str().to_owned()),
            phone: c.phone.map(|p| p.as_str().to_owned()),
            job_title: None,
            birth_date: None,
            status: Status::Prospect.as_str().into(),
            source: Some(draft.write.source.clone()),
            lawful_basis: LawfulBasis::Contract.as_str().into(),
            last_interaction_at: None,
            tags: Value::Array(vec![]),
            custom_fields: Value::Object(Map::new()),
            audience: crate::services::contacts::default_audience(draft.write.client_id).as_str().into(),
            // A buyer gave their details at checkout: collected from the person, no Art. 14 notice owed.
            provenance: Some(serde_json::json!({"source_type": "checkout"})),
            art14_notice_due_at: None,
        };
        let created = crate::services::contacts::insert(conn, &write).map_err(|e| (first, e))?;
        let out = crate::services::contacts::out(conn, created.clone()).map_err(|e| (first, e))?;
        changes.push(events::Change {
            kind: "contact.created".into(),
            resource_type: "contact".into(),
            resource_id: created.id.to_string(),
            fields: audit::set_fields(&to_doc(&write)),
            data: Some(to_doc(&out)),
        });
        owners.contacts.insert(created.id);
        for i in indexes {
            let draft = &mut items[i].1;
            draft.customer = None;
            draft.write.contact_id = Some(created.id);
            if draft.write.client_id.is_none() {
                draft.write.client_id = created.client_id;
            }
        }
    }
    Ok(changes)
}

/// Refuses, at the first order that names it, a client or contact that does
/// not exist (the foreign keys would say so without telling which order).
pub(super) fn check_references(items: &[(Option<Order>, Draft)], owners: &Owners) -> Result<(), (usize, AppError)> {
    for (i, (_, d)) in items.iter().enumerate() {
        let named: [(&str, Option<Uuid>, &HashSet<Uuid>); 2] =
            [("client_id", d.write.client_id, &owners.clients), ("contact_id", d.write.contact_id, &owners.contacts)];
        for (field, id, found) in named {
            if id.is_some_and(|id| !found.contains(&id)) {
                return Err((i, AppError::field(field, "not_found", "the referenced resource does not exist")));
            }
        }
    }
    Ok(())
}
