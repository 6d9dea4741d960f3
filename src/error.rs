//! The one error type, mapped to RFC 9457 `application/problem+json` in one table.
//!
//! Handlers and services return [`AppError`]; the request middleware re-renders
//! the problem with the request's path and id (see `http::middleware`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

/// One failing field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`billing_address.country`, `lines[2].quantity`, `orders[4]`).
    pub field: String,
    /// Machine-readable reason (`required`, `invalid_format`, `unknown_field`, ...).
    pub code: String,
    /// Human-readable explanation; never echoes the submitted value.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// An RFC 9457 problem document, as every error answer carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference identifying the problem type (relative to the API root).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    pub detail: String,
    /// Path of the request that failed (without its query string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The `X-Request-Id` of the failing request, to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every failing field (422), or the conflicting field (409).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The body is not valid JSON or not an object.
    #[error("malformed request: {0}")]
    BadRequest(String),
    /// No usable bearer token. `error` is the RFC 6750 code.
    #[error("unauthorized: {description}")]
    Unauthorized { error: &'static str, description: String },
    /// The token lacks the scope the operation needs.
    #[error("forbidden: scope {scope} required")]
    Forbidden { scope: &'static str },
    /// No such resource (or not visible to this token).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A browser's cross-origin request from an origin, method or header
    /// that `CLIENTELE_CORS_ORIGINS` does not allow.
    #[error("CORS refused: {0}")]
    CorsRefused(String),
    /// The method is not allowed on this path; the methods that are, for `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// A uniqueness or state conflict.
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String, field: Option<String> },
    /// `If-Match` did not match the current `ETag`.
    #[error("precondition failed")]
    PreconditionFailed,
    /// What the request points at is no longer kept (an expired sync token).
    #[error("gone: {0}")]
    Gone(String),
    /// The body exceeds the limit (bytes).
    #[error("payload too large")]
    PayloadTooLarge(usize),
    /// The body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// One or more fields failed validation.
    #[error("validation failed on {} field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// The same `Idempotency-Key` was used with another body.
    #[error("idempotency key reused with another request")]
    IdempotencyMismatch,
    /// Too many requests for this token; retry after this many seconds.
    #[error("rate limited")]
    RateLimited(u64),
    /// The database is unreachable or the pool is exhausted.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Postgres aborted the transaction because of a concurrent one (a
    /// deadlock, 40P01, or a serialization failure, 40001), or rows read
    /// before locking moved before they were locked. The whole transaction
    /// may run again (`db::run_retrying` does, a few times); answered as a
    /// 503 with `Retry-After`. The cause is a metric label.
    #[error("transaction aborted by a concurrent one: {0}")]
    Contention(&'static str),
    /// Anything else: logged with its cause, answered as an opaque 500.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// A 422 with a single failing field.
    pub fn field(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// Wraps any error as an internal one.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(Box::new(e))
    }

    pub(crate) fn slug_title_detail(&self) -> (&'static str, &'static str, String) {
        match self {
            AppError::BadRequest(d) => ("malformed-request", "Malformed request", d.clone()),
            AppError::Unauthorized { description, .. } => ("unauthorized", "Unauthorized", description.clone()),
            AppError::Forbidden { scope } => {
                ("forbidden", "Forbidden", format!("this operation requires the scope `{scope}`"))
            }
            AppError::NotFound(what) => ("not-found", "Not found", format!("{what} not found")),
            AppError::CorsRefused(why) => (
                "cors-refused",
                "Cross-origin request refused",
                format!("{why}; allowed origins are set by CLIENTELE_CORS_ORIGINS"),
            ),
            AppError::MethodNotAllowed(_) => {
                ("method-not-allowed", "Method not allowed", "this method is not allowed on this path".into())
            }
            AppError::Conflict { detail, .. } => ("conflict", "Conflict", detail.clone()),
            AppError::PreconditionFailed => (
                "precondition-failed",
                "Precondition failed",
                "If-Match does not match the current ETag of the resource; fetch it again".into(),
            ),
            AppError::Gone(d) => ("gone", "Gone", d.clone()),
            AppError::PayloadTooLarge(limit) => {
                ("payload-too-large", "Payload too large", format!("the body exceeds {limit} bytes"))
            }
            AppError::UnsupportedMediaType => (
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json (imports: text/csv or application/x-ndjson)".into(),
            ),
            AppError::Validation(errs) => {
                ("validation", "Validation failed", format!("{} field(s) failed validation", errs.len()))
            }
            AppError::IdempotencyMismatch => (
                "idempotency-mismatch",
                "Idempotency key reused",
                "this Idempotency-Key was already used with a different request body".into(),
            ),
            AppError::RateLimited(secs) => (
                "rate-limited",
                "Too many requests",
                format!("the rate limit of this token is exhausted; retry in {secs} s"),
            ),
            AppError::Unavailable(_) => (
                "unavailable",
                "Service unavailable",
                "the database is unreachable or busy; retry after the delay in Retry-After".into(),
            ),
            AppError::Contention(_) => (
                "unavailable",
                "Service unavailable",
                "concurrent requests changed the same data; retry after the delay in Retry-After".into(),
            ),
            AppError::Internal(_) => (
                "internal",
                "Internal server error",
                "an unexpected error occurred; quote the request_id to support".into(),
            ),
        }
    }

    /// Renders the problem, with the request's path and id when known.
    pub fn to_response(&self, instance: Option<&str>, request_id: Option<&str>) -> HttpResponse {
        let status = self.status_code();
        let (slug, title, detail) = self.slug_title_detail();
        let errors = match self {
            AppError::Validation(errs) => errs.clone(),
            AppError::Conflict { code, field: Some(f), detail } => {
                vec![FieldError::new(f.clone(), *code, detail.clone())]
            }
            _ => Vec::new(),
        };
        let problem = Problem {
            type_: format!("/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            instance: instance.map(str::to_owned),
            request_id: request_id.map(str::to_owned),
            errors,
        };
        let mut res = HttpResponse::build(status);
        res.content_type("application/problem+json");
        match self {
            AppError::Unauthorized { error, description } => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"clientele\", error=\"{error}\", error_description=\"{description}\""),
                ));
            }
            AppError::Forbidden { scope } => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"clientele\", error=\"insufficient_scope\", scope=\"{scope}\""),
                ));
            }
            AppError::Unavailable(_) | AppError::Contention(_) => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS)));
            }
            AppError::RateLimited(secs) => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from(*secs)));
            }
            AppError::MethodNotAllowed(allow) => {
                res.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        res.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::CorsRefused(_) => StatusCode::FORBIDDEN,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Validation(_) | AppError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::Contention(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response(None, None)
    }
}

/// [`AppError::Contention`] cause: Postgres detected a deadlock (40P01).
pub const DEADLOCK: &str = "deadlock";
/// [`AppError::Contention`] cause: a serialization failure (40001).
pub const SERIALIZATION_FAILURE: &str = "serialization_failure";
/// [`AppError::Contention`] cause: rows read before locking moved before they were locked.
pub const MOVED: &str = "moved";

/// Which API field a database constraint protects, for 409/422 answers.
fn constraint_field(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "clients_siren_key" => "siren",
        "clients_siret_key" => "siret",
        "contacts_email_lower_key" => "email",
        "orders_source_external_id_key" => "external_id",
        "orders_client_id_fkey" | "contacts_client_id_fkey" => "client_id",
        "orders_contact_id_fkey" => "contact_id",
        _ => return None,
    })
}

impl From<DieselError> for AppError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => AppError::NotFound("resource"),
            DieselError::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or_default().to_owned();
                let field = constraint_field(&constraint).map(str::to_owned);
                match kind {
                    DatabaseErrorKind::UniqueViolation => AppError::Conflict {
                        code: "already_exists",
                        detail: format!("a resource with this {} already exists", field.as_deref().unwrap_or("key")),
                        field,
                    },
                    DatabaseErrorKind::ForeignKeyViolation
                        if info.message().starts_with("update or delete on table") =>
                    {
                        AppError::Conflict {
                            code: "in_use",
                            detail: "the resource is still referenced by other records".into(),
                            field: None,
                        }
                    }
                    DatabaseErrorKind::ForeignKeyViolation => AppError::field(
                        field.unwrap_or_else(|| "id".into()),
                        "not_found",
                        "the referenced resource does not exist",
                    ),
                    DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => AppError::field(
                        field.unwrap_or(constraint),
                        "constraint",
                        "the value breaks a database constraint",
                    ),
                    DatabaseErrorKind::SerializationFailure => AppError::Contention(SERIALIZATION_FAILURE),
                    // Diesel has no kind for 40P01, and its error information does not
                    // carry the SQLSTATE: the message is Postgres's (English unless
                    // `lc_messages` says otherwise, which a role cannot set for itself).
                    _ if info.message() == "deadlock detected" => AppError::Contention(DEADLOCK),
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                        AppError::Unavailable(info.message().to_owned())
                    }
                    // Safety net: the edge refuses NUL and invalid text before it gets here.
                    _ if info.message().starts_with("invalid byte sequence") => {
                        AppError::field("body", "invalid_characters", "text must be valid UTF-8 without NUL characters")
                    }
                    _ => AppError::Internal(Box::new(DieselError::DatabaseError(kind, info))),
                }
            }
            other => AppError::internal(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Unavailable("blocking pool shut down".into())
    }
}
