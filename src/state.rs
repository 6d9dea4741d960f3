//! What every request can reach.

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::DbPool;
use crate::graphql::ClienteleSchema;
use crate::http::metrics::Metrics;

/// Shared application state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The r2d2 pool.
    pub pool: DbPool,
    /// Configuration read at startup.
    pub config: Arc<Config>,
    /// Token keys, decoded once.
    pub keys: Arc<JwtKeys>,
    /// Prometheus registry and collectors.
    pub metrics: Arc<Metrics>,
    /// The GraphQL schema, built once (it holds the pool and the limits).
    pub graphql: ClienteleSchema,
}

impl AppState {
    /// Builds the state: the pool is created without connecting.
    pub fn new(config: Config, keys: JwtKeys) -> Self {
        let pool = crate::db::build_pool(&config.database_url, config.pool_size, config.pool_timeout);
        let graphql = crate::graphql::schema(pool.clone(), &config.graphql);
        AppState { pool, config: Arc::new(config), keys: Arc::new(keys), metrics: Arc::new(Metrics::new()), graphql }
    }
}
