//! `AppError` → GraphQL error, in one table: every error carries
//! `extensions.code`, the GraphQL counterpart of the REST status.
//!
//! | AppError | code | REST |
//! | --- | --- | --- |
//! | `Validation` | `VALIDATION`, with `errors: [{field, code, message}]` | 422 |
//! | `Forbidden` | `FORBIDDEN`, with `scope` | 403 |
//! | `Unauthorized` | `UNAUTHENTICATED` | 401 |
//! | `NotFound` | `NOT_FOUND` | 404 |
//! | `Conflict` | `CONFLICT`, with `reason` (and `errors` when a field is known) | 409 |
//! | `PreconditionFailed` | `PRECONDITION_FAILED` (`expectedVersion` is stale) | 412 |
//! | `Unavailable`, `Contention` | `UNAVAILABLE`, with `retryAfter` (seconds) | 503 |
//! | `Internal` | `INTERNAL`: a fixed message, the cause only in the log | 500 |
//! | `BadRequest`, `MethodNotAllowed`, `UnsupportedMediaType` | `BAD_REQUEST` | 400, 405, 415 |
//! | `PayloadTooLarge` | `PAYLOAD_TOO_LARGE` | 413 |
//! | `IdempotencyMismatch` | `IDEMPOTENCY_MISMATCH` | 422 |
//!
//! Field paths are those of the GraphQL input (`billingAddress.country`,
//! `lines[2].unitPriceCents`, `orders[4].externalId`). Like the problem
//! documents, messages never echo a submitted value.

use async_graphql::{ErrorExtensionValues, Value};

use crate::error::{AppError, FieldError, RETRY_AFTER_SECS};

/// The `extensions.code` of an error.
pub fn code(e: &AppError) -> &'static str {
    match e {
        AppError::Validation(_) => "VALIDATION",
        AppError::Forbidden { .. } | AppError::CorsRefused(_) => "FORBIDDEN",
        AppError::Unauthorized { .. } => "UNAUTHENTICATED",
        AppError::NotFound(_) => "NOT_FOUND",
        AppError::Conflict { .. } => "CONFLICT",
        AppError::PreconditionFailed => "PRECONDITION_FAILED",
        AppError::Unavailable(_) | AppError::Contention(_) => "UNAVAILABLE",
        AppError::Internal(_) => "INTERNAL",
        AppError::BadRequest(_) | AppError::MethodNotAllowed(_) | AppError::UnsupportedMediaType => "BAD_REQUEST",
        AppError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
        AppError::Gone(_) => "GONE",
        AppError::IdempotencyMismatch => "IDEMPOTENCY_MISMATCH",
        AppError::RateLimited(_) => "RATE_LIMITED",
    }
}

/// A snake_case service path as the GraphQL input names it:
/// `lines[2].unit_price_cents` → `lines[2].unitPriceCents`.
pub fn camel_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for ch in path.chars() {
        match ch {
            '_' if !out.is_empty() && !out.ends_with(['.', '[']) => upper = true,
            _ if upper => {
                out.extend(ch.to_uppercase());
                upper = false;
            }
            _ => out.push(ch),
        }
    }
    out
}

fn field_list(errors: &[FieldError]) -> Value {
    Value::List(
        errors
            .iter()
            .map(|e| {
                let mut obj = async_graphql::indexmap::IndexMap::new();
                obj.insert(async_graphql::Name::new("field"), Value::from(camel_path(&e.field)));
                obj.insert(async_graphql::Name::new("code"), Value::from(e.code.as_str()));
                obj.insert(async_graphql::Name::new("message"), Value::from(e.message.as_str()));
                Value::Object(obj)
            })
            .collect(),
    )
}

/// The GraphQL error for `e`, without logging (see the `From` impl).
pub fn to_error(e: &AppError) -> async_graphql::Error {
    let (_, _, detail) = e.slug_title_detail();
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code(e));
    match e {
        AppError::Validation(errors) => ext.set("errors", field_list(errors)),
        AppError::Forbidden { scope } => ext.set("scope", *scope),
        AppError::Conflict { code, field, detail } => {
            ext.set("reason", *code);
            if let Some(f) = field {
                ext.set("errors", field_list(&[FieldError::new(f.clone(), *code, detail.clone())]));
            }
        }
        AppError::Unavailable(_) | AppError::Contention(_) => ext.set("retryAfter", RETRY_AFTER_SECS),
        _ => {}
    }
    async_graphql::Error { message: detail, source: None, extensions: Some(ext) }
}

/// Logs the cause of an internal error (never sent to the client).
pub fn log_internal(e: &AppError) {
    if let AppError::Internal(cause) = e {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error in a GraphQL resolver");
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        log_internal(&e);
        to_error(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_camel_case() {
        assert_eq!(camel_path("siren"), "siren");
        assert_eq!(camel_path("billing_address.country"), "billingAddress.country");
        assert_eq!(camel_path("lines[2].unit_price_cents"), "lines[2].unitPriceCents");
        assert_eq!(camel_path("orders[4].external_id"), "orders[4].externalId");
        assert_eq!(camel_path("spent_last_12m_gte"), "spentLast12mGte");
        assert_eq!(camel_path(""), "");
    }

    #[test]
    fn internal_errors_carry_no_cause() {
        let e = to_error(&AppError::Internal("password=hunter2 at db".into()));
        assert!(!e.message.contains("hunter2"));
        let ext = serde_json::to_string(&e.extensions).unwrap();
        assert!(ext.contains("INTERNAL") && !ext.contains("hunter2"), "{ext}");
    }

    #[test]
    fn validation_lists_fields() {
        let e = to_error(&AppError::field("billing_address.country", "invalid", "not a country"));
        let ext = serde_json::to_value(&e.extensions).unwrap();
        assert_eq!(ext["code"], "VALIDATION");
        assert_eq!(ext["errors"][0]["field"], "billingAddress.country");
    }
}
