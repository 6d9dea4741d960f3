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
    // Free-form objects declared as such, then what the server enforces,
    // written in from the rules that enforce it.
    let mut json = serde_json::to_value(free_form(doc)).expect("the document serialises");
    rest::contract::apply(&mut json);
    json
}

/// Declares the free-form objects (`custom_fields`, `changes`, `result`...)
/// as such: an object schema without properties gets
/// `additionalProperties: true`, which generators read as "any keys" (without
/// it, openapi-typescript makes `Record<string, never>`).
fn free_form(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema, SchemaType, Type};
    fn schema(s: &mut Schema) {
        match s {
            Schema::Object(o) => {
                let object = match &o.schema_type {
                    SchemaType::Type(t) => *t == Type::Object,
                    SchemaType::Array(ts) => ts.contains(&Type::Object),
                    SchemaType::AnyValue => false,
                };
                if object && o.properties.is_empty() && o.additional_properties.is_none() {
                    o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
                }
                o.properties.values_mut().for_each(refor);
                if let Some(AdditionalProperties::RefOr(r)) = o.additional_properties.as_deref_mut() {
                    refor(r);
                }
            }
            Schema::Array(a) => {
                if let ArrayItems::RefOrSchema(r) = &mut a.items {
                    refor(r);
                }
            }
            Schema::OneOf(x) => x.items.iter_mut().for_each(refor),
            Schema::AllOf(x) => x.items.iter_mut().for_each(refor),
            Schema::AnyOf(x) => x.items.iter_mut().for_each(refor),
            _ => {}
        }
    }
    fn refor(r: &mut RefOr<Schema>) {
        if let RefOr::T(s) = r {
            schema(s);
        }
    }
    if let Some(c) = doc.components.as_mut() {
        c.schemas.values_mut().for_each(refor);
    }
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            for p in op.parameters.iter_mut().flatten() {
                p.schema.iter_mut().for_each(refor);
            }
            for c in op.request_body.iter_mut().flat_map(|b| b.content.values_mut()) {
                c.schema.iter_mut().for_each(refor);
            }
            for r in op.responses.responses.values_mut() {
                if let RefOr::T(r) = r {
                    r.content.values_mut().for_each(|c| c.schema.iter_mut().for_each(refor));
                }
            }
        }
    }
    doc
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
        // The online validator would send our document's URL to swagger.io.
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none")),
        )
        .service(web::resource("/openapi.json").route(web::get().to(move || {
            let doc = doc.clone();
            async move { actix_web::HttpResponse::Ok().json(doc.as_ref()) }
        })))
        .service(web::redirect("/docs", "/docs/"))
        .route("/graphql/assets/{name}", web::get().to(graphql::http::asset))
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
        .expose_headers([
            "etag",
            "location",
            "x-request-id",
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ])
        .max_age(600);
    for o in origins {
        cors = cors.allowed_origin(o);
    }
    cors
}
