//! Segments (API.md §12): `/v1/{contacts,clients}/search` and `/count`,
//! and saved segments under `/v1/segments`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{created, no_content, ok_versioned};
use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, IfMatch, JsonBody};
use crate::pagination::Page;
use crate::services::clients::ClientOut;
use crate::services::contacts::ContactOut;
use crate::services::segments::{
    self, CountInput, CountOut, CountQuery, Members, MembersQuery, Resource, SearchInput, SegmentFilter, SegmentInput,
    SegmentOut,
};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(search_contacts)
        .service(count_contacts)
        .service(search_clients)
        .service(count_clients)
        .service(create_segment)
        .service(list_segments)
        .service(get_segment)
        .service(update_segment)
        .service(delete_segment)
        .service(segment_members)
        .service(segment_count);
}

/// Search contacts with a segment filter.
///
/// The filter language of API.md §12: `{"all": [...]}` or `{"any": [...]}`,
/// nestable 4 deep, at most 50 conditions, each `{"field", "op", "value"}`.
/// The answer is a page as `GET /v1/contacts` gives, in the same order and
/// with the same cursors; one SQL statement per page. A field or op that does
/// not exist or does not fit is a 422 naming its place (`filter.all[2].op`).
/// Reading only: safe to retry.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])),
    request_body = SearchInput,
    responses((status = 200, description = "A page of contacts", body = Page<ContactOut>)))]
#[post("/contacts/search")]
async fn search_contacts(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| segments::search_contacts(c, &actor, body.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Count the contacts a segment filter selects.
///
/// Exact, whatever the number; the same filter as `POST /v1/contacts/search`.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])),
    request_body = CountInput,
    responses((status = 200, description = "The count", body = CountOut)))]
#[post("/contacts/count")]
async fn count_contacts(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| segments::count(c, &actor, Resource::Contacts, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Search clients with a segment filter.
///
/// The filter language of API.md §12 over the fields of clients and their
/// stats. A page as `GET /v1/clients` gives; 422 naming a bad field or op.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])),
    request_body = SearchInput,
    responses((status = 200, description = "A page of clients", body = Page<ClientOut>)))]
#[post("/clients/search")]
async fn search_clients(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| segments::search_clients(c, &actor, body.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Count the clients a segment filter selects.
///
/// Exact, whatever the number; the same filter as `POST /v1/clients/search`.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])),
    request_body = CountInput,
    responses((status = 200, description = "The count", body = CountOut)))]
#[post("/clients/count")]
async fn count_clients(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| segments::count(c, &actor, Resource::Clients, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Save a segment.
///
/// A name, a resource (`contacts` needs `contacts:write`, `clients`
/// `clients:write`) and a filter. The filter is checked as a search would
/// check it, and may not use the fields that name a person (`email`,
/// `first_name`, `last_name`, `q`): a saved segment holds no personal data.
/// Audited.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:write"]), ("bearer" = ["clients:write"])),
    request_body = SegmentInput,
    responses((status = 201, description = "Created", body = SegmentOut,
        headers(("Location" = String), ("ETag" = String)))))]
#[post("/segments")]
async fn create_segment(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run_retrying(&state.pool, move |c| segments::create(c, &actor, body.0.clone())).await?;
    Ok(created(format!("/v1/segments/{}", out.id), out.version, &out))
}

/// List saved segments.
///
/// The segments of the resources the token may read, oldest first.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:read"]), ("bearer" = ["clients:read"])), params(SegmentFilter),
    responses((status = 200, description = "A page of segments", body = Page<SegmentOut>)))]
#[get("/segments")]
async fn list_segments(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<SegmentFilter>,
) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| segments::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a saved segment.
///
/// Needs the read scope of its resource.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:read"]), ("bearer" = ["clients:read"])),
    responses((status = 200, description = "The segment", body = SegmentOut, headers(("ETag" = String)))))]
#[get("/segments/{id}")]
async fn get_segment(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| segments::get(c, &actor, id)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Update a saved segment with a JSON merge patch (RFC 7396).
///
/// `name` and `filter` may change, `resource` may not. A new `filter`
/// replaces the old one whole (two filters merged key by key would mean
/// neither). `If-Match` guards against a concurrent change (412). Audited.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:write"]), ("bearer" = ["clients:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = SegmentInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated segment", body = SegmentOut, headers(("ETag" = String)))))]
#[patch("/segments/{id}")]
async fn update_segment(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out =
        db::run_retrying(&state.pool, move |c| segments::update(c, &actor, id, pre.0.clone(), body.0.clone())).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Delete a saved segment.
///
/// Its members are untouched. Audited.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:write"]), ("bearer" = ["clients:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the deletion applies to")),
    responses((status = 204, description = "Deleted")))]
#[delete("/segments/{id}")]
async fn delete_segment(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run_retrying(&state.pool, move |c| segments::delete(c, &actor, id, pre.0.clone())).await?;
    Ok(no_content())
}

/// The members of a saved segment, a page.
///
/// Contacts or clients as their lists give them, the filter evaluated now.
/// With `channel` and `purpose` (contact segments), only the people that
/// may be reached so, by the rules of `POST /v1/reachability`.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:read"]), ("bearer" = ["clients:read"])), params(MembersQuery),
    responses((status = 200, description = "A page of contacts or of clients", body = Members)))]
#[get("/segments/{id}/members")]
async fn segment_members(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: Filter<MembersQuery>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let window = state.config.contract_window_days;
    let page = db::run(&state.pool, move |c| segments::members(c, &actor, id, q.0, window)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Count the members of a saved segment.
///
/// Exact; with `channel` and `purpose`, the reachable ones only.
#[utoipa::path(tag = "segments", security(("bearer" = ["contacts:read"]), ("bearer" = ["clients:read"])), params(CountQuery),
    responses((status = 200, description = "The count", body = CountOut)))]
#[get("/segments/{id}/count")]
async fn segment_count(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: Filter<CountQuery>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let window = state.config.contract_window_days;
    let out = db::run(&state.pool, move |c| segments::count_members(c, &actor, id, q.0, window)).await?;
    Ok(HttpResponse::Ok().json(out))
}
