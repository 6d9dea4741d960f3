//! Set-based writes: any number of orders, their lines, the stats of their
//! buyers, their events and audit entries, in a fixed number of statements.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::owners::{Read, check_references, create_customers, lock};
use super::types::{OrderOut, Outcome};
use super::validate::Draft;
use crate::auth::Actor;
use crate::db::schema::orders;
use crate::error::AppError;
use crate::models::order::{self as model, Order, OrderLine, OrderWrite};
use crate::services::stats::{self, Owner};
use crate::services::{audit, changed_fields, events, to_doc};

/// The index of an error [`write_all`] cannot pin on one order.
pub(super) const NO_INDEX: usize = usize::MAX;

/// What [`write_all`] wrote for one order.
pub(super) struct Saved {
    pub(super) row: Order,
    pub(super) lines: Vec<OrderLine>,
    pub(super) outcome: Outcome,
}

/// Writes orders (inserts, or updates of their `existing` rows, as read
/// before: they are locked here, after their owners, in the one lock order of
/// [`super::owners`]), refreshes the stats of every client and contact they
/// touch, and records their events and audit entries: a fixed number of
/// statements whatever the number of orders (customer matching aside), so a
/// batch of 1,000 costs about what one order does, times the rows. Events and
/// audit come last.
///
/// An error carries the index of the order it concerns.
pub(super) fn write_all(
    conn: &mut PgConnection,
    actor: &Actor,
    mut items: Vec<(Option<Order>, Draft)>,
    read: Read,
) -> Result<Vec<Saved>, (usize, AppError)> {
    let mut owners = lock(conn, &mut items, read)?;
    // Contacts created for customers are recorded first, with the rest.
    let mut changes = create_customers(conn, &mut items, &mut owners)?;
    check_references(&items, &owners)?;
    let old_ids: Vec<Uuid> = items.iter().filter_map(|(o, _)| o.as_ref().map(|o| o.id)).collect();
    let mut old_lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    if !old_ids.is_empty() {
        for l in model::lines_of(conn, &old_ids).map_err(|e| (NO_INDEX, e.into()))? {
            old_lines.entry(l.order_id).or_default().push(l);
        }
    }

    // Classify: unchanged, to update, to insert.
    let mut out: Vec<Option<Saved>> = Vec::with_capacity(items.len());
    let mut inserts: Vec<(usize, Uuid, OrderWrite)> = Vec::new();
    let mut updates: Vec<(usize, Uuid, OrderWrite, Vec<String>)> = Vec::new();
    let mut new_lines: Vec<OrderLine> = Vec::new();
    let mut old_sales: HashMap<usize, stats::Sale> = HashMap::new();
    let mut lines_by_index: Vec<Vec<OrderLine>> = Vec::with_capacity(items.len());
    for (i, (existing, mut draft)) in items.into_iter().enumerate() {
        let id = existing.as_ref().map_or_else(Uuid::now_v7, |o| o.id);
        let lines: Vec<OrderLine> = draft
            .lines
            .iter()
            .enumerate()
            .map(|(p, (sku, name, quantity, price))| OrderLine {
                order_id: id,
                position: p as i32,
                sku: sku.clone(),
                name: name.clone(),
                quantity: *quantity,
                unit_price_cents: *price,
            })
            .collect();
        match existing {
            Some(old) => {
                let before = old_lines.remove(&old.id).unwrap_or_default();
                // The default date is that of creation: a retry without one changes nothing.
                if draft.default_ordered_at {
                    draft.write.ordered_at = old.ordered_at;
                }
                let old_write = OrderWrite::from(&old);
                if old_write == draft.write && before == lines {
                    out.push(Some(Saved { row: old, lines: before, outcome: Outcome::Unchanged }));
                    lines_by_index.push(Vec::new());
                    continue;
                }
                let mut fields = changed_fields(&to_doc(&old_write), &to_doc(&draft.write));
                if before != lines {
                    fields.push("lines".into());
                }
                old_sales.insert(i, sale(&old));
                updates.push((i, id, draft.write, fields));
            }
            None => {
                inserts.push((i, id, draft.write));
            }
        }
        new_lines.extend(lines.iter().cloned());
        lines_by_index.push(lines);
        out.push(None);
    }

    // Concurrent writers inserting the same new keys wait for each other in one order.
    inserts.sort_by(|a, b| (&a.2.source, &a.2.external_id).cmp(&(&b.2.source, &b.2.external_id)));
    // Written rows by the index of their order, iterated in that order.
    let mut rows: BTreeMap<usize, (Order, Outcome, Vec<String>)> = BTreeMap::new();
    // 10 parameters a row.
    for chunk in inserts.chunks(5_000) {
        let values: Vec<_> = chunk.iter().map(|(_, id, w)| (orders::id.eq(*id), w.clone())).collect();
        let inserted: Vec<Order> = diesel::insert_into(orders::table)
            .values(&values)
            .returning(Order::as_returning())
            .get_results(conn)
            .map_err(|e| (if chunk.len() == 1 { chunk[0].0 } else { NO_INDEX }, e.into()))?;
        for ((i, _, w), row) in chunk.iter().zip(inserted) {
            rows.insert(*i, (row, Outcome::Created, audit::set_fields(&to_doc(w))));
        }
    }
    for (i, row, fields) in update_rows(conn, &updates).map_err(|e| (NO_INDEX, e.into()))? {
        rows.insert(i, (row, Outcome::Updated, fields));
    }
    let changed: Vec<Uuid> = updates.iter().map(|(_, id, ..)| *id).collect();
    model::replace_lines(conn, &changed, &new_lines).map_err(|e| (NO_INDEX, e.into()))?;

    // The buyers' stats move, and their retention clock to their latest order.
    let mut stats = stats::StatsChanges::default();
    for (i, (row, ..)) in &rows {
        stats.order(old_sales.get(i), Some(&sale(row)));
        if let Some(c) = row.contact_id {
            stats.touch(c, row.ordered_at);
        }
    }
    for (i, (row, outcome, fields)) in rows {
        let lines = std::mem::take(&mut lines_by_index[i]);
        let action = if outcome == Outcome::Created { "order.created" } else { "order.updated" };
        changes.push(events::Change {
            kind: action.into(),
            resource_type: "order".into(),
            resource_id: row.id.to_string(),
            fields,
            data: Some(to_doc(&OrderOut::from_row(row.clone(), lines.clone()))),
        });
        out[i] = Some(Saved { row, lines, outcome });
    }
    changes.extend(apply_stats(conn, stats).map_err(|e| (NO_INDEX, e))?);
    events::change_many(conn, actor, changes).map_err(|e| (NO_INDEX, e.into()))?;
    Ok(out.into_iter().map(|s| s.expect("every order is saved")).collect())
}

/// Updates orders in one statement (a cached one for a single order).
fn update_rows(
    conn: &mut PgConnection,
    updates: &[(usize, Uuid, OrderWrite, Vec<String>)],
) -> QueryResult<Vec<(usize, Order, Vec<String>)>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    if let [(i, id, w, fields)] = updates {
        let row = diesel::update(orders::table.find(*id))
            .set((w, orders::version.eq(orders::version + 1), orders::updated_at.eq(diesel::dsl::now)))
            .returning(Order::as_returning())
            .get_result(conn)?;
        return Ok(vec![(*i, row, fields.clone())]);
    }
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: fn(&OrderWrite) -> Option<String>| -> Vec<Option<String>> {
        updates.iter().map(|(_, _, w, _)| f(w)).collect()
    };
    let ids: Vec<Uuid> = updates.iter().map(|(_, id, ..)| *id).collect();
    let client_ids: Vec<Option<Uuid>> = updates.iter().map(|(_, _, w, _)| w.client_id).collect();
    let contact_ids: Vec<Option<Uuid>> = updates.iter().map(|(_, _, w, _)| w.contact_id).collect();
    let totals: Vec<i64> = updates.iter().map(|(_, _, w, _)| w.total_cents).collect();
    let ats: Vec<DateTime<Utc>> = updates.iter().map(|(_, _, w, _)| w.ordered_at).collect();
    let rows: Vec<Order> = diesel::sql_query(
        "UPDATE orders o SET client_id = u.client_id, contact_id = u.contact_id, source = u.source, \
         external_id = u.external_id, number = u.number, status = u.status, currency = u.currency, \
         total_cents = u.total_cents, ordered_at = u.ordered_at, version = o.version + 1, updated_at = now() \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], \
                     $8::text[], $9::bigint[], $10::timestamptz[]) \
              AS u(id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at) \
         WHERE o.id = u.id \
         RETURNING o.id, o.client_id, o.contact_id, o.source, o.external_id, o.number, o.status, o.currency, \
                   o.total_cents, o.ordered_at, o.created_at, o.updated_at, o.version",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Nullable<SqlUuid>>, _>(&client_ids)
    .bind::<Array<Nullable<SqlUuid>>, _>(&contact_ids)
    .bind::<Array<Nullable<Text>>, _>(&col(|w| Some(w.source.clone())))
    .bind::<Array<Nullable<Text>>, _>(&col(|w| w.external_id.clone()))
    .bind::<Array<Nullable<Text>>, _>(&col(|w| w.number.clone()))
    .bind::<Array<Nullable<Text>>, _>(&col(|w| Some(w.status.clone())))
    .bind::<Array<Nullable<Text>>, _>(&col(|w| Some(w.currency.clone())))
    .bind::<Array<BigInt>, _>(&totals)
    .bind::<Array<Timestamptz>, _>(&ats)
    .load(conn)?;
    let mut by_id: HashMap<Uuid, Order> = rows.into_iter().map(|r| (r.id, r)).collect();
    Ok(updates.iter().filter_map(|(i, id, _, fields)| by_id.remove(id).map(|row| (*i, row, fields.clone()))).collect())
}

/// How the stats see an order row.
pub(super) fn sale(o: &Order) -> stats::Sale {
    stats::Sale {
        order_id: o.id,
        client_id: o.client_id,
        contact_id: o.contact_id,
        counted: stats::Sale::counts(&o.status),
        total_cents: o.total_cents,
        ordered_at: o.ordered_at,
    }
}

/// Writes the stats changes of the transaction's orders (a few statements
/// whatever their number) and returns the events of the clients and
/// contacts promoted to customer.
pub(super) fn apply_stats(
    conn: &mut PgConnection,
    stats: stats::StatsChanges,
) -> Result<Vec<events::Change>, AppError> {
    let mut changes = Vec::new();
    for (owner, promoted) in stats.apply(conn)? {
        let name = match owner {
            Owner::Client => "client",
            Owner::Contact => "contact",
        };
        if promoted.is_empty() {
            continue;
        }
        // The promoted rows as the API returns them, in one query per kind.
        let mut docs: HashMap<Uuid, Value> = match owner {
            Owner::Client => crate::services::related::clients_out(conn, &promoted)?
                .into_iter()
                .map(|(id, o)| (id, to_doc(&o)))
                .collect(),
            Owner::Contact => crate::services::related::contacts_out(conn, &promoted)?
                .into_iter()
                .map(|(id, o)| (id, to_doc(&o)))
                .collect(),
        };
        for id in promoted {
            changes.push(events::Change {
                kind: format!("{name}.updated"),
                resource_type: name.into(),
                resource_id: id.to_string(),
                fields: vec!["status".into()],
                data: docs.remove(&id),
            });
        }
    }
    Ok(changes)
}

/// [`write_all`] for one order.
pub(super) fn write_one(
    conn: &mut PgConnection,
    actor: &Actor,
    existing: Option<Order>,
    draft: Draft,
    read: Read,
) -> Result<Saved, AppError> {
    let mut saved = write_all(conn, actor, vec![(existing, draft)], read).map_err(|(_, e)| e)?;
    Ok(saved.remove(0))
}
