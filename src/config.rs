//! Configuration, read once from the environment into typed structs.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATABASE_URL` | Postgres URL; TLS with `?sslmode=require`, `verify-ca` or `verify-full` (libpq's) | `postgres://postgres@127.0.0.1:5432/clientele` |
//! | `CLIENTELE_DATABASE_CA_FILE` | PEM file of the CA that signed the database's certificate (a private CA, or the provider's bundle); implies `sslmode=verify-full` unless the URL says otherwise | none |
//! | `CLIENTELE_BIND` | listen address | `127.0.0.1:8080` |
//! | `CLIENTELE_JWT_SECRET` | HS256 key, at least 32 bytes | none |
//! | `CLIENTELE_JWT_PUBLIC_KEY_FILE` | PEM (RS256, ES256, EdDSA) or JWKS file of an external issuer | none |
//! | `CLIENTELE_JWT_ISSUER` | required `iss` | `clientele` |
//! | `CLIENTELE_JWT_AUDIENCE` | required `aud` | `clientele` |
//! | `CLIENTELE_WORKERS` | HTTP worker threads (each runs its own event loop; database work runs on the blocking pool beside them) | one per core |
//! | `CLIENTELE_DB_POOL_SIZE` | r2d2 pool size | 4 per core, at least 8 |
//! | `CLIENTELE_DB_POOL_TIMEOUT_MS` | wait for a pooled connection before answering 503 | `1000` |
//! | `CLIENTELE_BULK_CONCURRENCY` | batch writes run at once (the others queue) | a quarter of the pool, at least 1 |
//! | `CLIENTELE_BULK_TIMEOUT_MS` | how long a batch write queues before answering 503 | `30000` |
//! | `CLIENTELE_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS` | `idle_in_transaction_session_timeout` of every pooled connection (`0`: none) | `30000` |
//! | `CLIENTELE_SUPPRESSION_KEY` | HMAC key of the suppression list (32+ bytes) | derived from the JWT secret in `--dev` only |
//! | `CLIENTELE_AUDIT_SIGNING_KEY` | Ed25519 key signing audit checkpoints: standard base64 of its 32-byte seed (`openssl rand -base64 32`) | derived from the JWT secret in `--dev` only |
//! | `CLIENTELE_EXPORT_DIR` | directory of the files of export jobs (`POST /v1/exports`), kept 7 days; shared by every replica | `clientele-exports` in the system temp dir |
//! | `CLIENTELE_RETENTION_SWEEP` | interval of the background retention sweep (`24h`...) | off |
//! | `CLIENTELE_WEBHOOK_ALLOW_PRIVATE` | allow webhook/callback URLs on loopback or private networks, and plain http | `false` (`true` with `--dev`) |
//! | `CLIENTELE_EVENTS_RETENTION_DAYS` | how long the event feed keeps events | `30` |
//! | `CLIENTELE_RATE_LIMIT` | requests per second per token `sub` | `100` |
//! | `CLIENTELE_RATE_BURST` | burst above that rate | `200` |
//! | `CLIENTELE_DSAR_RATE_LIMIT` | DSAR submissions and exports per minute per `sub` | `10` |
//! | `CLIENTELE_PUBLIC_RATE_LIMIT` | requests per minute per client address on the public (unauthenticated) endpoints, e.g. `/v1/dsar/verify/{token}` | `20` |
//! | `CLIENTELE_PUBLIC_URL` | where people reach the service: the base of the links sent to them | `http://` + `CLIENTELE_BIND` |
//! | `CLIENTELE_SMTP_URL` | SMTP server of verification mails: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (TLS); unset: the `dsar.verification_requested` event carries the link for the controller's own mailer | none |
//! | `CLIENTELE_MAIL_FROM` | sender of those mails, in the controller's name (`Acme SAS <privacy@acme.example>`); required with `CLIENTELE_SMTP_URL` | none |
//! | `CLIENTELE_MAIL_TEMPLATE_FILE` | plain-text template of the verification mail (`Subject:` line, blank line, body with `{link}`; also `{controller}`, `{request_type}`, `{expires_at}`) | built in |
//! | `CLIENTELE_SENSITIVE_TEXT` | special-category data in free text (summaries, `custom_fields` strings, order line names): `refuse` (422 `sensitive_data`), `flag` (kept, listed at `GET /v1/review/sensitive`), `off` | `refuse` |
//! | `CLIENTELE_CONTRACT_WINDOW_DAYS` | a consumer with an order (not cancelled or refunded) this recent has a contract in progress: they may be phoned without consent | `365` |
//! | `CLIENTELE_DSAR_ERASURE_APPROVAL` | an erasure needs `POST /v1/dsar/{id}/approve` by a second `dsar:manage` subject before `process` | `false` |
//! | `CLIENTELE_CORS_ORIGINS` | comma-separated origins allowed to call from a browser | none |
//! | `CLIENTELE_LOG_FORMAT` | `json` or `text` | `json` |
//! | `CLIENTELE_GRAPHQL_MAX_DEPTH` | deepest GraphQL selection accepted (introspection-only documents: 20) | `10` |
//! | `CLIENTELE_GRAPHQL_MAX_COMPLEXITY` | most complexity points in one GraphQL query (one point per field; a connection multiplies its selection by `first`) | `10000` |
//! | `CLIENTELE_GRAPHQL_INTROSPECTION` | answer GraphQL introspection (`__schema`, `__type`); GraphiQL needs it | `true` |
//! | `RUST_LOG` | log filter | `info` |
//!
//! Secrets are held in [`SecretString`] so that `Debug` never prints them.

use std::time::Duration;

use secrecy::SecretString;

/// Default database URL when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/clientele";

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Postgres URL.
    pub database_url: String,
    /// Listen address.
    pub bind: String,
    /// Token verification settings.
    pub jwt: JwtConfig,
    /// HTTP worker threads.
    pub workers: usize,
    /// r2d2 pool size.
    pub pool_size: u32,
    /// How long a request waits for a pooled connection before a 503.
    pub pool_timeout: Duration,
    /// Batch writes that run at once (the bulk lane of the pool).
    pub bulk_concurrency: u32,
    /// How long a batch write queues for the bulk lane before a 503.
    pub bulk_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of every pooled connection (zero:
    /// none): an abandoned transaction cannot hold its locks and the xmin
    /// horizon (the event feed's, VACUUM's) for longer.
    pub idle_in_transaction_timeout: Duration,
    /// Origins allowed by CORS; empty means no browser origin is allowed.
    pub cors_origins: Vec<String>,
    /// HMAC key of the suppression list.
    pub suppression_key: Option<SecretString>,
    /// Ed25519 seed (standard base64 of 32 bytes) signing audit checkpoints.
    pub audit_signing_key: Option<SecretString>,
    /// Where export jobs write their files (every replica must see the same directory).
    pub export_dir: std::path::PathBuf,
    /// Interval of the background retention sweep; `None` turns it off.
    pub retention_sweep: Option<Duration>,
    /// Webhook and callback URLs may be private or plain http (tests, private networks).
    pub webhook_allow_private: bool,
    /// Days the event feed keeps events.
    pub events_retention_days: i64,
    /// General rate limit: requests per second and burst, per token `sub`.
    pub rate_per_sec: u32,
    /// Burst of the general limit.
    pub rate_burst: u32,
    /// DSAR submissions and exports per minute per `sub` (also the burst).
    pub dsar_rate_per_min: u32,
    /// Public endpoints: requests per minute per client address (also the burst).
    pub public_rate_per_min: u32,
    /// Base of the links sent to people (no trailing slash).
    pub public_url: String,
    /// SMTP of the verification mails; `None`: the event carries the link.
    pub mail: Option<MailConfig>,
    /// An erasure needs a second `dsar:manage` subject's approval.
    pub dsar_erasure_approval: bool,
    /// The free-text guard.
    pub sensitive_text: crate::services::sensitive::Mode,
    /// Days an order keeps a contract in progress (phone calls to consumers).
    pub contract_window_days: i32,
    /// Emit logs as JSON lines (the default) or human-readable text.
    pub log_json: bool,
    /// Limits of the GraphQL endpoint.
    pub graphql: GraphqlConfig,
}

/// How verification mails are sent.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://` or `smtps://` URL (may hold credentials).
    pub url: SecretString,
    /// Sender, in the controller's name.
    pub from: String,
    /// The template's text (checked at startup).
    pub template: String,
}

/// Limits of the GraphQL endpoint (the page size is capped at 200 as in REST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlConfig {
    /// Deepest selection accepted (`{ a { b } }` has depth 2).
    pub max_depth: usize,
    /// Most complexity points in one query: one per field, a connection
    /// multiplying the cost of its selection by `first`.
    pub max_complexity: usize,
    /// Whether introspection queries are answered.
    pub introspection: bool,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        GraphqlConfig { max_depth: 10, max_complexity: 10_000, introspection: true }
    }
}

/// How bearer tokens are verified.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// HS256 shared secret (also used to mint tokens with `clientele token create`).
    pub secret: Option<SecretString>,
    /// Path of a PEM public key or a JWKS document of an external issuer.
    pub public_key_file: Option<String>,
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim.
    pub audience: String,
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError(format!("{name} is not a valid value"))),
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        let pool_size = parse_var("CLIENTELE_DB_POOL_SIZE", (cores * 4).max(8))?;
        if pool_size == 0 {
            return Err(ConfigError("CLIENTELE_DB_POOL_SIZE must be at least 1".into()));
        }
        let log_json = match var("CLIENTELE_LOG_FORMAT").as_deref() {
            None | Some("json") => true,
            Some("text") => false,
            Some(_) => {
                return Err(ConfigError("CLIENTELE_LOG_FORMAT must be json or text".into()));
            }
        };
        Ok(Config {
            database_url: {
                let url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
                match var("CLIENTELE_DATABASE_CA_FILE") {
                    None => url,
                    Some(ca) => database_url_with_ca(&url, ca.trim())?,
                }
            },
            bind: var("CLIENTELE_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            jwt: JwtConfig {
                secret: var("CLIENTELE_JWT_SECRET").map(SecretString::from),
                public_key_file: var("CLIENTELE_JWT_PUBLIC_KEY_FILE"),
                issuer: var("CLIENTELE_JWT_ISSUER").unwrap_or_else(|| "clientele".into()),
                audience: var("CLIENTELE_JWT_AUDIENCE").unwrap_or_else(|| "clientele".into()),
            },
            workers: match parse_var("CLIENTELE_WORKERS", cores as usize)? {
                0 => return Err(ConfigError("CLIENTELE_WORKERS must be at least 1".into())),
                n => n,
            },
            pool_size,
            pool_timeout: Duration::from_millis(parse_var("CLIENTELE_DB_POOL_TIMEOUT_MS", 1000)?),
            bulk_concurrency: parse_var("CLIENTELE_BULK_CONCURRENCY", (pool_size / 4).max(1))?.clamp(1, pool_size),
            bulk_timeout: Duration::from_millis(parse_var("CLIENTELE_BULK_TIMEOUT_MS", 30_000)?),
            idle_in_transaction_timeout: Duration::from_millis(parse_var(
                "CLIENTELE_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                30_000,
            )?),
            cors_origins: var("CLIENTELE_CORS_ORIGINS")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            log_json,
            suppression_key: var("CLIENTELE_SUPPRESSION_KEY").map(SecretString::from),
            audit_signing_key: match var("CLIENTELE_AUDIT_SIGNING_KEY") {
                None => None,
                Some(v) => {
                    crate::record::sealer::Signer::from_base64_seed(&v)
                        .map_err(|e| ConfigError(format!("CLIENTELE_AUDIT_SIGNING_KEY {e}")))?;
                    Some(SecretString::from(v))
                }
            },
            webhook_allow_private: parse_var("CLIENTELE_WEBHOOK_ALLOW_PRIVATE", false)?,
            events_retention_days: parse_var("CLIENTELE_EVENTS_RETENTION_DAYS", 30i64)?.max(1),
            rate_per_sec: parse_var("CLIENTELE_RATE_LIMIT", 100u32)?.max(1),
            rate_burst: parse_var("CLIENTELE_RATE_BURST", 200u32)?.max(1),
            dsar_rate_per_min: parse_var("CLIENTELE_DSAR_RATE_LIMIT", 10u32)?.max(1),
            public_rate_per_min: parse_var("CLIENTELE_PUBLIC_RATE_LIMIT", 20u32)?.max(1),
            public_url: public_url_from_env()?,
            mail: mail_from_env()?,
            dsar_erasure_approval: parse_var("CLIENTELE_DSAR_ERASURE_APPROVAL", false)?,
            sensitive_text: match var("CLIENTELE_SENSITIVE_TEXT") {
                None => Default::default(),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| ConfigError("CLIENTELE_SENSITIVE_TEXT must be refuse, flag or off".into()))?,
            },
            contract_window_days: parse_var("CLIENTELE_CONTRACT_WINDOW_DAYS", 365i32)?.clamp(1, 36_500),
            export_dir: var("CLIENTELE_EXPORT_DIR")
                .map(|d| std::path::PathBuf::from(d.trim()))
                .unwrap_or_else(|| std::env::temp_dir().join("clientele-exports")),
            retention_sweep: match var("CLIENTELE_RETENTION_SWEEP") {
                None => None,
                Some(v) => Some(
                    humantime::parse_duration(v.trim())
                        .map_err(|_| ConfigError("CLIENTELE_RETENTION_SWEEP must be a duration such as 24h".into()))?,
                ),
            },
            graphql: graphql_from_env()?,
        })
    }
}

/// `url` with `sslrootcert` set to the CA file `ca` (which must be readable),
/// and `sslmode=verify-full` unless the URL already names a mode.
pub fn database_url_with_ca(url: &str, ca: &str) -> Result<String, ConfigError> {
    std::fs::File::open(ca).map_err(|e| ConfigError(format!("CLIENTELE_DATABASE_CA_FILE cannot be read: {e}")))?;
    let mut parsed = url::Url::parse(url).map_err(|_| ConfigError("DATABASE_URL is not a URL".into()))?;
    let has_mode = parsed.query_pairs().any(|(k, _)| k == "sslmode");
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "sslrootcert")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = parsed.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair("sslrootcert", ca);
        if !has_mode {
            q.append_pair("sslmode", "verify-full");
        }
    }
    Ok(parsed.into())
}

fn public_url_from_env() -> Result<String, ConfigError> {
    let raw = var("CLIENTELE_PUBLIC_URL")
        .unwrap_or_else(|| format!("http://{}", var("CLIENTELE_BIND").unwrap_or_else(|| "127.0.0.1:8080".into())));
    let url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none())
        .ok_or_else(|| ConfigError("CLIENTELE_PUBLIC_URL must be an http(s) URL without a query".into()))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn mail_from_env() -> Result<Option<MailConfig>, ConfigError> {
    let Some(url) = var("CLIENTELE_SMTP_URL") else { return Ok(None) };
    let from = var("CLIENTELE_MAIL_FROM")
        .ok_or_else(|| ConfigError("CLIENTELE_MAIL_FROM is required with CLIENTELE_SMTP_URL".into()))?;
    let template = match var("CLIENTELE_MAIL_TEMPLATE_FILE") {
        None => crate::services::mailer::DEFAULT_TEMPLATE.to_owned(),
        Some(path) => std::fs::read_to_string(path.trim())
            .map_err(|e| ConfigError(format!("CLIENTELE_MAIL_TEMPLATE_FILE cannot be read: {e}")))?,
    };
    let mail = MailConfig { url: SecretString::from(url), from, template };
    crate::services::mailer::Mailer::from_config(&mail).map_err(|e| ConfigError(e.0))?;
    Ok(Some(mail))
}

fn graphql_from_env() -> Result<GraphqlConfig, ConfigError> {
    let d = GraphqlConfig::default();
    let cfg = GraphqlConfig {
        max_depth: parse_var("CLIENTELE_GRAPHQL_MAX_DEPTH", d.max_depth)?,
        max_complexity: parse_var("CLIENTELE_GRAPHQL_MAX_COMPLEXITY", d.max_complexity)?,
        introspection: parse_var("CLIENTELE_GRAPHQL_INTROSPECTION", d.introspection)?,
    };
    if cfg.max_depth == 0 || cfg.max_complexity == 0 {
        return Err(ConfigError("CLIENTELE_GRAPHQL_MAX_DEPTH and _MAX_COMPLEXITY must be at least 1".into()));
    }
    Ok(cfg)
}
