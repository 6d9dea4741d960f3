//! `/v1/sync/{clients,contacts,orders}`: delta sync tokens (API.md §7).

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::Filter;
use crate::record::sync::{self, SyncPage, SyncQuery};
use crate::services::clients::ClientOut;
use crate::services::contacts::ContactOut;
use crate::services::orders::OrderOut;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(sync_clients).service(sync_contacts).service(sync_orders);
}

/// Mirror the companies (delta sync).
///
/// Without `token`: every row, paged by `next_cursor`; the last page carries
/// a `sync_token` instead. With `?token=`: the rows changed since that token,
/// as `GET` returns them, and `{id, deleted: true, reason}` tombstones for
/// rows deleted, erased or merged. A token never skips a committed change,
/// however long the transaction that made it ran and however many replicas
/// write: changes appear once every transaction that could precede them has
/// ended. A row may come more than once; the newest copy wins. A token older
/// than the change history kept (30 days) answers 410: sync again without a
/// token.
#[utoipa::path(tag = "sync", security(("bearer" = ["clients:read"])), params(SyncQuery),
    responses((status = 200, description = "A page of the sync", body = SyncPage<ClientOut>),
        (status = 410, description = "The token is older than the history kept", body = crate::error::Problem)))]
#[get("/sync/clients")]
async fn sync_clients(
    state: web::Data<AppState>,
    actor: Actor,
    q: Filter<SyncQuery>,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| sync::sync::<ClientOut>(c, &actor, q.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Mirror the people (delta sync).
///
/// As `GET /v1/sync/clients` does the companies: a full pass paged by
/// `next_cursor`, then the changes since each `sync_token`, with tombstones.
/// An erased person comes back as a tombstone with `reason: "erased"` and no
/// data. 410 for a token older than the history kept (30 days).
#[utoipa::path(tag = "sync", security(("bearer" = ["contacts:read"])), params(SyncQuery),
    responses((status = 200, description = "A page of the sync", body = SyncPage<ContactOut>),
        (status = 410, description = "The token is older than the history kept", body = crate::error::Problem)))]
#[get("/sync/contacts")]
async fn sync_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    q: Filter<SyncQuery>,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| sync::sync::<ContactOut>(c, &actor, q.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Mirror the orders (delta sync).
///
/// As `GET /v1/sync/clients` does the companies: a full pass paged by
/// `next_cursor`, then the changes since each `sync_token`, with tombstones
/// for deleted orders. 410 for a token older than the history kept (30 days).
#[utoipa::path(tag = "sync", security(("bearer" = ["orders:read"])), params(SyncQuery),
    responses((status = 200, description = "A page of the sync", body = SyncPage<OrderOut>),
        (status = 410, description = "The token is older than the history kept", body = crate::error::Problem)))]
#[get("/sync/orders")]
async fn sync_orders(state: web::Data<AppState>, actor: Actor, q: Filter<SyncQuery>) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| sync::sync::<OrderOut>(c, &actor, q.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}
