//! Orders: creation, upsert by `(source, external_id)`, batch upsert,
//! customer matching by email, stats and prospect→customer promotion.
//!
//! - [`types`]: what the API takes and returns;
//! - [`validate`]: an order document to a [`validate::Draft`], listing every failing field;
//! - [`owners`]: the client, contact or customer an order names, matched or created;
//! - [`write`]: set-based writes of any number of orders, their stats and events;
//! - [`batch`]: `POST /v1/orders/batch`;
//! - [`read`]: lists and exports.
//!
//! This file holds the operations on one order.

mod batch;
mod owners;
mod read;
mod types;
mod validate;
mod write;

use diesel::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::events;
use super::stats;
use super::{Errors, Precondition, merge_patch};
use crate::auth::{Actor, Scope};
use crate::db::schema::orders;
use crate::error::AppError;
use crate::models::order::{self as model};

pub use batch::{BatchInput, BatchItem, BatchOut, batch};
use owners::Read;
pub use read::{OrderFilter, all_for_contact, list};
pub use types::{CustomerInput, LineInput, LineOut, OrderInput, OrderOut, Outcome};
use validate::validate_one;
pub use validate::{Draft, SOURCE_PATTERN, validate};
use write::{apply_stats, sale, write_one};

/// Most orders in one batch.
pub const MAX_BATCH: usize = 1000;
/// Most lines in one order.
pub const MAX_LINES: usize = 500;

/// Retries `f` when a concurrent writer inserted the same `(source,
/// external_id)` (or created the contact of the same new customer).
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
        let saved = write_one(conn, actor, None, draft, Read::Latest)?;
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
        // The body as sent is checked before the path fills it in: a
        // `source` that is not a string is a failing field, not overwritten.
        match body.get(field) {
            Some(Value::String(s)) if s != value => errors.push(field, "mismatch", "must match the path"),
            Some(Value::String(_) | Value::Null) | None => {}
            Some(_) => errors.push(field, "invalid_type", "invalid value: expected a string"),
        }
        body.insert(field.into(), Value::String(value.into()));
    }
    errors.finish()?;
    // Validate once; `Draft` is rebuilt per attempt from the same body.
    validate_one(body.clone())?;
    with_retry(conn, |conn| {
        let draft = validate_one(body.clone())?;
        let existing = model::find_external(conn, source, external_id)?;
        // Checked on the row as read: `write_one` locks it after its owners,
        // and fails unless it is still at that version.
        if let Some(o) = &existing {
            pre.check(o.version)?;
        } else if matches!(pre, Precondition::Exists | Precondition::Versions(_)) {
            return Err(AppError::PreconditionFailed);
        }
        let read = if matches!(pre, Precondition::Versions(_)) { Read::Exact } else { Read::Latest };
        let saved = write_one(conn, actor, existing, draft, read)?;
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
        // As read: `write_one` locks it after its owners, and fails if it moved.
        let row = model::find(conn, id, false)?.ok_or(AppError::NotFound("order"))?;
        let lines = model::lines_of(conn, &[id])?;
        let mut doc =
            serde_json::to_value(OrderOut::from_row(row.clone(), lines).input()).map_err(AppError::internal)?;
        let mut known = doc.clone();
        known.as_object_mut().expect("object").insert("customer".into(), Value::Null);
        super::refuse_unknown_keys(&known, &patch)?;
        if patch.contains_key("customer") {
            doc.as_object_mut().expect("object").remove("contact_id");
        }
        merge_patch(&mut doc, &Value::Object(patch));
        let Value::Object(map) = doc else { unreachable!("patch of an object is an object") };
        // 422 before 412: see `clients::update`.
        let draft = validate_one(map)?;
        pre.check(row.version)?;
        let saved = write_one(conn, actor, Some(row), draft, Read::Exact)?;
        Ok(OrderOut::from_row(saved.row, saved.lines))
    })
}

/// `DELETE /v1/orders/{id}`.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid, pre: &Precondition) -> Result<(), AppError> {
    actor.require(Scope::OrdersWrite)?;
    conn.transaction(|conn| {
        let read = model::find(conn, id, false)?.ok_or(AppError::NotFound("order"))?;
        let row = owners::lock_one(conn, &read)?;
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
