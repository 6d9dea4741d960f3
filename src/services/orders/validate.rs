//! An order document to a [`Draft`]: every failing field listed at once.

use chrono::{SubsecRound, Utc};
use serde_json::{Map, Value};

use super::types::OrderInput;
use crate::domain::{Currency, Email, Phone};
use crate::error::{AppError, FieldError};
use crate::models::order::OrderWrite;
use crate::services::decode;

/// A buyer to match or create.
#[derive(Clone)]
pub(super) struct Customer {
    pub(super) email: Email,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) phone: Option<Phone>,
}

/// A validated order, before customer matching.
#[derive(Clone)]
pub struct Draft {
    pub(super) write: OrderWrite,
    pub(super) customer: Option<Customer>,
    pub(super) lines: Vec<(Option<String>, String, i32, i64)>,
    /// No `ordered_at` was given: `write.ordered_at` is now, the default of a
    /// new order; an existing order keeps its own (see `write::write_all`).
    pub(super) default_ordered_at: bool,
}

/// [`valid_source`] as a pattern, for the OpenAPI document.
pub const SOURCE_PATTERN: &str = "^[a-z0-9][a-z0-9_.-]{0,49}$";

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
    for (i, l) in input.lines.iter().flatten().enumerate() {
        if let Some(name) = &l.name {
            crate::services::sensitive::check(&mut errors, &format!("lines[{i}].name"), name);
        }
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
            default_ordered_at: input.ordered_at.is_none(),
        });
    }
    Err(errors.0)
}

pub(super) fn validate_one(map: Map<String, Value>) -> Result<Draft, AppError> {
    validate(map).map_err(AppError::Validation)
}
