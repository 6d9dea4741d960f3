//! `/v1/dsar`: data-subject requests, and `/v1/suppression/check`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, JsonBody};
use crate::pagination::Page;
use crate::services::dsar::{self, DsarFilter, DsarInput, DsarOut, ReasonInput};
use crate::services::export;
use crate::services::suppression::{self, CheckInput, CheckOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(submit_dsar)
        .service(list_dsar)
        .service(get_dsar)
        .service(process_dsar)
        .service(reject_dsar)
        .service(extend_dsar)
        .service(export_dsar)
        .service(check_suppression);
}

/// Submit a data-subject request (`dsar:submit` or `dsar:manage`).
///
/// Due one month after receipt (the same day of the next month, or its last
/// day). A `dsar:submit` token later sees only the status of its own requests.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:submit"]), ("bearer" = ["dsar:manage"])),
    request_body = DsarInput,
    responses((status = 201, description = "Received", body = DsarOut, headers(("Location" = String)))))]
#[post("/dsar")]
async fn submit_dsar(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let private = state.config.webhook_allow_private;
    let out = db::run(&state.pool, move |c| dsar::submit(c, &actor, &key, private, body.0)).await?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/dsar/{}", out.id))).json(out))
}

/// List requests: all with `dsar:manage`, one's own with `dsar:submit`.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:submit"]), ("bearer" = ["dsar:manage"])), params(DsarFilter),
    responses((status = 200, description = "A page of requests", body = Page<DsarOut>)))]
#[get("/dsar")]
async fn list_dsar(state: web::Data<AppState>, actor: Actor, f: Filter<DsarFilter>) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| dsar::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Get a request (404 for another submitter's request).
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:submit"]), ("bearer" = ["dsar:manage"])),
    responses((status = 200, description = "The request", body = DsarOut)))]
#[get("/dsar/{id}")]
async fn get_dsar(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| dsar::get(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Process a request in one transaction; it completes with a `result`.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])),
    responses((status = 200, description = "Completed", body = DsarOut)))]
#[post("/dsar/{id}/process")]
async fn process_dsar(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let key = state.suppression.clone();
    let out = db::run(&state.pool, move |c| dsar::process(c, &actor, &key, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Reject a request with a reason; the answer tells the right to complain.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])), request_body = ReasonInput,
    responses((status = 200, description = "Rejected", body = DsarOut)))]
#[post("/dsar/{id}/reject")]
async fn reject_dsar(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| dsar::reject(c, &actor, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Extend the deadline to three months after receipt: once, before the first deadline.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])), request_body = ReasonInput,
    responses((status = 200, description = "Extended", body = DsarOut)))]
#[post("/dsar/{id}/extend")]
async fn extend_dsar(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| dsar::extend(c, &actor, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Format of an export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (default) or `csv` (a ZIP of one CSV per kind of record).
    pub format: Option<String>,
}

/// Download the subject's data of a completed access or portability request.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])), params(ExportParams),
    responses(
        (status = 200, description = "The export: JSON, or with `?format=csv` a ZIP of one CSV per kind of record",
            content((Object = "application/json"), (Vec<u8> = "application/zip"))),
        (status = 409, description = "Not an access or portability request, or not completed yet",
            body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/dsar/{id}/export")]
async fn export_dsar(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    f: Filter<ExportParams>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let csv = match f.0.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(AppError::field("format", "unknown_value", "must be json or csv")),
    };
    let doc = db::run(&state.pool, move |c| dsar::export(c, &actor, id)).await?;
    if csv {
        let bytes = export::zip(&doc)?;
        Ok(HttpResponse::Ok()
            .content_type("application/zip")
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"dsar-{id}.zip\"")))
            .body(bytes))
    } else {
        Ok(HttpResponse::Ok().json(doc))
    }
}

/// Is this email on the suppression list? (It is hashed, never stored.)
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])), request_body = CheckInput,
    responses((status = 200, description = "Whether the email is suppressed", body = CheckOut)))]
#[post("/suppression/check")]
async fn check_suppression(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let out = db::run(&state.pool, move |c| suppression::check(c, &actor, &key, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}
