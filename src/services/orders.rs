//! Orders: creation, upsert by `(source, external_id)`, batch upsert,
//! customer matching by email, stats and prospect→customer promotion.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::audit;
use super::events;
use super::stats::{self, Owner};
use super::to_doc;
use super::{Errors, Precondition, changed_fields, decode, merge_patch};
use crate::auth::{Actor, Scope};
use crate::db::schema::orders;
use crate::domain::{Currency, Email, LawfulBasis, OrderStatus, Phone, Status};
use crate::error::{AppError, FieldError};
use crate::models::contact::{self as contact_model, ContactWrite};
use crate::models::order::{self as model, Order, OrderLine, OrderWrite};
use crate::pagination::{Page, PageRequest, SortKey};

/// Most orders in one batch.
pub const MAX_BATCH: usize = 1000;
/// Most lines in one order.
pub const MAX_LINES: usize = 500;

/// The buyer of an order, matched to a contact by email (created if absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[validate(required)]
    #[schema(required = true)]
    pub email: Option<String>,
    #[validate(length(min = 1, max = 100))]
    pub first_name: Option<String>,
    #[validate(length(min = 1, max = 100))]
    pub last_name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    #[validate(length(max = 100))]
    pub sku: Option<String>,
    #[validate(required, length(min = 1, max = 500))]
    #[schema(required = true)]
    pub name: Option<String>,
    /// > 0.
    #[validate(required, range(min = 1))]
    #[schema(required = true)]
    pub quantity: Option<i32>,
    /// ≥ 0, minor units.
    #[validate(required, range(min = 0))]
    #[schema(required = true)]
    pub unit_price_cents: Option<i64>,
}

/// The writable fields of an order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The buying company.
    pub client_id: Option<Uuid>,
    /// The buying person.
    pub contact_id: Option<Uuid>,
    /// Instead of `contact_id`: the buyer, matched by email or created.
    #[validate(nested)]
    pub customer: Option<CustomerInput>,
    /// Origin system, lowercase (`shopify`, `woocommerce`...). Default `api`.
    #[schema(example = "shopify")]
    pub source: Option<String>,
    /// Id in the origin system; unique per source.
    #[validate(length(min = 1, max = 200))]
    pub external_id: Option<String>,
    /// Human-facing order number.
    #[validate(length(max = 100))]
    pub number: Option<String>,
    #[validate(required)]
    #[schema(required = true)]
    pub status: Option<OrderStatus>,
    /// ISO 4217.
    #[validate(required)]
    #[schema(required = true, example = "EUR")]
    pub currency: Option<String>,
    /// Minor units, ≥ 0.
    #[validate(required, range(min = 0))]
    #[schema(required = true)]
    pub total_cents: Option<i64>,
    /// Default: now.
    pub ordered_at: Option<DateTime<Utc>>,
    #[validate(length(max = 500), nested)]
    pub lines: Option<Vec<LineInput>>,
}

/// One line as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineOut {
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

/// An order as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderOut {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub number: Option<String>,
    pub status: OrderStatus,
    pub currency: String,
    pub total_cents: i64,
    pub ordered_at: DateTime<Utc>,
    pub lines: Vec<LineOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl OrderOut {
    /// Builds the answer from a row and its lines.
    pub(crate) fn from_row(o: Order, lines: Vec<OrderLine>) -> Self {
        OrderOut {
            id: o.id,
            client_id: o.client_id,
            contact_id: o.contact_id,
            source: o.source,
            external_id: o.external_id,
            number: o.number,
            status: o.status.parse().unwrap_or(OrderStatus::Pending),
            currency: o.currency,
            total_cents: o.total_cents,
            ordered_at: o.ordered_at,
            lines: lines
                .into_iter()
                .map(|l| LineOut {
                    sku: l.sku,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            version: o.version,
        }
    }

    fn input(&self) -> OrderInput {
        OrderInput {
            client_id: self.client_id,
            contact_id: self.contact_id,
            customer: None,
            source: Some(self.source.clone()),
            external_id: self.external_id.clone(),
            number: self.number.clone(),
            status: Some(self.status),
            currency: Some(self.currency.clone()),
            total_cents: Some(self.total_cents),
            ordered_at: Some(self.ordered_at),
            lines: Some(
                self.lines
                    .iter()
                    .map(|l| LineInput {
                        sku: l.sku.clone(),
                        name: Some(l.name.clone()),
                        quantity: Some(l.quantity),
                        unit_price_cents: Some(l.unit_price_cents),
                    })
                    .collect(),
            ),
        }
    }
}

/// A buyer to match or create.
struct Customer {
    email: Email,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<Phone>,
}

/// A validated order, before customer matching.
pub struct Draft {
    write: OrderWrite,
    customer: Option<Customer>,
    lines: Vec<(Option<String>, String, i32, i64)>,
}

fn valid_source(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=50).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(c))
}

/// Validates an order document, listing every failing field.
pub fn validate(map: Map<String, Value>) -> Result<Draft, Vec<FieldError>> {
    let (input, mut errors) = decode::<OrderInput>(map);
    let Some(input) = input else {
        return Err(errors.0);
    };
    let currency = errors.opt("currency", input.currency.as_deref(), Currency::parse);
    let source = input.source.clone().unwrap_or_else(|| "api".into());
    if !valid_source(&source) {
        errors.push("source", "invalid_format", "1 to 50 lowercase letters, digits, `_`, `.` or `-`");
    }
    if input.client_id.is_none() && input.contact_id.is_none() && input.customer.is_none() {
        errors.push("client_id", "required", "give client_id, contact_id or customer");
    }
    if input.contact_id.is_some() && input.customer.is_some() {
        errors.push("customer", "conflict", "give either contact_id or customer, not both");
    }
    let customer = input.customer.as_ref().and_then(|c| {
        let email = errors.opt("customer.email", c.email.as_deref(), Email::parse)?;
        let phone = errors.opt("customer.phone", c.phone.as_deref(), Phone::parse);
        Some(Customer { email, first_name: c.first_name.clone(), last_name: c.last_name.clone(), phone })
    });
    let now = Utc::now().trunc_subsecs(6);
    if input.ordered_at.is_some_and(|t| t > now + chrono::Duration::days(1)) {
        errors.push("ordered_at", "in_future", "an order cannot be placed in the future");
    }
    if errors.0.is_empty() {
        let lines = input.lines.clone().unwrap_or_default();
        return Ok(Draft {
            write: OrderWrite {
                client_id: input.client_id,
                contact_id: input.contact_id,
                source,
                external_id: input.external_id,
                number: input.number,
                status: input.status.expect("required").as_str().to_owned(),
                currency: currency.expect("required").as_str().to_owned(),
                total_cents: input.total_cents.expect("required"),
                ordered_at: input.ordered_at.map(|t| t.trunc_subsecs(6)).unwrap_or(now),
            },
            customer,
            lines: lines
                .into_iter()
                .map(|l| (l.sku, l.name.unwrap_or_default(), l.quantity.unwrap_or(1), l.unit_price_cents.unwrap_or(0)))
                .collect(),
        });
    }
    Err(errors.0)
}

fn validate_one(map: Map<String, Value>) -> Result<Draft, AppError> {
    validate(map).map_err(AppError::Validation)
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Matches the customer to a contact (creating it under `contract`), and
/// fills `client_id` from the contact when absent. Returns the change of a
/// created contact, for the caller to record with the others at the end.
fn resolve(conn: &mut PgConnection, draft: &mut Draft) -> Result<Option<events::Change>, AppError> {
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
                let created = super::contacts::insert(conn, &write)?;
                let out = super::contacts::out(conn, created.clone())?;
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

/// The index of an error [`write_all`] cannot pin on one order.
const NO_INDEX: usize = usize::MAX;

/// What [`write_all`] wrote for one order.
struct Saved {
    row: Order,
    lines: Vec<OrderLine>,
    outcome: Outcome,
}

/// Writes orders (inserts, or updates of their `existing` rows), refreshes
/// the stats of every client and contact they touch, and records their
/// events and audit entries: a fixed number of statements whatever the number
/// of orders (customer matching aside), so a batch of 1,000 costs about what
/// one order does, times the rows. Events and audit come last, so the audit
/// chain head, which serialises every write, is held only until commit.
///
/// An error carries the index of the order it concerns.
fn write_all(
    conn: &mut PgConnection,
    actor: &Actor,
    mut items: Vec<(Option<Order>, Draft)>,
) -> Result<Vec<Saved>, (usize, AppError)> {
    // Contacts created for customers are recorded first, with the rest.
    let mut changes = Vec::new();
    for (i, (_, draft)) in items.iter_mut().enumerate() {
        changes.extend(resolve(conn, draft).map_err(|e| (i, e))?);
    }
    if items.len() > 1 {
        check_references(conn, &items)?;
    }
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
    for (i, (existing, draft)) in items.into_iter().enumerate() {
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

/// Refuses, at the first order that names it, a client or contact that does
/// not exist (the foreign keys would say so without telling which order).
fn check_references(conn: &mut PgConnection, items: &[(Option<Order>, Draft)]) -> Result<(), (usize, AppError)> {
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
fn sale(o: &Order) -> stats::Sale {
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
fn apply_stats(conn: &mut PgConnection, stats: stats::StatsChanges) -> Result<Vec<events::Change>, AppError> {
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
            Owner::Client => {
                super::related::clients_out(conn, &promoted)?.into_iter().map(|(id, o)| (id, to_doc(&o))).collect()
            }
            Owner::Contact => {
                super::related::contacts_out(conn, &promoted)?.into_iter().map(|(id, o)| (id, to_doc(&o))).collect()
            }
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
fn write_one(conn: &mut PgConnection, actor: &Actor, existing: Option<Order>, draft: Draft) -> Result<Saved, AppError> {
    let mut saved = write_all(conn, actor, vec![(existing, draft)]).map_err(|(_, e)| e)?;
    Ok(saved.remove(0))
}

/// Retries `f` when a concurrent writer inserted the same `(source, external_id)`.
fn with_retry<T>(
    conn: &mut PgConnection,
    mut f: impl FnMut(&mut PgConnection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let mut attempt = 0;
    loop {
        match conn.transaction(&mut f) {
            Err(AppError::Conflict { code: "already_exists", .. }) if attempt < 2 => attempt += 1,
            other => return other,
        }
    }
}

/// `POST /v1/orders`: 409 when `(source, external_id)` exists (use PUT to upsert).
pub fn create(conn: &mut PgConnection, actor: &Actor, body: Map<String, Value>) -> Result<OrderOut, AppError> {
    actor.require(Scope::OrdersWrite)?;
    let draft = validate_one(body)?;
    conn.transaction(|conn| {
        let saved = write_one(conn, actor, None, draft)?;
        Ok(OrderOut::from_row(saved.row, saved.lines))
    })
}

/// `PUT /v1/orders/external/{source}/{external_id}`: full upsert.
pub fn upsert_external(
    conn: &mut PgConnection,
    actor: &Actor,
    source: &str,
    external_id: &str,
    mut body: Map<String, Value>,
    pre: &Precondition,
) -> Result<(OrderOut, Outcome), AppError> {
    actor.require(Scope::OrdersWrite)?;
    let mut errors = Errors::default();
    for (field, value) in [("source", source), ("external_id", external_id)] {
        match body.get(field) {
            Some(Value::String(s)) if s != value => errors.push(field, "mismatch", "must match the path"),
            _ => {}
        }
        body.insert(field.into(), Value::String(value.into()));
    }
    errors.finish()?;
    // Validate once; `Draft` is rebuilt per attempt from the same body.
    validate_one(body.clone())?;
    with_retry(conn, |conn| {
        let draft = validate_one(body.clone())?;
        let existing = model::find_external(conn, source, external_id)?;
        if let Some(o) = &existing {
            pre.check(o.version)?;
        } else if matches!(pre, Precondition::Exists | Precondition::Versions(_)) {
            return Err(AppError::PreconditionFailed);
        }
        let saved = write_one(conn, actor, existing, draft)?;
        Ok((OrderOut::from_row(saved.row, saved.lines), saved.outcome))
    })
}

/// `GET /v1/orders/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<OrderOut, AppError> {
    actor.require(Scope::OrdersRead)?;
    let row = model::find(conn, id, false)?.ok_or(AppError::NotFound("order"))?;
    let lines = model::lines_of(conn, &[id])?;
    Ok(OrderOut::from_row(row, lines))
}

/// `PATCH /v1/orders/{id}`: an RFC 7396 merge patch (`lines` replaces all lines).
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    patch: Map<String, Value>,
    pre: &Precondition,
) -> Result<OrderOut, AppError> {
    actor.require(Scope::OrdersWrite)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("order"))?;
        pre.check(row.version)?;
        let lines = model::lines_of(conn, &[id])?;
        let mut doc =
            serde_json::to_value(OrderOut::from_row(row.clone(), lines).input()).map_err(AppError::internal)?;
        if patch.contains_key("customer") {
            doc.as_object_mut().expect("object").remove("contact_id");
        }
        merge_patch(&mut doc, &Value::Object(patch));
        let Value::Object(map) = doc else { unreachable!("patch of an object is an object") };
        let draft = validate_one(map)?;
        let saved = write_one(conn, actor, Some(row), draft)?;
        Ok(OrderOut::from_row(saved.row, saved.lines))
    })
}

/// `DELETE /v1/orders/{id}`.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid, pre: &Precondition) -> Result<(), AppError> {
    actor.require(Scope::OrdersWrite)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("order"))?;
        pre.check(row.version)?;
        diesel::delete(orders::table.find(id)).execute(conn)?;
        let mut changes = vec![events::Change {
            kind: "order.deleted".into(),
            resource_type: "order".into(),
            resource_id: id.to_string(),
            fields: vec![],
            data: None,
        }];
        let mut stats = stats::StatsChanges::default();
        stats.order(Some(&sale(&row)), None);
        changes.extend(apply_stats(conn, stats)?);
        Ok(events::change_many(conn, actor, changes)?)
    })
}

/// Body of `POST /v1/orders/batch`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchInput {
    /// Up to 1,000 orders, each with `external_id` (and `source`, default `api`).
    pub orders: Vec<OrderInput>,
}

/// The result of one batch item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchItem {
    pub index: usize,
    pub id: Uuid,
    pub result: Outcome,
}

/// Answer of `POST /v1/orders/batch`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchOut {
    pub data: Vec<BatchItem>,
}

/// `POST /v1/orders/batch`: all-or-nothing upsert by `(source, external_id)`.
pub fn batch(conn: &mut PgConnection, actor: &Actor, mut body: Map<String, Value>) -> Result<BatchOut, AppError> {
    actor.require(Scope::OrdersWrite)?;
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|k| *k != "orders")
        .map(|k| FieldError::new(k.clone(), "unknown_field", "this field does not exist"))
        .collect();
    let items = match body.remove("orders") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(AppError::field("orders", "invalid_type", "must be an array of orders"));
        }
        None => {
            return Err(AppError::field("orders", "required", "this field is required"));
        }
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(AppError::field("orders", "length", format!("between 1 and {MAX_BATCH} orders")));
    }
    let mut drafts = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("orders[{i}]");
        let Value::Object(map) = item else {
            errors.push(FieldError::new(prefix, "invalid_type", "must be an object"));
            continue;
        };
        match validate(map) {
            Ok(d) => {
                let key = (d.write.source.clone(), d.write.external_id.clone());
                if key.1.is_none() {
                    errors.push(FieldError::new(
                        format!("{prefix}.external_id"),
                        "required",
                        "a batch upserts by external_id",
                    ));
                } else if !seen.insert(key) {
                    errors.push(FieldError::new(
                        format!("{prefix}.external_id"),
                        "duplicate",
                        "appears twice in the batch",
                    ));
                }
                drafts.push(d);
            }
            Err(e) => errors.extend(Errors(e).prefixed(&prefix)),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    conn.transaction(|conn| {
        // The existing orders, locked in id order: concurrent batches over
        // the same orders wait for each other instead of deadlocking.
        let sources: BTreeSet<&str> = drafts.iter().map(|d| d.write.source.as_str()).collect();
        let externals: Vec<&str> = drafts.iter().filter_map(|d| d.write.external_id.as_deref()).collect();
        let found: Vec<Order> = orders::table
            .filter(orders::external_id.eq_any(&externals))
            .filter(orders::source.eq_any(sources.into_iter().collect::<Vec<_>>()))
            .order(orders::id)
            .select(Order::as_select())
            .for_update()
            .load(conn)?;
        let mut found: HashMap<(String, Option<String>), Order> =
            found.into_iter().map(|o| ((o.source.clone(), o.external_id.clone()), o)).collect();
        let items: Vec<(Option<Order>, Draft)> = drafts
            .into_iter()
            .map(|d| (found.remove(&(d.write.source.clone(), d.write.external_id.clone())), d))
            .collect();
        let saved = write_all(conn, actor, items).map_err(|(i, e)| at_index(e, i))?;
        let data = saved
            .into_iter()
            .enumerate()
            .map(|(index, s)| BatchItem { index, id: s.row.id, result: s.outcome })
            .collect();
        Ok(BatchOut { data })
    })
}

fn at_index(e: AppError, index: usize) -> AppError {
    match e {
        e if index == NO_INDEX => e,
        AppError::Validation(errs) => AppError::Validation(Errors(errs).prefixed(&format!("orders[{index}]"))),
        other => other,
    }
}

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
