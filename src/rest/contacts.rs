//! `/v1/contacts` and their interactions.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{created, no_content, ok_versioned};
use crate::auth::{Actor, Scope};
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, IfMatch, JsonBody};
use crate::pagination::Page;
use crate::services::contacts::{
    self, ContactFilter, ContactInput, ContactOut, InteractionFilter, InteractionInput, InteractionOut,
};
use crate::services::orders::{self, OrderFilter, OrderOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_contact)
        .service(list_contacts)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(create_interaction)
        .service(list_interactions)
        .service(list_contact_orders);
}

/// Create a contact.
///
/// Validates every field at once (a 422 lists each failing one); a
/// `client_id` that does not exist is a 422 `not_found`. 409 `already_exists`
/// for an email already on file (case-insensitive), and 409 `suppressed` for
/// a prospect whose email is on the suppression list (it may come back only
/// under `lawful_basis: contract`). A contact acquired from a vendor or
/// partner is owed an Art. 14 notice (`art14_notice_due_at`). Emits
/// `contact.created`. With `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:write"])),
    request_body = ContactInput,
    responses((status = 201, description = "Created", body = ContactOut,
        headers(("Location" = String), ("ETag" = String)))))]
#[post("/contacts")]
async fn create_contact(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let out = db::run_retrying(&state.pool, move |c| contacts::create(c, &actor, &key, body.0.clone())).await?;
    Ok(created(format!("/v1/contacts/{}", out.id), out.version, &out))
}

/// List contacts.
///
/// Cursor-paginated: oldest first by `created_at` (or least recently updated
/// first with `sort=updated_at`); pass `next_cursor` as `?after=` for the next
/// page, `null` on the last. Filters combine with AND; `consent=<purpose>`
/// selects a campaign segment (a current grant, neither suppressed nor
/// restricted). A cursor is valid only for the sort order that made it.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])), params(ContactFilter),
    responses((status = 200, description = "A page of contacts", body = Page<ContactOut>)))]
#[get("/contacts")]
async fn list_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<ContactFilter>,
) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| contacts::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a contact.
///
/// With its stats, audience and provenance, and an `ETag` (its version) to
/// send as `If-Match` on a later PATCH or DELETE. 404 for an unknown id; 301 to the survivor for a contact merged
/// into another one.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])),
    responses((status = 200, description = "The contact", body = ContactOut, headers(("ETag" = String))),
        (status = 301, description = "Merged into the contact at `Location`", headers(("Location" = String)))))]
#[get("/contacts/{id}")]
async fn get_contact(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let read = move |c: &mut diesel::PgConnection| contacts::get(c, &actor, id);
    match super::quality::read_or_forward(&state, "contacts", id, read, crate::services::merge::contact_survivor)
        .await?
    {
        Ok(out) => Ok(ok_versioned(out.version, &out)),
        Err(moved) => Ok(moved),
    }
}

/// Update a contact with a JSON merge patch (RFC 7396).
///
/// Send only the fields to change (`application/merge-patch+json`); `null`
/// clears a field. The patched contact must pass the same validation as a
/// creation (422 listing every failing field). 409 `restricted` while
/// processing is restricted (only a data-subject request may change it), and
/// 409 `suppressed` when the change would make a suppressed email a prospect
/// again. With `If-Match`, 412 when the contact changed since that ETag. A
/// patch that changes nothing answers 200 with the same version; otherwise
/// `contact.updated` is emitted.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the update applies to")),
    request_body(content = ContactInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated contact", body = ContactOut, headers(("ETag" = String)))))]
#[patch("/contacts/{id}")]
async fn update_contact(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let key = state.suppression.clone();
    let out =
        db::run_retrying(&state.pool, move |c| contacts::update(c, &actor, &key, id, body.0.clone(), &pre.0)).await?;
    Ok(ok_versioned(out.version, &out))
}

/// Delete a contact (its interactions go; its orders stay, detached).
///
/// Its interactions and consent events are deleted with it; its orders stay,
/// with `contact_id` cleared. 409 `restricted` while processing is
/// restricted. With `If-Match`, 412 when the contact changed since that
/// ETag. Emits `contact.deleted`. This is no GDPR erasure (no suppression,
/// no proof): that is a data-subject request of type `erasure`.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:write"])),
    params(("If-Match" = Option<String>, Header, description = "ETag the deletion applies to")),
    responses((status = 204, description = "Deleted")))]
#[delete("/contacts/{id}")]
async fn delete_contact(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    pre: IfMatch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run_retrying(&state.pool, move |c| contacts::delete(c, &actor, id, &pre.0)).await?;
    Ok(no_content())
}

/// Record an interaction with a contact.
///
/// A call, email, meeting or note, inbound or outbound; `occurred_at`
/// defaults to now and may not be in the future. An inbound interaction moves
/// the contact's `last_interaction_at` (and so its retention clock). The
/// summary is checked for special-category data (422 `sensitive_data` by
/// default). 409 `restricted` while the contact's processing is restricted.
/// With `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:write"])),
    request_body = InteractionInput,
    responses((status = 201, description = "Recorded", body = InteractionOut)))]
#[post("/contacts/{id}/interactions")]
async fn create_interaction(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run_retrying(&state.pool, move |c| contacts::add_interaction(c, &actor, id, body.0.clone())).await?;
    Ok(HttpResponse::Created().json(out))
}

/// List the interactions of a contact, oldest first.
///
/// Cursor-paginated in order of record; pass `next_cursor` as `?after=` for
/// the next page. 404 when the contact does not exist.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])), params(InteractionFilter),
    responses((status = 200, description = "A page of interactions", body = Page<InteractionOut>)))]
#[get("/contacts/{id}/interactions")]
async fn list_interactions(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    f: Filter<InteractionFilter>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let page = db::run(&state.pool, move |c| contacts::list_interactions(c, &actor, id, f.0)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// List the orders of a contact.
///
/// `GET /v1/orders` restricted to this contact, with the same filters and
/// cursor paging. 404 when the contact does not exist.
#[utoipa::path(tag = "contacts", security(("bearer" = ["orders:read"])), params(OrderFilter),
    responses((status = 200, description = "A page of orders", body = Page<OrderOut>)))]
#[get("/contacts/{id}/orders")]
async fn list_contact_orders(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    f: Filter<OrderFilter>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let page = db::run(&state.pool, move |c| {
        actor.require(Scope::OrdersRead)?;
        // An order names an existing contact (a foreign key): only an empty
        // page must ask whether the contact exists (a 404, not an empty
        // page), which spares a customer's page a statement (issue 13).
        let page = orders::list(c, &actor, OrderFilter { contact_id: Some(id), ..f.0 })?;
        if page.data.is_empty() && !crate::models::contact::exists(c, id)? {
            return Err(AppError::NotFound("contact"));
        }
        Ok(page)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
