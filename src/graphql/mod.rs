//! GraphQL at `/graphql` (API.md §5): the same service layer, tokens, scopes
//! and validation as REST.
//!
//! - The schema knows nothing of HTTP: tests run it with
//!   `schema.execute(Request::new(query).data(actor))`; [`http`] is the actix
//!   glue (token check before anything runs, body limit, GraphiQL).
//! - Resolvers only translate: inputs are serialised to the JSON object the
//!   REST body would be and handed to the same service function, so both
//!   transports list the same failing fields ([`error`] maps every
//!   `AppError` to `extensions.code`).
//! - Scopes are checked by the services; a missing scope fails its field only.
//! - Nested fields go through per-request DataLoaders ([`loaders`]): one round
//!   of queries per level of the query, not one per row.
//! - Depth, complexity, aliases, directives and recursion are capped
//!   ([`limits`]); page sizes are 1 to 200 as in REST.
//!
//! Each domain (clients, contacts, orders, [`consents`], [`dsar`],
//! [`register`]) is a file with its types, a `FooQuery` and/or a
//! `FooMutation`, listed in [`Query`] and [`Mutation`].

pub mod clients;
pub mod connection;
pub mod consents;
pub mod contacts;
pub mod dsar;
pub mod error;
pub mod http;
pub mod inputs;
pub mod limits;
pub mod loaders;
pub mod merge;
pub mod orders;
pub mod reach;
pub mod register;
pub mod segments;
pub mod types;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema, SchemaBuilder};
use diesel::PgConnection;
use serde::Serialize;
use serde_json::{Map, Value};

use std::sync::Arc;

use crate::auth::Actor;
use crate::config::GraphqlConfig;
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::services::Precondition;
use crate::services::dsar::DsarSetup;

/// The schema type served at `/graphql`.
pub type ClienteleSchema = Schema<Query, Mutation, EmptySubscription>;

/// Every query field, one object per domain.
#[derive(MergedObject, Default)]
pub struct Query(
    clients::ClientQuery,
    contacts::ContactQuery,
    orders::OrderQuery,
    dsar::DsarQuery,
    register::RegisterQuery,
    reach::ReachQuery,
);

/// Every mutation, one object per domain; they mirror the REST writes.
#[derive(MergedObject, Default)]
pub struct Mutation(
    clients::ClientMutation,
    contacts::ContactMutation,
    orders::OrderMutation,
    consents::ConsentMutation,
    dsar::DsarMutation,
    register::RegisterMutation,
    merge::MergeMutation,
);

/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 5;
/// Most aliased fields in one document.
pub const MAX_ALIASES: usize = 30;
/// Deepest nesting the parser and validator recurse into (fragments included).
pub const MAX_RECURSION: usize = 32;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
}

/// The schema served at `/graphql`, over `pool`, with the configured limits.
/// `dsar` carries the suppression key and what requests need (callback
/// URLs, verification links, the erasure-approval rule), as in REST.
pub fn schema(pool: DbPool, dsar: Arc<DsarSetup>, contract_window_days: i32, cfg: &GraphqlConfig) -> Graphql {
    let deeper = GraphqlConfig { max_depth: cfg.max_depth.max(INTROSPECTION_MAX_DEPTH), ..cfg.clone() };
    Graphql {
        schema: build(pool.clone(), dsar.clone(), contract_window_days, cfg),
        introspection: build(pool, dsar, contract_window_days, &deeper),
    }
}

/// The deepest introspection document accepted: graphql-js's
/// `getIntrospectionQuery()` (what GraphiQL and code generators send) nests
/// `ofType` nine times, depth 14.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;

/// The schema, and its twin for documents that only introspect: the depth
/// limit guards data queries, and the standard introspection query is deeper
/// than any of them needs to be. Introspection stays bounded (its own depth
/// limit, the same complexity, alias and recursion caps).
#[derive(Clone)]
pub struct Graphql {
    /// The schema of every data query.
    pub schema: ClienteleSchema,
    introspection: ClienteleSchema,
}

impl Graphql {
    /// Runs a request on the schema its document calls for.
    pub async fn execute(&self, request: impl Into<async_graphql::Request>) -> async_graphql::Response {
        let request = request.into();
        let target = if introspection_only(&request.query) { &self.introspection } else { &self.schema };
        target.execute(request).await
    }
}

/// Every operation of `query` selects only `__schema`, `__type` or `__typename`.
fn introspection_only(query: &str) -> bool {
    use async_graphql::parser::types::{DocumentOperations, Selection};
    let Ok(doc) = async_graphql::parser::parse_query(query) else { return false };
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    !ops.is_empty()
        && ops.iter().all(|op| {
            op.node.selection_set.node.items.iter().all(|s| match &s.node {
                Selection::Field(f) => f.node.name.node.starts_with("__"),
                _ => false,
            })
        })
}

fn build(pool: DbPool, dsar: Arc<DsarSetup>, contract_window_days: i32, cfg: &GraphqlConfig) -> ClienteleSchema {
    let mut b = builder()
        .data(pool)
        .data(reach::ContractWindow(contract_window_days))
        .data(dsar.key.clone())
        .data(dsar)
        .limit_depth(cfg.max_depth)
        .limit_complexity(cfg.max_complexity)
        .limit_recursive_depth(MAX_RECURSION)
        .limit_directives(MAX_DIRECTIVES)
        .extension(limits::Limits { max_aliases: MAX_ALIASES })
        .extension(loaders::PerRequest);
    if !cfg.introspection {
        b = b.disable_introspection();
    }
    b.finish()
}

/// The schema in SDL: what `clientele graphql-schema` prints and
/// `openapi/schema.graphql` holds.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The caller, put in the request data by the HTTP handler (or a test).
pub(crate) fn actor<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Actor> {
    ctx.data_opt::<Actor>().ok_or_else(|| {
        AppError::Unauthorized { error: "invalid_request", description: "missing bearer token".into() }.into()
    })
}

/// Runs a service call on the blocking pool as the caller.
pub(crate) async fn run<T, F>(ctx: &Context<'_>, f: F) -> async_graphql::Result<T>
where
    F: FnOnce(&mut PgConnection, &Actor) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let actor = actor(ctx)?.clone();
    let pool = ctx.data::<DbPool>()?.clone();
    Ok(db::run(&pool, move |conn| f(conn, &actor)).await?)
}

/// Runs a write service call as the caller, run again whole when Postgres
/// aborts its transaction for a concurrent one ([`db::run_retrying`]): `f`
/// clones what it hands over.
pub(crate) async fn run_write<T, F>(ctx: &Context<'_>, mut f: F) -> async_graphql::Result<T>
where
    F: FnMut(&mut PgConnection, &Actor) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let actor = actor(ctx)?.clone();
    let pool = ctx.data::<DbPool>()?.clone();
    Ok(db::run_retrying(&pool, move |conn| f(conn, &actor)).await?)
}

/// A GraphQL input as the JSON object a REST body would carry (snake_case
/// keys), for the service functions.
pub(crate) fn to_map<T: Serialize>(input: &T) -> Result<Map<String, Value>, AppError> {
    match serde_json::to_value(input).map_err(AppError::internal)? {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::Internal("a GraphQL input did not serialise to an object".into())),
    }
}

/// `expectedVersion`, the GraphQL form of `If-Match`.
pub(crate) fn precondition(expected_version: Option<i32>) -> Precondition {
    expected_version.map_or(Precondition::None, |v| Precondition::Versions(vec![v]))
}
