//! `/v1/audit`: the trail, its verification, signed checkpoints and the key that signs them.

use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, JsonBody};
use crate::pagination::Page;
use crate::record::audit::{
    self, AuditFilter, AuditOut, CheckpointFilter, CheckpointInput, CheckpointOut, PublicKeyOut, VerifyOut,
};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit)
        .service(verify_audit)
        .service(verify_audit_checkpoint)
        .service(list_checkpoints)
        .service(audit_public_key);
}

/// The audit trail in chain order (oldest first).
///
/// Entries are sealed into the hash chain in their order of record within
/// about a second of commit; the last page also lists those not sealed yet
/// (`sealed: false`, `seq` null). `next_cursor` moves over sealed entries
/// only. Filter by `actor`, `action`, `resource_type`, `resource_id` or
/// `request_id`. Entries name fields, never their values.
#[utoipa::path(tag = "audit", security(("bearer" = ["audit:read"])), params(AuditFilter),
    responses((status = 200, description = "A page of entries", body = Page<AuditOut>)))]
#[get("/audit")]
async fn list_audit(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<AuditFilter>,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| audit::list(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Verify the audit trail's hash chain.
///
/// Recomputes the sealed hash chain and checks it against its head and the
/// newest signed checkpoint; reports the first broken link and how many
/// entries wait for the sealer. Changes nothing.
#[utoipa::path(tag = "audit", security(("bearer" = ["audit:read"])),
    responses((status = 200, description = "Verification result", body = VerifyOut)))]
#[get("/audit/verify")]
async fn verify_audit(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| audit::verify(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Verify that the trail still extends a checkpoint kept outside the database.
///
/// Proves that the chain is intact and holds `hash` at `seq`. A `signature`,
/// when given, must be this service's (422 otherwise). Changes nothing: the
/// same checkpoint can be verified any number of times.
#[utoipa::path(tag = "audit", security(("bearer" = ["audit:read"])), request_body = CheckpointInput,
    responses((status = 200, description = "Verification result", body = VerifyOut)))]
#[post("/audit/verify")]
async fn verify_audit_checkpoint(
    state: web::Data<AppState>,
    actor: Actor,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let signer = state.audit_signer.clone();
    let out = db::run(&state.pool, move |c| audit::verify_checkpoint(c, &actor, &signer, body.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Signed checkpoints of the chain head, newest first.
///
/// Each names a `seq`, the chain's `hash` there, when, and an Ed25519
/// `signature` (verify it with `GET /v1/audit/public-key`): keep them outside
/// the database to prove later that the trail was not rewritten.
/// Cursor-paginated; pass `next_cursor` as `?after=`.
#[utoipa::path(tag = "audit", security(("bearer" = ["audit:read"])), params(CheckpointFilter),
    responses((status = 200, description = "A page of checkpoints", body = Page<CheckpointOut>)))]
#[get("/audit/checkpoints")]
async fn list_checkpoints(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<CheckpointFilter>,
) -> Result<HttpResponse, AppError> {
    let out = db::run(&state.pool, move |c| audit::checkpoints(c, &actor, f.0)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The Ed25519 public key that checkpoint signatures verify with.
///
/// The key the service signs checkpoints with, to verify them outside the
/// service. Changes only when the signing key is rotated.
#[utoipa::path(tag = "audit", security(("bearer" = ["audit:read"])),
    responses((status = 200, description = "The public key", body = PublicKeyOut)))]
#[get("/audit/public-key")]
async fn audit_public_key(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(audit::public_key(&actor, &state.audit_signer)?))
}
