//! Health, readiness and metrics: no token needed.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// Health or readiness status.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
}

/// The process is alive.
///
/// Answers `{"status": "ok"}` without touching the database: a liveness
/// probe. Public.
#[utoipa::path(tag = "system", security(()), responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database is reachable (503 with Retry-After otherwise).
///
/// Pings the database through the pool: a readiness probe for load
/// balancers. 503 with `Retry-After` while it cannot. Public.
#[utoipa::path(tag = "system", security(()), responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Database unreachable", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if db::ping(&state.pool).await {
        Ok(HttpResponse::Ok().json(Health { status: "ok" }))
    } else {
        Err(AppError::Unavailable("database unreachable".into()))
    }
}

/// Prometheus metrics (text exposition format).
///
/// Request counts and durations per route and status, the pool's
/// connections and the lag of the record horizon
/// (`record_horizon_lag_seconds`). Public: expose it only to your scraper's
/// network.
#[utoipa::path(tag = "system", security(()), responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(state.metrics.render(&state.pool))
}
