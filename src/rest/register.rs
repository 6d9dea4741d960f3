//! `/v1/register` and `/v1/retention`.

use actix_web::{HttpResponse, get, patch, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::ok_versioned;
use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, IfMatch, JsonBody};
use crate::pagination::List;
use crate::services::register::{self, ActivityInput, ActivityOut, PoliciesInput, PolicyOut, RegisterOut};
use crate::services::retention::{self, RunOut, RunParams};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_register)
        .service(create_activity)
        .service(update_activity)
        .service(get_policies)
        .service(put_policies)
        .service(run_retention);
}

/// The Art. 30 record of processing activities, with purposes and retention.
///
/// One document: the processing activities, the purposes consents refer to
/// and the retention policies. Access exports quote it.
#[utoipa::path(tag = "register", security(("bearer" = ["register:read"])),
    responses((status = 200, description = "The register", body = RegisterOut)))]
#[get("/register")]
async fn get_register(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| register::register(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Add a processing activity to the register.
///
/// Validates every field at once (a 422 lists each failing one). Audited
/// (`register.activity_created`). With `Idempotency-Key`, a retry replays the
/// first answer.
#[utoipa::path(tag = "register", security(("bearer" = ["register:write"])), request_body = ActivityInput,
    responses((status = 201, description = "Created", body = ActivityOut, headers(("Location" = String), ("ETag" = String)))))]
#[post("/register/activities")]
async fn create_activity(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| register::create_activity(c, &actor, body.0)).await?;
    Ok(super::created(format!("/v1/register/activities/{}", out.id), out.version, &out))
}

/// Update a processing activity (merge patch).
///
/// Send only the fields to change (`application/merge-patch+json`); the
/// patched activity must pass the same validation as a creation. With
/// `If-Match`, 412 when it changed since that ETag. A patch that changes
/// nothing answers 200 with the same version. 404 for an unknown id. Audited.
#[utoipa::path(tag = "register", security(("bearer" = ["register:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = ActivityInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated", body = ActivityOut, headers(("ETag" = String)))))]
#[patch("/register/activities/{id}")]
async fn update_activity(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| register::update_activity(c, &actor, id, body.0, &pre.0)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Retention policies per status.
///
/// For each contact status: the days after which an inactive contact is due
/// for erasure (`null`: kept), and what the clock counts from (`last_order`
/// or `last_interaction`). Unpaginated.
#[utoipa::path(tag = "retention", security(("bearer" = ["register:read"])),
    responses((status = 200, description = "Policies", body = List<PolicyOut>)))]
#[get("/retention/policies")]
async fn get_policies(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| register::policies(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(List { data: out }))
}

/// Set retention policies (the statuses listed; others unchanged).
///
/// Each listed status gets its `days` and `basis` (default `last_interaction`
/// for prospects, `last_order` otherwise); statuses not listed keep theirs,
/// so sending the same policies again leaves them as they are. Audited. The
/// answer is every policy. Nothing is erased here: see
/// `POST /v1/retention/run`.
#[utoipa::path(tag = "retention", security(("bearer" = ["register:write"])), request_body = PoliciesInput,
    responses((status = 200, description = "Policies", body = List<PolicyOut>)))]
#[put("/retention/policies")]
async fn put_policies(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| register::set_policies(c, &actor, body.0)).await?;
    Ok(HttpResponse::Ok().json(List { data: out }))
}

/// List (dry run, the default) or erase the contacts past their retention period.
///
/// `dry_run` defaults to true: the answer lists what is due (up to 1,000
/// contacts per run; restricted contacts never). With `dry_run=false`, each
/// contact still due is erased in a transaction of its own, as an erasure
/// would (its email suppressed), and the run is audited; run it again for
/// the next 1,000.
#[utoipa::path(tag = "retention", security(("bearer" = ["retention:run"])), params(RunParams),
    responses((status = 200, description = "What is due, and what was erased", body = RunOut)))]
#[post("/retention/run")]
async fn run_retention(
    state: web::Data<AppState>,
    actor: Actor,
    p: Filter<RunParams>,
) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let dry = p.0.dry_run.unwrap_or(true);
    let out = db::run(&state.pool, move |c| retention::run(c, &actor, &key, dry)).await?;
    Ok(HttpResponse::Ok().json(out))
}
