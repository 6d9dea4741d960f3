//! What the job benches (`exports`, `imports`) share: the scratch
//! database's URL, this process's resident memory, a service configuration.

use std::time::Duration;

use clientele::config::{Config, JwtConfig};

pub fn url_for(db: &str) -> String {
    let server = std::env::var("CLIENTELE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = url::Url::parse(&server).expect("valid URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// Resident memory of this process now, in KiB (`VmRSS`).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The configuration of a service on database `db`, with `dir` as its export directory.
pub fn config(db: &str, dir: &std::path::Path) -> Config {
    Config {
        database_url: url_for(db),
        bind: "127.0.0.1:0".into(),
        jwt: JwtConfig {
            secret: Some("bench-secret-bench-secret-bench-secret".to_owned().into()),
            public_key_file: None,
            issuer: "clientele".into(),
            audience: "clientele".into(),
        },
        workers: 2,
        pool_size: 8,
        pool_timeout: Duration::from_secs(5),
        bulk_concurrency: 2,
        bulk_timeout: Duration::from_secs(30),
        idle_in_transaction_timeout: Duration::from_secs(30),
        cors_origins: vec![],
        log_json: true,
        suppression_key: None,
        audit_signing_key: None,
        retention_sweep: None,
        export_dir: dir.to_owned(),
        webhook_allow_private: false,
        events_retention_days: 30,
        rate_per_sec: 1000,
        rate_burst: 1000,
        dsar_rate_per_min: 10,
        public_rate_per_min: 1000,
        public_url: "http://127.0.0.1".into(),
        mail: None,
        dsar_erasure_approval: false,
        sensitive_text: Default::default(),
        contract_window_days: 365,
        graphql: Default::default(),
    }
}
