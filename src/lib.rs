//! Clientele: a headless customer file and prospect database with the GDPR
//! built in. See `README.md` and `../shared/API.md`.
//!
//! A request crosses four rooms: `rest` or `graphql` (HTTP ↔ service call), `services`
//! (rules, transactions), `models` (diesel rows), `db::schema`.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod models;
pub mod pagination;
pub mod record;
pub mod rest;
pub mod services;
pub mod state;
pub mod telemetry;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// The OpenAPI document, built from the routing (what `clientele openapi`
/// prints and `/openapi.json` serves), as JSON: the contract rules
/// ([`rest::contract`]) are applied to the JSON, as utoipa 5.5 cannot hold
/// a link's `operationId` (it writes `operation_id`).
pub fn openapi() -> serde_json::Value {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(rest::docs::ApiDoc::openapi())
        .configure(rest::configure)
        .configure(graphql::http::configure)
        .split_for_parts();
    let mut doc = doc;
    // Modifiers run on the static part only; apply the conventions to the routed paths too.
    utoipa::Modify::modify(&rest::docs::Conventions, &mut doc);
    // What the server enforces, written in from the rules that enforce it.
    let mut json = serde_json::to_value(&doc).expect("the document serialises");
    rest::contract::apply(&mut json);
    json
}

/// The application: routes, middleware and state. Used by `serve` and tests.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let doc = std::sync::Arc::new(openapi());
    let methods = web::Data::new(http::methods::Methods::from_doc(&doc));
    let cors = cors(&state.config.cors_origins);
    App::new()
        .app_data(web::Data::new(state))
        // `DELETE /v1/orders/batch` reaches `/v1/orders/{id}` and fails on its
        // id; the document's most specific path says POST only: a 405.
        .app_data(web::PathConfig::default().error_handler({
            let methods = methods.clone();
            move |_, req| methods.refusal(req, "resource").into()
        }))
        .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .service(web::resource("/openapi.json").route(web::get().to(move || {
            let doc = doc.clone();
            async move { actix_web::HttpResponse::Ok().json(doc.as_ref()) }
        })))
        .service(web::redirect("/docs", "/docs/"))
        .configure(|cfg| {
            let mut cfg = utoipa_actix_web::service_config::ServiceConfig::new(cfg);
            rest::configure(&mut cfg);
            graphql::http::configure(&mut cfg);
        })
        // A known path with another method: 405 with `Allow`; else 404.
        .default_service(web::to(move |req: actix_web::HttpRequest| {
            let refusal = methods.refusal(&req, "route");
            async move { Err::<actix_web::HttpResponse, _>(refusal) }
        }))
        // Per token, for REST and GraphQL alike.
        .wrap(actix_web::middleware::from_fn(http::ratelimit::rate_limit))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(http::middleware::observe))
}

fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(["authorization", "content-type", "if-match", "idempotency-key", "x-request-id"])
        .expose_headers(["etag", "location", "x-request-id", "retry-after"])
        .max_age(600);
    for o in origins {
        cors = cors.allowed_origin(o);
    }
    cors
}
