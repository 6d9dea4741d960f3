//! Typed helpers: an app per test on its own database, tokens, requests.

pub mod db;
pub mod receiver;
pub mod smtp;

use std::time::Duration;

use actix_http::Request;
use actix_service::boxed::{self, BoxService};
use actix_service::{Service, ServiceExt};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::test;
use serde_json::Value;

use clientele::auth::JwtKeys;
use clientele::config::{Config, JwtConfig};
use clientele::state::AppState;

pub use db::TestDb;

/// The HS256 secret of test tokens.
pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

/// The suppression list's HMAC key in tests.
pub const SUPPRESSION_KEY: &str = "test-suppression-key-of-32-bytes-at-least";

/// The audit checkpoints' Ed25519 seed in tests (base64 of 32 bytes).
pub const AUDIT_SIGNING_KEY: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS0zMi1ieXRlcyE=";

/// A test configuration pointing at `url`.
pub fn config(url: &str) -> Config {
    Config {
        database_url: url.into(),
        bind: "127.0.0.1:0".into(),
        jwt: JwtConfig {
            secret: Some(SECRET.to_owned().into()),
            public_key_file: None,
            issuer: "clientele".into(),
            audience: "clientele".into(),
        },
        workers: 1,
        pool_size: 4,
        pool_timeout: Duration::from_millis(1000),
        bulk_concurrency: 1,
        bulk_timeout: Duration::from_secs(30),
        idle_in_transaction_timeout: Duration::from_secs(30),
        cors_origins: vec!["https://crm.example.com".into()],
        log_json: false,
        suppression_key: Some(SUPPRESSION_KEY.to_owned().into()),
        retention_sweep: None,
        // One directory per test database, so tests never see each other's files.
        export_dir: std::env::temp_dir().join("clientele-test-exports").join(url.rsplit('/').next().unwrap_or("db")),
        webhook_allow_private: true,
        audit_signing_key: Some(AUDIT_SIGNING_KEY.to_owned().into()),
        events_retention_days: 30,
        rate_per_sec: 1000,
        rate_burst: 1000,
        dsar_rate_per_min: 1000,
        public_rate_per_min: 1000,
        public_url: "https://privacy.example.com".into(),
        mail: None,
        dsar_erasure_approval: false,
        sensitive_text: Default::default(),
        contract_window_days: 365,
        graphql: Default::default(),
    }
}

/// What requests need, as the test configuration sets it (no SMTP).
pub fn dsar_setup() -> std::sync::Arc<clientele::services::dsar::DsarSetup> {
    let key = clientele::services::suppression::SuppressionKey::new(SUPPRESSION_KEY.as_bytes());
    let mut setup = clientele::services::dsar::DsarSetup::local(std::sync::Arc::new(key));
    setup.public_url = "https://privacy.example.com".into();
    std::sync::Arc::new(setup)
}

/// A token for `scopes` (space-separated).
pub fn token(scopes: &str) -> String {
    keys().mint("tester", scopes, 3600, None).expect("mint")
}

/// The test signing keys.
pub fn keys() -> JwtKeys {
    JwtKeys::from_secret(SECRET, "clientele", "clientele").expect("keys")
}

/// An answer: status, headers, JSON body (Null when empty or not JSON).
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Res {
    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// The `field`s listed in a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map_or_else(Vec::new, |a| a.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect())
    }
}

/// The application under test, on a database of its own.
pub struct TestApp {
    pub db: TestDb,
    /// The state the app runs on (pool, keys, metrics).
    #[allow(dead_code)]
    pub state: AppState,
    svc: BoxService<Request, ServiceResponse<BoxBody>, actix_web::Error>,
}

impl TestApp {
    /// A fresh app and database.
    pub async fn new() -> Self {
        let db = TestDb::new();
        let state = AppState::new(config(&db.url), keys());
        Self::with_state(db, state).await
    }

    /// An app over a given state (e.g. a pool pointing nowhere).
    pub async fn with_state(db: TestDb, state: AppState) -> Self {
        let svc = test::init_service(clientele::build_app(state.clone())).await;
        let svc = boxed::service(svc.map(|r: ServiceResponse<_>| r.map_into_boxed_body()));
        TestApp { db, state, svc }
    }

    /// Sends a request with optional token, JSON body and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        if let Some(b) = body {
            req = req.insert_header(("content-type", "application/json")).set_payload(serde_json::to_vec(b).unwrap());
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        self.raw(req.to_request()).await
    }

    /// Sends a prepared request.
    pub async fn raw(&self, req: Request) -> Res {
        let res = self.svc.call(req).await.expect("service answers");
        let status = res.status();
        let headers = res.headers().clone();
        let raw = actix_web::body::to_bytes(res.into_body()).await.map(|b| b.to_vec()).unwrap_or_default();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Res { status, headers, body, raw }
    }

    pub async fn get(&self, path: &str, token: &str) -> Res {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Res {
        self.send(Method::POST, path, Some(token), Some(&body), &[]).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Res {
        self.send(Method::PATCH, path, Some(token), Some(&body), &[]).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Res {
        self.send(Method::PUT, path, Some(token), Some(&body), &[]).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Res {
        self.send(Method::DELETE, path, Some(token), None, &[]).await
    }

    /// Waits until everything committed so far is below the horizon of the
    /// order of record, so the feed, sync, deliveries and the sealer see it.
    /// Other tests' transactions (on other databases of the same server) hold
    /// the horizon back for a moment, exactly as other writers would.
    pub async fn settle(&self) {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct X {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            x: i64,
        }
        let mut conn = self.db.conn();
        let q = |sql: &str, conn: &mut PgConnection| diesel::sql_query(sql).get_result::<X>(conn).unwrap().x;
        let mine = q("SELECT pg_current_xact_id()::text::bigint AS x", &mut conn);
        for _ in 0..1000 {
            if q("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS x", &mut conn) > mine {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the horizon did not pass transaction {mine} within 10 s");
    }

    /// Settles, then runs the audit sealer to the end; returns the entries sealed.
    pub async fn seal(&self) -> usize {
        self.settle().await;
        clientele::record::sealer::seal_all(&mut self.db.conn(), &self.state.audit_signer, Duration::from_secs(60))
            .unwrap()
    }
}

/// An admin token.
pub fn admin() -> String {
    token("admin")
}

/// Captures every log line of this process (debug and up) into a buffer.
/// Installs the global subscriber: call it in one test only.
pub fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex};
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = Buf(buf.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
    buf
}
