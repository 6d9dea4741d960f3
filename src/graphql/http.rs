//! The actix glue of `/graphql`. `POST` checks the bearer token first (no or
//! bad token: the same 401 problem as REST, before anything is parsed or
//! run), reads at most 1 MiB of JSON (413 past it, 415 for another media
//! type), runs the schema as the caller and answers `200 application/json`
//! with `data` and `errors`. `GET` serves GraphiQL.
//!
//! Only single requests are accepted (a JSON array is refused): each limit
//! applies per request, and a batch would multiply them.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use std::collections::HashMap;

use async_graphql::Variables;
use async_graphql::parser::types::ExecutableDocument;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Actor;
use crate::error::{AppError, Problem};
use crate::http::extract::JsonBody;
use crate::state::AppState;

/// A GraphQL request (GraphQL over HTTP, JSON encoding).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    /// The GraphQL document.
    #[schema(example = "{ contacts(first: 10) { edges { node { id email } } } }")]
    pub query: String,
    /// The operation of the document to run, when it holds several.
    pub operation_name: Option<String>,
    /// Values of the document's variables: an object (anything else is a 400).
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Map<String, Value>>,
}

/// A GraphQL answer. Errors carry `extensions.code` (`VALIDATION`,
/// `FORBIDDEN`, `NOT_FOUND`, `CONFLICT`, `PRECONDITION_FAILED`, `UNAVAILABLE`,
/// `INTERNAL`, `QUERY_TOO_COMPLEX`...); a missing scope fails its field only.
#[derive(Serialize, ToSchema)]
pub struct GraphqlResponse {
    /// The requested data (fields that failed are null).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// One entry per failed field or per refusal of the whole document.
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<Value>>,
}

/// Registers `GET` and `POST /graphql`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(show_graphiql).service(run_graphql);
}

/// Run a GraphQL query or mutation.
///
/// The schema is `openapi/schema.graphql` (explore it at `GET /graphql`).
/// Every field requires the same scope as its REST counterpart; a missing
/// scope fails that field only (`errors[].extensions.code: FORBIDDEN`, the
/// field null) and the answer stays 200. Documents over the depth or
/// complexity limits are refused whole (`QUERY_TOO_COMPLEX`). Mutations are
/// not replayed by `Idempotency-Key`.
#[utoipa::path(tag = "graphql", security(("bearer" = [])),
    request_body = GraphqlRequest,
    responses(
        (status = 200, description = "The answer, with `errors` for the fields that failed", body = GraphqlResponse),
        (status = 400, description = "Malformed JSON, or not a GraphQL request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, expired or revoked token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit of the token exhausted; retry after `Retry-After`", body = Problem, content_type = "application/problem+json")))]
#[post("/graphql")]
async fn run_graphql(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let req: GraphqlRequest = serde_json::from_value(Value::Object(body.0)).map_err(|_| {
        AppError::BadRequest("not a GraphQL request: expected {\"query\", \"operationName\", \"variables\"}".into())
    })?;
    let parsed = parsed(&req.query);
    let mut request = async_graphql::Request::new(req.query);
    if let Some(doc) = parsed {
        request.set_parsed_query(doc);
    }
    if let Some(name) = req.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = req.variables {
        request = request.variables(Variables::from_json(Value::Object(vars)));
    }
    let response = state.graphql.execute(request.data(actor)).await;
    let body = serde_json::to_vec(&response).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        // Answers may hold personal data.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// Documents parsed before, by their text. An integrator's client sends the
/// same few documents with different variables; parsing one again (pest, a
/// PEG parser that allocates per token) was 6–8% of the server's CPU on
/// `contact { orders }` (issue 13). Only documents without a string literal
/// or a comment are kept: those are where a person's name or email could sit
/// in the text, and nothing personal may stay where erasure cannot reach.
/// Validation and everything after it still run on every request.
static PARSED: std::sync::LazyLock<std::sync::Mutex<HashMap<Box<str>, ExecutableDocument>>> =
    std::sync::LazyLock::new(Default::default);
/// Documents kept at most (past it, the cache starts again).
const PARSED_MAX: usize = 256;

/// The parsed document of `query`, from the cache or parsed now and kept;
/// `None` when it cannot be kept (the schema then parses it, and reports its
/// syntax errors as usual).
fn parsed(query: &str) -> Option<ExecutableDocument> {
    if query.len() > 16 * 1024 || query.contains(['"', '#']) {
        return None;
    }
    if let Some(doc) = PARSED.lock().ok()?.get(query) {
        return Some(doc.clone());
    }
    let doc = async_graphql::parser::parse_query(query).ok()?;
    let mut cache = PARSED.lock().ok()?;
    if cache.len() >= PARSED_MAX {
        cache.clear();
    }
    cache.insert(query.into(), doc.clone());
    Some(doc)
}

/// GraphiQL, to explore the schema.
///
/// Served with its assets from the binary (`/graphql/assets/`, pinned npm
/// production builds): no request leaves the machine. Paste a token as
/// `{"Authorization": "Bearer ..."}` in its headers pane; headers are never
/// persisted in the browser.
#[utoipa::path(tag = "graphql", security(()),
    responses((status = 200, description = "The GraphiQL page", content_type = "text/html", body = String)))]
#[get("/graphql")]
async fn show_graphiql() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(PAGE)
}

const PAGE: &str = include_str!("assets/index.html");

/// The page's assets, by name: content type and bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("graphiql.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/graphiql.min.js")),
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("assets/graphiql.min.css")),
    ("react.production.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/react.production.min.js")),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/react-dom.production.min.js"),
    ),
    ("init.js", "text/javascript; charset=utf-8", include_bytes!("assets/init.js")),
];

/// `GET /graphql/assets/{name}`: GraphiQL's scripts and styles, cached a day.
pub async fn asset(name: actix_web::web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, kind, bytes) = ASSETS.iter().find(|(n, _, _)| *n == name.as_str()).ok_or(AppError::NotFound("asset"))?;
    Ok(HttpResponse::Ok()
        .content_type(*kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(*bytes))
}
