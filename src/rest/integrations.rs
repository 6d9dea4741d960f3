//! `/v1/events`, `/v1/webhooks` and `/v1/tokens/revoke`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{created, no_content, ok_versioned};
use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, IfMatch, JsonBody};
use crate::pagination::List;
use crate::pagination::Page;
use crate::record::events::{self, EventFilter, FeedPage};
use crate::services::tokens::{self, RevokeInput, RevokedOut};
use crate::services::webhooks::{self, DeliveryFilter, DeliveryOut, WebhookInput, WebhookOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(event_feed)
        .service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(list_deliveries)
        .service(redeliver)
        .service(revoke_token);
}

/// The change feed, in the order of record.
///
/// Every create, update, delete, consent, request step, erasure and audit
/// checkpoint, limited to what the token may read. Kept 30 days.
///
/// The guarantee: a poller that follows `next_cursor` never misses an event
/// that committed, however long the transaction that wrote it ran and
/// however many replicas write. An event appears once every transaction that
/// could precede it has ended (typically milliseconds after its commit; the
/// lag is `record_horizon_lag_seconds` in `/metrics`). The cursor is opaque;
/// it may move past the last event of a page.
#[utoipa::path(tag = "integrations", security(("bearer" = ["clients:read"]), ("bearer" = ["contacts:read"]),
        ("bearer" = ["orders:read"]), ("bearer" = ["consents:read"]), ("bearer" = ["dsar:manage"]),
        ("bearer" = ["audit:read"])),
    params(EventFilter),
    responses((status = 200, description = "A page of events", body = FeedPage)))]
#[get("/events")]
async fn event_feed(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<EventFilter>,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| events::feed(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Subscribe a URL to events; the answer carries the signing secret, once.
///
/// `url` must be https (unless private networks are allowed) without
/// credentials, on a host resolving to public addresses only (422
/// otherwise); `events` are types or patterns (`contact.*`). Deliveries are
/// signed (`Clientele-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>">`) and retried for 3 days. Store the `secret`: it is never
/// shown again. With `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])), request_body = WebhookInput,
    responses((status = 201, description = "Created", body = WebhookOut, headers(("Location" = String), ("ETag" = String)))))]
#[post("/webhooks")]
async fn create_webhook(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let private = state.config.webhook_allow_private;
    let out = db::run(&state.pool, move |c| webhooks::create(c, &actor, private, body.0)).await?;
    Ok(created(format!("/v1/webhooks/{}", out.id), out.version, &out))
}

/// List subscriptions (without their secrets).
///
/// Every subscription with its events, whether it is enabled, and since when
/// it has been failing. Unpaginated.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])),
    responses((status = 200, description = "Subscriptions", body = List<WebhookOut>)))]
#[get("/webhooks")]
async fn list_webhooks(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| webhooks::list(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(List { data: out }))
}

/// Get a subscription.
///
/// Without its secret, with an `ETag` to send as `If-Match` on a later
/// PATCH. 404 for an unknown id.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])),
    responses((status = 200, description = "The subscription", body = WebhookOut, headers(("ETag" = String)))))]
#[get("/webhooks/{id}")]
async fn get_webhook(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| webhooks::get(c, &actor, id)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Update a subscription (merge patch of `url`, `events`, `enabled`).
///
/// Send only the fields to change (`application/merge-patch+json`); a new
/// `url` is checked as on creation. Setting `enabled: true` again clears the
/// failure state of a subscription that was disabled. With `If-Match`, 412
/// when it changed since that ETag. A patch that changes nothing answers 200
/// unchanged. The secret stays the same. Audited.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = WebhookInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "Updated", body = WebhookOut, headers(("ETag" = String)))))]
#[patch("/webhooks/{id}")]
async fn update_webhook(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let private = state.config.webhook_allow_private;
    let out = db::run(&state.pool, move |c| webhooks::update(c, &actor, private, id, body.0, &pre.0)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Delete a subscription and its pending deliveries.
///
/// Its deliveries and their attempts go with it; nothing more is sent.
/// Audited. Deleting again answers 404.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])),
    responses((status = 204, description = "Deleted")))]
#[delete("/webhooks/{id}")]
async fn delete_webhook(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&state.pool, move |c| webhooks::delete(c, &actor, id)).await?;
    Ok(no_content())
}

/// Deliveries of a subscription with their latest attempts.
///
/// Oldest first, cursor-paginated (pass `next_cursor` as `?after=`); filter by
/// `status` (`pending`, `succeeded`, `failed` after 3 days of retries). 404
/// for an unknown subscription.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])), params(DeliveryFilter),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryOut>)))]
#[get("/webhooks/{id}/deliveries")]
async fn list_deliveries(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    f: Filter<DeliveryFilter>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| webhooks::deliveries(c, &actor, id, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Queue an event for delivery again, now.
///
/// Whether or not it was delivered before: the delivery becomes `pending`
/// with its next attempt now (asking again only requeues it). 404 for an
/// unknown subscription or event. Audited.
#[utoipa::path(tag = "integrations", security(("bearer" = ["webhooks:manage"])),
    params(("id" = Uuid, Path), ("event_id" = Uuid, Path)),
    responses((status = 202, description = "Queued")))]
#[post("/webhooks/{id}/deliveries/{event_id}/redeliver")]
async fn redeliver(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AppError> {
    let (id, event_id) = path.into_inner();
    db::run(&state.pool, move |c| webhooks::redeliver(c, &actor, id, event_id)).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"queued": true})))
}

/// Revoke a token by its `jti`: later uses answer 401.
///
/// Takes effect on every instance within about 5 seconds (the revocation
/// list is refreshed in the background). Revoking a `jti` again answers the
/// first revocation's time. Audited. With `Idempotency-Key`, a retry replays
/// the first answer.
#[utoipa::path(tag = "integrations", security(("bearer" = ["tokens:manage"])), request_body = RevokeInput,
    responses((status = 200, description = "Revoked", body = RevokedOut)))]
#[post("/tokens/revoke")]
async fn revoke_token(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| tokens::revoke(c, &actor, body.0)).await?;
    if let Ok(mut set) = state.revoked.write() {
        set.insert(out.jti.clone());
    }
    Ok(HttpResponse::Ok().json(out))
}
