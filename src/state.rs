//! What every request can reach.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::DbPool;
use crate::graphql::Graphql;
use crate::http::metrics::Metrics;
use crate::http::ratelimit::RateLimits;
use crate::record::sealer::Signer;
use crate::services::suppression::SuppressionKey;

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
    /// HMAC key of the suppression list.
    pub suppression: Arc<SuppressionKey>,
    /// Ed25519 key signing audit checkpoints.
    pub audit_signer: Arc<Signer>,
    /// Rate limits per token `sub`.
    pub limits: Arc<RateLimits>,
    /// Revoked token ids, refreshed from the database by a background job.
    pub revoked: Arc<RwLock<HashSet<String>>>,
    /// HTTP agent of webhook deliveries.
    pub http: ureq::Agent,
    /// What data-subject requests need (keys, links, rules).
    pub dsar: Arc<crate::services::dsar::DsarSetup>,
    /// The SMTP mailer of verification links, when configured.
    pub mailer: Option<Arc<crate::services::mailer::Mailer>>,
    /// The GraphQL schema, built once (it holds the pool and the limits).
    pub graphql: Graphql,
}

impl AppState {
    /// Builds the state: the pool is created without connecting. Without a
    /// configured suppression key (or audit signing key), one is derived from the JWT secret (or made
    /// at random): `main` allows that in `--dev` only.
    pub fn new(config: Config, keys: JwtKeys) -> Self {
        use secrecy::ExposeSecret;
        let pool = crate::db::build_pool(
            &config.database_url,
            config.pool_size,
            config.pool_timeout,
            config.idle_in_transaction_timeout,
        )
        .with_bulk(config.bulk_concurrency, config.bulk_timeout)
        .with_text_mode(config.sensitive_text);
        let suppression = match (&config.suppression_key, &config.jwt.secret) {
            (Some(k), _) => SuppressionKey::new(k.expose_secret().as_bytes()),
            (None, Some(jwt)) => SuppressionKey::derived_from(jwt.expose_secret().as_bytes()),
            (None, None) => {
                let mut random = [0u8; 32];
                getrandom::fill(&mut random).expect("the OS random source is available");
                SuppressionKey::new(&random)
            }
        };
        // Config::from_env checked the configured seed; --dev derives one.
        let audit_signer = match (&config.audit_signing_key, &config.jwt.secret) {
            (Some(k), _) => Signer::from_base64_seed(k.expose_secret()).unwrap_or_else(|_| Signer::random()),
            (None, Some(jwt)) => Signer::derived_from(jwt.expose_secret().as_bytes()),
            (None, None) => Signer::random(),
        };
        let limits = Arc::new(RateLimits::new(
            config.rate_per_sec,
            config.rate_burst,
            config.dsar_rate_per_min,
            config.public_rate_per_min,
        ));
        let http = crate::services::delivery::agent(config.webhook_allow_private);
        let suppression = Arc::new(suppression);
        // Config::from_env built it once: a configuration that reached here is valid.
        let mailer = config.mail.as_ref().and_then(|m| match crate::services::mailer::Mailer::from_config(m) {
            Ok(m) => Some(Arc::new(m)),
            Err(e) => {
                tracing::error!(error = %e, "verification mails cannot be sent");
                None
            }
        });
        let dsar = Arc::new(crate::services::dsar::DsarSetup {
            key: suppression.clone(),
            allow_private: config.webhook_allow_private,
            public_url: config.public_url.clone(),
            smtp: mailer.is_some(),
            erasure_approval: config.dsar_erasure_approval,
        });
        let graphql = crate::graphql::schema(pool.clone(), dsar.clone(), config.contract_window_days, &config.graphql);
        AppState {
            graphql,
            dsar,
            mailer,
            pool,
            limits,
            http,
            revoked: Arc::new(RwLock::new(HashSet::new())),
            config: Arc::new(config),
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::new()),
            suppression,
            audit_signer: Arc::new(audit_signer),
        }
    }
}
