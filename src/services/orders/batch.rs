//! `POST /v1/orders/batch`: up to 1,000 upserts in one transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::owners::Read;
use super::types::{OrderInput, Outcome};
use super::validate::{Draft, validate};
use super::write::{NO_INDEX, write_all};
use super::{MAX_BATCH, with_retry};
use crate::auth::{Actor, Scope};
use crate::db::schema::orders;
use crate::error::{AppError, FieldError};
use crate::models::order::Order;
use crate::services::Errors;

/// Body of `POST /v1/orders/batch`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchInput {
    /// Up to 1,000 orders, each with `external_id` (and `source`, default `api`);
    /// each (`source`, `external_id`) once in the batch (422 `duplicate`).
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
    with_retry(conn, |conn| {
        // The existing orders, as read: `write_all` locks them in id order,
        // after their owners, and fails if one moved meanwhile.
        let sources: BTreeSet<&str> = drafts.iter().map(|d| d.write.source.as_str()).collect();
        let externals: Vec<&str> = drafts.iter().filter_map(|d| d.write.external_id.as_deref()).collect();
        let found: Vec<Order> = orders::table
            .filter(orders::external_id.eq_any(&externals))
            .filter(orders::source.eq_any(sources.into_iter().collect::<Vec<_>>()))
            .select(Order::as_select())
            .load(conn)?;
        let mut found: HashMap<(String, Option<String>), Order> =
            found.into_iter().map(|o| ((o.source.clone(), o.external_id.clone()), o)).collect();
        let items: Vec<(Option<Order>, Draft)> = drafts
            .iter()
            .cloned()
            .map(|d| (found.remove(&(d.write.source.clone(), d.write.external_id.clone())), d))
            .collect();
        let saved = write_all(conn, actor, items, Read::Latest).map_err(|(i, e)| at_index(e, i))?;
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
