//! REST: handlers translate HTTP to a service call and back. Routes are
//! registered through `utoipa_actix_web`, so the OpenAPI document is built
//! from the routing itself.

pub mod audit;
pub mod clients;
pub mod consents;
pub mod contacts;
pub mod contract;
pub mod docs;
pub mod dsar;
pub mod exports;
pub mod imports;
pub mod integrations;
pub mod orders;
pub mod quality;
pub mod reach;
pub mod register;
pub mod segments;
pub mod sync;
pub mod system;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, middleware::DefaultHeaders};
use serde::Serialize;
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use crate::http::extract::etag;

/// Registers every route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(system::healthz).service(system::readyz).service(system::metrics);
    reach::configure_public(cfg);
    cfg.service(
        scope::scope("/v1")
            .wrap(actix_web::middleware::from_fn(crate::http::idempotency::idempotency))
            // Answers may hold personal data: never cached (replays included).
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .configure(segments::configure)
            .configure(quality::configure)
            .configure(clients::configure)
            .configure(contacts::configure)
            .configure(orders::configure)
            .configure(consents::configure)
            .configure(reach::configure)
            .configure(dsar::configure)
            .configure(exports::configure)
            .configure(imports::configure)
            .configure(register::configure)
            .configure(audit::configure)
            .configure(sync::configure)
            .configure(integrations::configure),
    );
}

/// `200` with the resource and its `ETag`.
pub fn ok_versioned<T: Serialize>(version: i32, body: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(body)
}

/// `201` with `Location` and `ETag`.
pub fn created<T: Serialize>(location: String, version: i32, body: &T) -> HttpResponse {
    HttpResponse::build(StatusCode::CREATED)
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// `204`.
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
