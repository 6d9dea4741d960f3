//! Webhook benchmark, in one run on a real Postgres and a loopback receiver:
//! 1. the latency a subscription adds to a write (client creation through the
//!    service layer: validation, insert, audit, event and fan-out), with 0
//!    then 5 matching webhooks;
//! 2. the delivery throughput of the worker (deliveries/s) draining the queue.
//!
//! `cargo bench --bench webhooks` (server from `CLIENTELE_BENCH_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`; scratch database
//! `clientele_bench_webhooks`, dropped at the end).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use clientele::auth::{Actor, JwtKeys, Scope};
use clientele::config::{Config, JwtConfig};
use clientele::services::{clients, delivery};
use clientele::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

const DB: &str = "clientele_bench_webhooks";
const WRITES: usize = 1000;

fn url_for(db: &str) -> String {
    let server = std::env::var("CLIENTELE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = url::Url::parse(&server).expect("valid URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A receiver answering 200 to every POST, a thread per connection.
fn receiver() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            });
        }
    });
    port
}

fn writes(conn: &mut PgConnection, actor: &Actor, label: &str) -> Vec<Duration> {
    (0..WRITES)
        .map(|i| {
            let body = json!({"name": format!("{label} {i}"), "tags": ["bench"]});
            let started = Instant::now();
            clients::create(conn, actor, body.as_object().unwrap().clone()).unwrap();
            started.elapsed()
        })
        .collect()
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    (mean, ms(v[v.len() / 2]), ms(v[v.len() * 99 / 100]))
}

fn main() {
    let mut admin = PgConnection::establish(&url_for("postgres")).expect("Postgres reachable");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {DB}")).unwrap();
    clientele::db::prepare(&url_for(DB)).expect("migrations");
    let mut conn = PgConnection::establish(&url_for(DB)).unwrap();
    let actor = Actor::new("bench", &[Scope::Admin], None);

    let without = stats(writes(&mut conn, &actor, "plain"));
    let port = receiver();
    for i in 0..5 {
        diesel::sql_query(format!(
            "INSERT INTO webhooks (id, url, secret, created_by) VALUES (gen_random_uuid(), \
             'http://127.0.0.1:{port}/hook/{i}', 'whsec_bench', 'bench')"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let with = stats(writes(&mut conn, &actor, "hooked"));
    println!(
        "write latency, {WRITES} client creations: without webhooks mean {:.2} ms p50 {:.2} ms p99 {:.2} ms; \
         with 5 matching webhooks mean {:.2} ms p50 {:.2} ms p99 {:.2} ms; with/without mean = {:.2}",
        without.0,
        without.1,
        without.2,
        with.0,
        with.1,
        with.2,
        with.0 / without.0
    );

    let pending: i64 =
        diesel::sql_query("SELECT count(*) AS n FROM webhook_deliveries").get_result::<Count>(&mut conn).unwrap().n;
    let config = Config {
        database_url: url_for(DB),
        bind: "127.0.0.1:0".into(),
        jwt: JwtConfig {
            secret: Some("bench-secret-bench-secret-bench-secret".to_owned().into()),
            public_key_file: None,
            issuer: "clientele".into(),
            audience: "clientele".into(),
        },
        workers: 2,
        pool_size: 16,
        pool_timeout: Duration::from_secs(5),
        bulk_concurrency: 4,
        bulk_timeout: Duration::from_secs(30),
        idle_in_transaction_timeout: Duration::from_secs(30),
        cors_origins: vec![],
        log_json: true,
        suppression_key: None,
        audit_signing_key: None,
        retention_sweep: None,
        export_dir: std::env::temp_dir().join("clientele-bench-exports"),
        webhook_allow_private: true,
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
    };
    let keys = JwtKeys::from_secret("bench-secret-bench-secret-bench-secret", "clientele", "clientele").unwrap();
    let state = AppState::new(config, keys);
    let started = Instant::now();
    let delivered = actix_web::rt::System::new().block_on(async move {
        let mut total = 0;
        loop {
            let n = delivery::tick(&state, 32).await.unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "delivery throughput: {delivered} of {pending} deliveries (5 webhooks, one in flight each) in {secs:.2} s = {:.0} deliveries/s",
        delivered as f64 / secs
    );
    drop(conn);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
