//! `/v1/clients`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{created, no_content, ok_versioned};
use crate::auth::{Actor, Scope};
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, IfMatch, JsonBody};
use crate::pagination::Page;
use crate::services::clients::{self, ClientFilter, ClientInput, ClientOut};
use crate::services::contacts::{self, ContactFilter, ContactOut};
use crate::services::orders::{self, OrderFilter, OrderOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_client)
        .service(list_clients)
        .service(get_client)
        .service(update_client)
        .service(delete_client)
        .service(list_client_contacts)
        .service(list_client_orders);
}

/// Create a client.
///
/// Validates every field at once (a 422 lists each failing one): the SIREN's
/// and SIRET's Luhn keys, a SIRET that carries the SIREN, a French VAT number
/// that carries it too, `currency` required with `annual_revenue_cents`. 409
/// `already_exists` for a SIREN or SIRET already on file. Emits
/// `client.created`. With `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:write"])),
    request_body = ClientInput,
    responses((status = 201, description = "Created", body = ClientOut,
        headers(("Location" = String), ("ETag" = String)))))]
#[post("/clients")]
async fn create_client(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run_retrying(&state.pool, move |c| clients::create(c, &actor, body.0.clone())).await?;
    Ok(created(format!("/v1/clients/{}", out.id), out.version, &out))
}

/// List clients.
///
/// Cursor-paginated: oldest first by `created_at` (or least recently updated
/// first with `sort=updated_at`); pass `next_cursor` as `?after=` for the next
/// page, `null` on the last. Filters combine with AND. A cursor is valid only
/// for the sort order that made it (422 otherwise). Each row carries its
/// stats, `spent_last_12m_cents` computed at read time.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])), params(ClientFilter),
    responses((status = 200, description = "A page of clients", body = Page<ClientOut>)))]
#[get("/clients")]
async fn list_clients(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<ClientFilter>,
) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| clients::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a client.
///
/// With its stats and an `ETag` (its version) to send as `If-Match` on a later
/// PATCH or DELETE. 404 for an unknown id; 301 to the survivor for a client merged
/// into another one.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])),
    responses((status = 200, description = "The client", body = ClientOut, headers(("ETag" = String))),
        (status = 301, description = "Merged into the client at `Location`", headers(("Location" = String)))))]
#[get("/clients/{id}")]
async fn get_client(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let read = move |c: &mut diesel::PgConnection| clients::get(c, &actor, id);
    match super::quality::read_or_forward(&state, "clients", id, read, crate::services::merge::client_survivor).await? {
        Ok(out) => Ok(ok_versioned(out.version, &out)),
        Err(moved) => Ok(moved),
    }
}

/// Update a client with a JSON merge patch (RFC 7396).
///
/// Send only the fields to change (`application/merge-patch+json`); `null`
/// clears a field, except `name`. The patched client must pass the same
/// validation as a creation (422 listing every failing field). With
/// `If-Match`, 412 when the client changed since that ETag. A patch that
/// changes nothing answers 200 with the same version and emits nothing;
/// otherwise the version moves and `client.updated` is emitted.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = ClientInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated client", body = ClientOut, headers(("ETag" = String)))))]
#[patch("/clients/{id}")]
async fn update_client(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run_retrying(&state.pool, move |c| clients::update(c, &actor, id, body.0.clone(), &pre.0)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Delete a client (409 while orders reference it; its contacts are detached).
///
/// 409 `in_use` while an order references the client (delete or move the
/// orders first). Its contacts stay, with `client_id` cleared. With
/// `If-Match`, 412 when the client changed since that ETag. Emits
/// `client.deleted`. Deleting again answers 404.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the deletion applies to")),
    responses((status = 204, description = "Deleted")))]
#[delete("/clients/{id}")]
async fn delete_client(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run_retrying(&state.pool, move |c| clients::delete(c, &actor, id, &pre.0)).await?;
    Ok(no_content())
}

/// List the contacts of a client.
///
/// `GET /v1/contacts` restricted to this client, with the same filters and
/// cursor paging. 404 when the client does not exist.
#[utoipa::path(tag = "clients", security(("bearer" = ["contacts:read"])), params(ContactFilter),
    responses((status = 200, description = "A page of contacts", body = Page<ContactOut>)))]
#[get("/clients/{id}/contacts")]
async fn list_client_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    f: Filter<ContactFilter>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let page = db::run(&state.pool, move |c| {
        actor.require(Scope::ContactsRead)?;
        clients::exists(c, id)?;
        contacts::list(c, &actor, ContactFilter { client_id: Some(id), ..f.0 })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// List the orders of a client.
///
/// `GET /v1/orders` restricted to this client, with the same filters and
/// cursor paging. 404 when the client does not exist.
#[utoipa::path(tag = "clients", security(("bearer" = ["orders:read"])), params(OrderFilter),
    responses((status = 200, description = "A page of orders", body = Page<OrderOut>)))]
#[get("/clients/{id}/orders")]
async fn list_client_orders(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    f: Filter<OrderFilter>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let page = db::run(&state.pool, move |c| {
        actor.require(Scope::OrdersRead)?;
        clients::exists(c, id)?;
        orders::list(c, &actor, OrderFilter { client_id: Some(id), ..f.0 })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
