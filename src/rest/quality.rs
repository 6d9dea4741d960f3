//! Data quality (API.md §9): duplicate candidates and merges of contacts and
//! clients.

use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::JsonBody;
use crate::services::duplicates::{
    self, CandidateList, ClientDuplicatesInput, ContactDuplicatesInput, DuplicatesOut, Of,
};
use crate::services::merge::{self, ClientMergeOut, ContactMergeOut, MergeInput};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(check_contact_duplicates)
        .service(contact_duplicates)
        .service(merge_contacts)
        .service(check_client_duplicates)
        .service(client_duplicates)
        .service(merge_clients);
}

/// Duplicate candidates of a contact.
///
/// Contacts that may be the same person: the same mailbox (case and a
/// `+tag` ignored), the same phone number, or a similar name (accents,
/// case and word order aside) at the same client. Best first, at most 20,
/// each with a `score` (0 to 1) and the `rules` that matched. 404 for an
/// unknown id.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])),
    responses((status = 200, description = "The candidates, best first", body = CandidateList)))]
#[get("/contacts/{id}/duplicates")]
async fn contact_duplicates(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| duplicates::of_one(c, &actor, Of::Contacts, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Duplicate candidates of contacts on file or of drafts.
///
/// Send `ids` (up to 100 contacts on file) or `data` (up to 100 drafts, e.g.
/// a form about to be saved, with `email`, `phone`, `first_name`,
/// `last_name`, `client_id`; a phone may be typed as people do,
/// `06 12 34 56 78` read as French). Answers one entry per subject, in order,
/// with the same rules as `GET /v1/contacts/{id}/duplicates`. Writes nothing.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:read"])), request_body = ContactDuplicatesInput,
    responses((status = 200, description = "The candidates of each subject", body = DuplicatesOut)))]
#[post("/contacts/duplicates")]
async fn check_contact_duplicates(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| duplicates::check(c, &actor, Of::Contacts, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Merge 1 or 2 contacts into a survivor.
///
/// In one transaction: the merged contacts' orders, interactions, notices
/// and consent events move to the survivor, whose stats are recomputed from
/// its orders; its empty fields are filled from the merged ones (in the
/// order given), `fields` overriding any of them. Per purpose the latest
/// consent event wins, but a withdrawal is never undone: a later grant of
/// another record gets a new withdrawal on the survivor, its proof naming
/// the merge. The suppression list is untouched; `restricted` and
/// `suppressed` win. 409 `open_request` while a data-subject request about
/// any of them is open. The merged ids then answer 301 to the survivor, a
/// data-subject request naming one (or its old email) reaches the survivor,
/// and sync gives their tombstones (`reason: merged`). Emits
/// `contact.merged` per merged id (`{survivor_id, merged_ids}`),
/// `contact.updated` for the survivor, `order.updated` for each order
/// moved. With `dry_run: true`, answers the same and writes nothing.
#[utoipa::path(tag = "contacts", security(("bearer" = ["contacts:write"])), request_body = MergeInput,
    responses((status = 200, description = "The survivor after the merge", body = ContactMergeOut),
        (status = 404, description = "No such survivor", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "A data-subject request about one of them is open (`open_request`)",
            body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/contacts/merge")]
async fn merge_contacts(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let key = state.suppression.clone();
    let out = db::run_retrying(&state.pool, move |c| merge::contacts(c, &actor, &key, body.0.clone())).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Duplicate candidates of a client.
///
/// Clients that may be the same company: the same SIREN, the same VAT
/// number, or a similar name (accents, case and legal punctuation aside) in
/// the same billing postal code. Best first, at most 20, with a `score` and
/// the `rules` that matched. 404 for an unknown id.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])),
    responses((status = 200, description = "The candidates, best first", body = CandidateList)))]
#[get("/clients/{id}/duplicates")]
async fn client_duplicates(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| duplicates::of_one(c, &actor, Of::Clients, id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Duplicate candidates of clients on file or of drafts.
///
/// Send `ids` (up to 100 clients on file) or `data` (up to 100 drafts with
/// `name`, `siren`, `vat_number`, `billing_address.postal_code`). One entry
/// per subject, in order. Writes nothing.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:read"])), request_body = ClientDuplicatesInput,
    responses((status = 200, description = "The candidates of each subject", body = DuplicatesOut)))]
#[post("/clients/duplicates")]
async fn check_client_duplicates(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| duplicates::check(c, &actor, Of::Clients, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Merge 1 or 2 clients into a survivor.
///
/// In one transaction: the merged clients' contacts and orders move to the
/// survivor, whose stats are recomputed; its empty fields are filled from
/// the merged ones (a SIREN, SIRET or VAT number included), `fields`
/// overriding any of them. The merged ids then answer 301 to the survivor
/// and sync gives their tombstones (`reason: merged`). Emits `client.merged`
/// per merged id, `client.updated` for the survivor and `contact.updated` /
/// `order.updated` for what moved. With `dry_run: true`, writes nothing.
#[utoipa::path(tag = "clients", security(("bearer" = ["clients:write"])), request_body = MergeInput,
    responses((status = 200, description = "The survivor after the merge", body = ClientMergeOut),
        (status = 404, description = "No such survivor", body = crate::error::Problem,
            content_type = "application/problem+json")))]
#[post("/clients/merge")]
async fn merge_clients(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run_retrying(&state.pool, move |c| merge::clients(c, &actor, body.0.clone())).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// A read of one record (`GET /v1/{resource}/{id}`) that answers 301 to
/// the survivor when `id` was merged into another record.
pub(super) async fn read_or_forward<T, F>(
    state: &AppState,
    resource: &'static str,
    id: Uuid,
    read: F,
    survivor: fn(&mut diesel::PgConnection, Uuid) -> diesel::QueryResult<Option<Uuid>>,
) -> Result<Result<T, HttpResponse>, AppError>
where
    F: FnOnce(&mut diesel::PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let out = db::run(&state.pool, move |c| match read(c) {
        Err(AppError::NotFound(what)) => survivor(c, id)?.map(Err).ok_or(AppError::NotFound(what)),
        other => other.map(Ok),
    })
    .await?;
    Ok(out.map_err(|to| {
        let location = format!("/v1/{resource}/{to}");
        HttpResponse::MovedPermanently()
            .insert_header((actix_web::http::header::LOCATION, location.clone()))
            .json(serde_json::json!({"id": id, "merged_into": to, "location": location}))
    }))
}
