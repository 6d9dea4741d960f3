//! Reaching people (API.md §8): may-I-contact checks, one-click unsubscribe
//! links and their public page, Art. 14 notices, the review of flagged text.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, JsonBody};
use crate::pagination::Page;
use crate::services::notices::{self, DueFilter, DueOut, NoticeInput, NoticeOut};
use crate::services::reachability::{self, ReachabilityInput, ReachabilityOut};
use crate::services::review::{self, FlagFilter, FlagOut};
use crate::services::unsubscribe::{self, LinksInput, LinksOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(check_reachability)
        .service(create_unsubscribe_links)
        .service(record_notice)
        .service(notices_due)
        .service(review_sensitive);
}

/// The public one-click pages, outside `/v1`.
pub(super) fn configure_public(cfg: &mut ServiceConfig) {
    cfg.service(unsubscribe_page).service(unsubscribe_one_click);
}

/// May I contact these people, on this channel, for this purpose?
///
/// Up to 1,000 recipients by `contact_id`, `email` or `phone`, answered in
/// one query. Email and SMS to a `consumer` need a current grant for the
/// purpose; to a `professional` they are allowed unless withdrawn or
/// objected. Phone calls to a consumer need a current grant (French Code de
/// la consommation L223-1 as amended by loi 2025-594, since 11 August 2026),
/// unless a contract is in progress: an order not cancelled or refunded in
/// the last `CLIENTELE_CONTRACT_WINDOW_DAYS` (365). Suppressed and restricted
/// people are never allowed. A contact bought or received from a partner is
/// blocked (`art14_notice_pending`) until its Art. 14 notice is recorded,
/// unless `with_notice` says this message carries it.
#[utoipa::path(tag = "reachability", security(("bearer" = ["contacts:read"])), request_body = ReachabilityInput,
    responses((status = 200, description = "Every recipient, allowed or blocked with its reason", body = ReachabilityOut)))]
#[post("/reachability/check")]
async fn check_reachability(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let window = state.config.contract_window_days;
    let out = db::run(&state.pool, move |c| reachability::check(c, &actor, &key, window, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// One-click unsubscribe links (RFC 8058), one per contact and purpose.
///
/// Idempotent: the same contact and purpose give the same URL. Put the two
/// `headers` on the message, as they are, and the URL in its body. The URL
/// carries no personal data; its token (≥ 128 random bits) is stored hashed.
#[utoipa::path(tag = "reachability", security(("bearer" = ["consents:write"])), request_body = LinksInput,
    responses((status = 200, description = "A link per recipient, in the order asked", body = LinksOut)))]
#[post("/unsubscribe-links")]
async fn create_unsubscribe_links(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let base = state.config.public_url.clone();
    let out = db::run(&state.pool, move |c| unsubscribe::links(c, &actor, &key, &base, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Record the Art. 14 notice sent to a contact (it names the data's source).
///
/// For data not obtained from the person (bought, or received from a
/// partner): records the channel, template version and `sent_at` (default
/// now, never in the future), sets the contact's `art14_notice_sent_at`,
/// which unblocks it in reachability checks, and emits `contact.updated`.
/// Recording it again adds another notice. 404 when the contact does not
/// exist.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:write"])), request_body = NoticeInput,
    responses((status = 201, description = "Recorded", body = NoticeOut)))]
#[post("/contacts/{id}/notices")]
async fn record_notice(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| notices::record(c, &actor, id, body.0)).await?;
    Ok(HttpResponse::Created().json(out))
}

/// Contacts owed an Art. 14 notice, soonest due first (`overdue` when past).
///
/// Each with the provenance the notice must name. Cursor-paginated; pass
/// `next_cursor` as `?after=`. `due_before` narrows to the notices due before
/// an instant.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])), params(DueFilter),
    responses((status = 200, description = "A page of notices due", body = Page<DueOut>)))]
#[get("/notices/due")]
async fn notices_due(state: web::Data<AppState>, actor: Actor, f: Filter<DueFilter>) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| notices::due(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Free text flagged as special-category data (`CLIENTELE_SENSITIVE_TEXT=flag`).
///
/// Each flag names the resource, the field and the category; never the text.
#[utoipa::path(tag = "audit", security(("bearer" = ["audit:read"])), params(FlagFilter),
    responses((status = 200, description = "A page of flags, oldest first", body = Page<FlagOut>)))]
#[get("/review/sensitive")]
async fn review_sensitive(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<FlagFilter>,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| review::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The page an unsubscribe link opens (public): it changes nothing.
///
/// Mail scanners fetch links: the page asks the person to confirm, which
/// POSTs to the same address. The same page for every token.
#[utoipa::path(tag = "reachability", security(()),
    responses((status = 200, description = "A confirmation page", content_type = "text/html", body = String)))]
#[get("/u/{token}")]
async fn unsubscribe_page(_token: web::Path<String>) -> HttpResponse {
    super::dsar::html(HttpResponse::Ok(), UNSUBSCRIBE_CONFIRM)
}

/// Unsubscribe in one click (RFC 8058), public.
///
/// The mailbox provider POSTs `List-Unsubscribe=One-Click`; a person POSTs
/// the page's form. Records the withdrawal of the link's purpose once (a
/// second POST changes nothing), with its `consent.withdrawn` event and audit
/// entry. Unknown and erased links get the same answer. Rate-limited per
/// client address.
#[utoipa::path(tag = "reachability", security(()),
    responses((status = 200, description = "Unsubscribed (the same page whatever the token)", content_type = "text/html",
        body = String),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem,
            content_type = "application/problem+json")))]
#[post("/u/{token}")]
async fn unsubscribe_one_click(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    db::run_retrying(&state.pool, move |c| unsubscribe::one_click(c, &token, agent.clone())).await?;
    Ok(super::dsar::html(HttpResponse::Ok(), UNSUBSCRIBED))
}

const UNSUBSCRIBE_CONFIRM: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Unsubscribe</title>\
<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>Unsubscribe</h1>\
<p>Stop receiving these messages?</p><form method=\"post\">\
<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
<button type=\"submit\" style=\"font-size:1.1em;padding:.5em 1.5em\">Unsubscribe</button></form></body></html>";

const UNSUBSCRIBED: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Unsubscribed</title>\
<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>You are unsubscribed</h1>\
<p>You will not receive these messages any more.</p></body></html>";
