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
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])),
    responses((status = 200, description = "The client", body = ClientOut, headers(("ETag" = String)))))]
#[get("/clients/{id}")]
async fn get_client(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| clients::get(c, &actor, id)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Update a client with a JSON merge patch (RFC 7396).
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
