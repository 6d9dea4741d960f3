//! Who an order names: the customer matched to a contact by email (or
//! created), the client taken from the contact, and the check that every
//! client and contact named exists.

use std::collections::{BTreeSet, HashSet};

use diesel::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::validate::Draft;
use super::write::NO_INDEX;
use crate::domain::{LawfulBasis, Status};
use crate::error::AppError;
use crate::models::contact::{self as contact_model, ContactWrite};
use crate::models::order::{Order, OrderWrite};
use crate::services::{audit, events, to_doc};

/// Matches the customer to a contact (creating it under `contract`), and
/// fills `client_id` from the contact when absent. Returns the change of a
/// created contact, for the caller to record with the others at the end.
pub(super) fn resolve(conn: &mut PgConnection, draft: &mut Draft) -> Result<Option<events::Change>, AppError> {
    let mut created_change = None;
    if let Some(c) = draft.customer.take() {
        let contact = match contact_model::find_by_email(conn, c.email.as_str())? {
            Some(found) => found,
            None => {
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
                };
                let created = crate::services::contacts::insert(conn, &write)?;
                let out = crate::services::contacts::out(conn, created.clone())?;
                created_change = Some(events::Change {
                    kind: "contact.created".into(),
                    resource_type: "contact".into(),
                    resource_id: created.id.to_string(),
                    fields: audit::set_fields(&to_doc(&write)),
                    data: Some(to_doc(&out)),
                });
                created
            }
        };
        draft.write.contact_id = Some(contact.id);
        if draft.write.client_id.is_none() {
            draft.write.client_id = contact.client_id;
        }
    } else if let (None, Some(contact_id)) = (draft.write.client_id, draft.write.contact_id) {
        let contact = contact_model::find(conn, contact_id, false)?
            .ok_or_else(|| AppError::field("contact_id", "not_found", "the referenced resource does not exist"))?;
        draft.write.client_id = contact.client_id;
    }
    Ok(created_change)
}

/// Refuses, at the first order that names it, a client or contact that does
/// not exist (the foreign keys would say so without telling which order).
pub(super) fn check_references(
    conn: &mut PgConnection,
    items: &[(Option<Order>, Draft)],
) -> Result<(), (usize, AppError)> {
    use crate::db::schema::{clients, contacts};
    let wanted = |f: fn(&OrderWrite) -> Option<Uuid>| -> Vec<Uuid> {
        let set: BTreeSet<Uuid> = items.iter().filter_map(|(_, d)| f(&d.write)).collect();
        set.into_iter().collect()
    };
    let (client_ids, contact_ids) = (wanted(|w| w.client_id), wanted(|w| w.contact_id));
    let found_clients: HashSet<Uuid> = if client_ids.is_empty() {
        HashSet::new()
    } else {
        clients::table
            .filter(clients::id.eq_any(&client_ids))
            .select(clients::id)
            .load::<Uuid>(conn)
            .map_err(|e| (NO_INDEX, e.into()))?
            .into_iter()
            .collect()
    };
    let found_contacts: HashSet<Uuid> = if contact_ids.is_empty() {
        HashSet::new()
    } else {
        contacts::table
            .filter(contacts::id.eq_any(&contact_ids))
            .select(contacts::id)
            .load::<Uuid>(conn)
            .map_err(|e| (NO_INDEX, e.into()))?
            .into_iter()
            .collect()
    };
    for (i, (_, d)) in items.iter().enumerate() {
        for (field, id, found) in
            [("client_id", d.write.client_id, &found_clients), ("contact_id", d.write.contact_id, &found_contacts)]
        {
            if id.is_some_and(|id| !found.contains(&id)) {
                return Err((i, AppError::field(field, "not_found", "the referenced resource does not exist")));
            }
        }
    }
    Ok(())
}
