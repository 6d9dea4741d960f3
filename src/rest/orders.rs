//! `/v1/orders`: creation, upsert by external id, batch upsert.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{created, no_content, ok_versioned};
use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{BATCH_BODY_LIMIT, BulkJsonBody, Filter, IfMatch, JsonBody};
use crate::pagination::Page;
use crate::services::orders::{self, BatchInput, BatchOut, OrderFilter, OrderInput, OrderOut, Outcome};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_order)
        .service(batch_orders)
        .service(upsert_order)
        .service(list_orders)
        .service(get_order)
        .service(update_order)
        .service(delete_order);
}

/// Create an order (409 if its `(source, external_id)` exists: use PUT to upsert).
///
/// Owned by a `client_id`, a `contact_id`, or a `customer` matched by email
/// (a new contact is created under `lawful_basis: contract` when none
/// matches). The first order that is not cancelled makes its client
/// `customer`; the owners' stats move in the same transaction. Line names
/// are checked for special-category data. 409 `already_exists` when its
/// `(source, external_id)` is on file. Emits `order.created`. With
/// `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:write"])),
    request_body = OrderInput,
    responses((status = 201, description = "Created", body = OrderOut,
        headers(("Location" = String), ("ETag" = String)))))]
#[post("/orders")]
async fn create_order(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run_retrying(&state.pool, move |c| orders::create(c, &actor, body.0.clone())).await?;
    Ok(created(format!("/v1/orders/{}", out.id), out.version, &out))
}

/// Upsert up to 1,000 orders by `(source, external_id)` in one transaction.
///
/// Any invalid item: 422 listing every failing field as `orders[i].field`,
/// nothing written; every item needs an `external_id`, and two items may not
/// share one. Otherwise one result per item (`created`, `updated` or
/// `unchanged`), so the same batch sent again changes nothing. Body up to
/// 10 MiB.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:write"])),
    request_body = BatchInput,
    responses((status = 200, description = "Per-item results", body = BatchOut)))]
#[post("/orders/batch")]
async fn batch_orders(
    state: web::Data<AppState>,
    actor: Actor,
    body: BulkJsonBody<BATCH_BODY_LIMIT>,
) -> Result<HttpResponse, AppError> {
    let BulkJsonBody { slot, body } = body;
    let out = db::run_retrying(&state.pool, move |c| orders::batch(c, &actor, body.clone())).await?;
    drop(slot);
    Ok(HttpResponse::Ok().json(out))
}

/// Create or replace the order with this `(source, external_id)`.
///
/// The idempotent write for a shop plugin: the same body sent again answers
/// 200 `unchanged` with the same version. 201 with `Location` when created,
/// 200 when replaced. A `source` or `external_id` in the body must match the
/// path (422 `mismatch`). `If-Match: *` or an ETag requires the order to
/// exist (412 otherwise); without `If-Match`, the last write wins. The
/// owners' stats and statuses move in the same transaction.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:write"])),
    params(("source" = String, Path), ("external_id" = String, Path),
        ("If-Match" = Option<String>, Header, description = "ETag the replacement applies to")),
    request_body = OrderInput,
    responses(
        (status = 201, description = "Created", body = OrderOut, headers(("Location" = String), ("ETag" = String))),
        (status = 200, description = "Updated or unchanged", body = OrderOut, headers(("ETag" = String)))))]
#[put("/orders/external/{source}/{external_id}")]
async fn upsert_order(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let (source, external_id) = path.into_inner();
    let (out, outcome) = db::run_retrying(&state.pool, move |c| {
        orders::upsert_external(c, &actor, &source, &external_id, body.0.clone(), &pre.0)
    })
    .await?;
    Ok(if outcome == Outcome::Created {
        created(format!("/v1/orders/{}", out.id), out.version, &out)
    } else {
        ok_versioned(out.version, &out)
    })
}

/// List orders.
///
/// Cursor-paginated: oldest first by `created_at` (or least recently updated
/// first with `sort=updated_at`); pass `next_cursor` as `?after=` for the next
/// page, `null` on the last. Filters combine with AND. Each order carries its
/// lines.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:read"])), params(OrderFilter),
    responses((status = 200, description = "A page of orders", body = Page<OrderOut>)))]
#[get("/orders")]
async fn list_orders(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<OrderFilter>,
) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| orders::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get an order.
///
/// With its lines and an `ETag` (its version) to send as `If-Match` on a
/// later PATCH or DELETE. 404 for an unknown id.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:read"])),
    responses((status = 200, description = "The order", body = OrderOut, headers(("ETag" = String)))))]
#[get("/orders/{id}")]
async fn get_order(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| orders::get(c, &actor, id)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Update an order with a JSON merge patch (RFC 7396; `lines` replaces every line).
///
/// Send only the fields to change (`application/merge-patch+json`); `lines`,
/// when sent, replaces them all. The patched order must pass the same
/// validation as a creation (422 listing every failing field). With
/// `If-Match`, 412 when the order changed since that ETag. The owners' stats
/// move in the same transaction; emits `order.updated`.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = OrderInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated order", body = OrderOut, headers(("ETag" = String)))))]
#[patch("/orders/{id}")]
async fn update_order(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run_retrying(&state.pool, move |c| orders::update(c, &actor, id, body.0.clone(), &pre.0)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Delete an order.
///
/// Its lines go with it and its owners' stats are recomputed in the same
/// transaction. With `If-Match`, 412 when the order changed since that ETag.
/// Emits `order.deleted`. Deleting again answers 404.
#[utoipa::path(tag = "orders", security(("bearer" = ["orders:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the deletion applies to")),
    responses((status = 204, description = "Deleted")))]
#[delete("/orders/{id}")]
async fn delete_order(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run_retrying(&state.pool, move |c| orders::delete(c, &actor, id, &pre.0)).await?;
    Ok(no_content())
}
