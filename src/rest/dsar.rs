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
        .service(approve_dsar)
        .service(verify_page)
        .service(verify_dsar)
        .service(reject_dsar)
        .service(extend_dsar)
        .service(export_dsar)
        .service(export_dsar_zip)
        .service(check_suppression);
}

/// Submit a data-subject request (`dsar:submit`, `dsar:submit_verified` or `dsar:manage`).
///
/// With `dsar:submit` the request starts as `identity_unverified`: a one-time
/// link (valid 7 days) goes to the email already on file for the subject, by
/// SMTP when configured, else in a `dsar.verification_requested` event for
/// the controller's mailer. The answer is the same whether or not the email
/// is known. Once the person confirms, the request is `received` and due one
/// month later (the same day of the next month, or its last day); unverified,
/// it expires after 30 days. `dsar:submit_verified` (a partner that
/// authenticated the person) and `dsar:manage` skip the step. No identity
/// document is ever asked for. A submitter later sees only the status of its
/// own requests.
#[utoipa::path(tag = "dsar",
    security(("bearer" = ["dsar:submit"]), ("bearer" = ["dsar:submit_verified"]), ("bearer" = ["dsar:manage"])),
    request_body = DsarInput,
    responses((status = 201, description = "Submitted: `identity_unverified` or `received`", body = DsarOut,
        headers(("Location" = String)))))]
#[post("/dsar")]
async fn submit_dsar(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let setup = state.dsar.clone();
    let out = db::run(&state.pool, move |c| dsar::submit(c, &actor, &setup, body.0)).await?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/dsar/{}", out.id))).json(out))
}

/// List requests: all with `dsar:manage`, one's own with `dsar:submit`.
///
/// Cursor-paginated, oldest first; pass `next_cursor` as `?after=`. Filter by
/// `status`, `type`, or `due_before` for the open requests whose deadline
/// comes first. Without `dsar:manage`, the status of one's own requests
/// only: no subject, changes, note or result.
#[utoipa::path(tag = "dsar",
    security(("bearer" = ["dsar:submit"]), ("bearer" = ["dsar:submit_verified"]), ("bearer" = ["dsar:manage"])),
    params(DsarFilter),
    responses((status = 200, description = "A page of requests", body = Page<DsarOut>)))]
#[get("/dsar")]
async fn list_dsar(state: web::Data<AppState>, actor: Actor, f: Filter<DsarFilter>) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| dsar::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Get a request (404 for another submitter's request).
///
/// With `dsar:manage`, the whole request, its deadline and, once completed,
/// its `result`. Without it, the status of one's own request only; another
/// submitter's request answers 404.
#[utoipa::path(tag = "dsar",
    security(("bearer" = ["dsar:submit"]), ("bearer" = ["dsar:submit_verified"]), ("bearer" = ["dsar:manage"])),
    responses((status = 200, description = "The request", body = DsarOut)))]
#[get("/dsar/{id}")]
async fn get_dsar(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| dsar::get(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Process a request in one transaction; it completes with a `result`.
///
/// 409 while the request is `identity_unverified`, and for an erasure that
/// awaits its approval (`CLIENTELE_DSAR_ERASURE_APPROVAL=true`) or that the
/// same subject approved.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])),
    responses((status = 200, description = "Completed", body = DsarOut),
        (status = 409, description = "Unverified, closed, or an erasure awaiting a second person's approval",
            body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/dsar/{id}/process")]
async fn process_dsar(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let setup = state.dsar.clone();
    let out = db::run(&state.pool, move |c| dsar::process(c, &actor, &setup, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Approve an erasure as a second person (four eyes).
///
/// By a `dsar:manage` subject other than the submitter; whoever then
/// processes it must be another subject again. Required before `process`
/// when `CLIENTELE_DSAR_ERASURE_APPROVAL=true`.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])),
    responses((status = 200, description = "Approved", body = DsarOut),
        (status = 409, description = "Not an open erasure, already approved, or approved by its submitter",
            body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/dsar/{id}/approve")]
async fn approve_dsar(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| dsar::approve(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The page a verification link opens (public): it changes nothing.
///
/// Mail scanners fetch links, so a GET never verifies: the page asks the
/// person to confirm, which POSTs to the same address. The page is the same
/// for every token, known or not.
#[utoipa::path(tag = "dsar", security(()),
    responses((status = 200, description = "A confirmation page", content_type = "text/html", body = String)))]
#[get("/dsar/verify/{token}")]
async fn verify_page(_token: web::Path<String>) -> HttpResponse {
    html(HttpResponse::Ok(), PAGE_CONFIRM)
}

/// What a verification answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct VerifiedOut {
    /// Always `received`: the request is now handled, within a month.
    pub status: &'static str,
    /// The deadline of the answer.
    pub due_at: chrono::DateTime<chrono::Utc>,
}

/// Confirm a request as its data subject (public; the link's one use).
///
/// Moves the request to `received`; its one-month deadline counts from now,
/// and the submitter's callback hears `dsar.received`. The same 404 for an
/// unknown link and one already used; 410 once expired (7 days). Rate-limited
/// per client address. A browser form (`Accept: text/html`) gets a page.
#[utoipa::path(tag = "dsar", security(()),
    responses((status = 200, description = "Verified", body = VerifiedOut),
        (status = 404, description = "Unknown or already used", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = crate::error::Problem,
            content_type = "application/problem+json")))]
#[post("/dsar/verify/{token}")]
async fn verify_dsar(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let wants_html =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let out = db::run(&state.pool, move |c| crate::services::identity::verify(c, &token, dsar::status_doc)).await;
    match (out, wants_html) {
        (Ok(row), false) => Ok(HttpResponse::Ok().json(VerifiedOut { status: "received", due_at: row.due_at })),
        (Ok(_), true) => Ok(html(HttpResponse::Ok(), PAGE_DONE)),
        (Err(e @ (AppError::NotFound(_) | AppError::Gone(_))), true) => {
            Ok(html(HttpResponse::build(actix_web::ResponseError::status_code(&e)), PAGE_INVALID))
        }
        (Err(e), _) => Err(e),
    }
}

/// A small page for a person, with a strict CSP, never cached nor framed.
pub(super) fn html(mut res: actix_web::HttpResponseBuilder, body: &'static str) -> HttpResponse {
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

const PAGE_CONFIRM: &str = include_str!("verify_confirm.html");
const PAGE_DONE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>Request confirmed</title><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">\
<h1>Thank you</h1><p>Your request is confirmed. It will be answered within one month.</p></body></html>";
const PAGE_INVALID: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>Link not valid</title><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">\
<h1>This link is not valid</h1><p>It has expired or was already used. If you still want to exercise your rights, \
make the request again.</p></body></html>";

/// Reject a request with a reason; the answer tells the right to complain.
///
/// Closes the request as `rejected` with its `rejection_reason` and the
/// `complaint_notice` to pass on (Art. 12(4)). An unverified request may be
/// rejected too (manifestly unfounded, Art. 12(5)); its link stops working.
/// 409 `closed` once completed, rejected or expired. Emits `dsar.rejected`.
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
///
/// Art. 12(3): the new `due_at` is three months after verification (or
/// receipt), with the reason recorded. 409 `not_extendable` when already
/// extended or once the first deadline has passed, 409 while the request is
/// unverified or closed. Emits `dsar.extended`.
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
    /// Deprecated: `json` (default) or `csv`, the ZIP that
    /// `GET /v1/dsar/{id}/export.zip` answers (kept for existing clients).
    // `deprecated: true` is written in by `rest::contract`.
    pub format: Option<ExportFormat>,
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON document.
    Json,
    /// A ZIP of one CSV per kind of record.
    Csv,
}

/// A ZIP archive, as bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ZipArchive(#[allow(dead_code)] Vec<u8>);

/// Download the subject's data of a completed access or portability request, as JSON.
///
/// One JSON document. Access (Art. 15): the contact, its client, its
/// orders with their lines, consents (current and history), interactions,
/// where the data came from (`source`), the subject's requests and the
/// register's information (`processing`: purposes, recipients, retention,
/// the right to complain); never anybody else's data. Portability (Art. 20):
/// what the person provided (`contact`, `orders`, `consents`). No data held:
/// `{"data_held": false}`. Every download is audited (`dsar.exported`) and
/// may be repeated. 409 for another type of request or one not completed
/// yet. The deprecated `?format=csv` answers the ZIP of
/// `GET /v1/dsar/{id}/export.zip` instead.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])), params(ExportParams),
    responses(
        (status = 200, description = "The export: JSON, or with the deprecated `?format=csv` the ZIP of `export.zip`",
            content((Object = "application/json"), (ZipArchive = "application/zip"))),
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
    if f.0.format == Some(ExportFormat::Csv) {
        return zip_export(&state, actor, id).await;
    }
    let doc = db::run(&state.pool, move |c| dsar::export(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(doc))
}

/// Download the subject's data of a completed access or portability request, as a ZIP.
///
/// The same data as `GET /v1/dsar/{id}/export`, as a ZIP archive of one
/// CSV per kind of record (`contact.csv`, `orders.csv`, `order_lines.csv`,
/// `consents.csv`; for access also `interactions.csv`, `requests.csv`,
/// `client.csv`), sent as an
/// attachment named `dsar-{id}.zip`. Every download is audited
/// (`dsar.exported`). 409 for another type of request or one not completed yet.
#[utoipa::path(tag = "dsar", security(("bearer" = ["dsar:manage"])),
    responses(
        (status = 200, description = "A ZIP of one CSV per kind of record", body = ZipArchive,
            content_type = "application/zip",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"dsar-{id}.zip\"`"))),
        (status = 409, description = "Not an access or portability request, or not completed yet",
            body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/dsar/{id}/export.zip")]
async fn export_dsar_zip(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    zip_export(&state, actor, id.into_inner()).await
}

async fn zip_export(state: &AppState, actor: Actor, id: Uuid) -> Result<HttpResponse, AppError> {
    let doc = db::run(&state.pool, move |c| dsar::export(c, &actor, id)).await?;
    let bytes = export::zip(&doc)?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"dsar-{id}.zip\"")))
        .body(bytes))
}

/// Is this email on the suppression list? (It is hashed, never stored.)
///
/// Emails of erased or objecting people are kept only as a keyed hash, so
/// that a plugin can skip them before a re-import. `email` is the only field
/// (422 for a malformed email or any other field). Changes nothing.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])), request_body = CheckInput,
    responses((status = 200, description = "Whether the email is suppressed", body = CheckOut)))]
#[post("/suppression/check")]
async fn check_suppression(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let out = db::run(&state.pool, move |c| suppression::check(c, &actor, &key, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}
