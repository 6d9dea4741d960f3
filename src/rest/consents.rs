//! `/v1/contacts/{id}/consents` and `/v1/purposes`.

use actix_web::{HttpResponse, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::ok_versioned;
use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{IfMatch, JsonBody};
use crate::pagination::List;
use crate::services::consents::{self, ConsentEvent, ConsentInput};
use crate::services::register::{self, PurposeInput, PurposeOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(record_consent)
        .service(current_consents)
        .service(consent_history)
        .service(list_purposes)
        .service(create_purpose)
        .service(update_purpose);
}

/// Record a consent grant or withdrawal (append-only).
///
/// A grant needs `collected_at`, `channel`, `proof.method` and `proof.wording`;
/// `pre_checked` and `terms_acceptance` are refused. A withdrawal needs only
/// `purpose` and `status`.
///
/// Events are never updated nor deleted: the latest per purpose is the
/// current state. `purpose` must be a key of `/v1/purposes` (422
/// `unknown_purpose`). 409 `restricted` for a grant while the contact's
/// processing is restricted (withdrawals are always accepted). Emits
/// `consent.granted` or `consent.withdrawn`. With `Idempotency-Key`, a retry
/// replays the first answer.
#[utoipa::path(tag = "consents", security(("bearer" = ["consents:write"])),
    request_body = ConsentInput,
    responses((status = 201, description = "Recorded", body = ConsentEvent)))]
#[post("/contacts/{id}/consents")]
async fn record_consent(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run_retrying(&state.pool, move |c| consents::record(c, &actor, id, body.0.clone())).await?;
    Ok(HttpResponse::Created().json(out))
}

/// The current consent state per purpose (the latest event of each).
///
/// One event per purpose ever recorded for the contact, granted or
/// withdrawn, with its proof. Unpaginated. 404 when the contact does not
/// exist.
#[utoipa::path(tag = "consents", security(("bearer" = ["consents:read"])),
    responses((status = 200, description = "Latest event per purpose", body = List<ConsentEvent>)))]
#[get("/contacts/{id}/consents")]
async fn current_consents(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| consents::current(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(List { data: out }))
}

/// Every consent event of a contact, oldest first.
///
/// The full ledger, with each event's proof and who recorded it: what makes
/// consent demonstrable (Art. 7(1)). Unpaginated. 404 when the contact does
/// not exist.
#[utoipa::path(tag = "consents", security(("bearer" = ["consents:read"])),
    responses((status = 200, description = "Every event", body = List<ConsentEvent>)))]
#[get("/contacts/{id}/consents/history")]
async fn consent_history(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| consents::history(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(List { data: out }))
}

/// List the purposes consents refer to.
///
/// Every purpose with its lawful basis, retention and whether it is
/// marketing (objection withdraws marketing consents). Unpaginated.
#[utoipa::path(tag = "register", security(("bearer" = ["register:read"])),
    responses((status = 200, description = "Every purpose", body = List<PurposeOut>)))]
#[get("/purposes")]
async fn list_purposes(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| register::list_purposes(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(List { data: out }))
}

/// Create a purpose.
///
/// `key` (lowercase letters, digits and underscores, starting with a letter)
/// is what consents name, and immutable once made. 409 `already_exists` for a
/// key on file. Audited. With `Idempotency-Key`, a retry replays the first
/// answer.
#[utoipa::path(tag = "register", security(("bearer" = ["register:write"])),
    request_body = PurposeInput,
    responses((status = 201, description = "Created", body = PurposeOut, headers(("Location" = String), ("ETag" = String)))))]
#[post("/purposes")]
async fn create_purpose(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| register::create_purpose(c, &actor, body.0)).await?;
    Ok(super::created(format!("/v1/purposes/{}", out.key), out.version, &out))
}

/// Update a purpose (merge patch; the key is immutable).
///
/// Send only the fields to change (`application/merge-patch+json`); a
/// different `key` is a 422 `immutable`. With `If-Match`, 412 when the
/// purpose changed since that ETag. 404 for an unknown key. Audited.
#[utoipa::path(tag = "register", security(("bearer" = ["register:write"])),
    params(("key" = String, Path), ("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = PurposeInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated", body = PurposeOut, headers(("ETag" = String)))))]
#[patch("/purposes/{key}")]
async fn update_purpose(
    state: web::Data<AppState>,
    actor: Actor,
    key: web::Path<String>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let key = key.into_inner();
    let out = db::run(&state.pool, move |c| register::update_purpose(c, &actor, &key, body.0, &pre.0)).await?;
    Ok(ok_versioned(out.version, &out))
}
