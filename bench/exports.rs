//! Export jobs (issue 17): throughput of the worker exporting contacts (target
//! ≥ 100,000 rows/s) and the process's resident memory while it runs (target
//! ≤ 150 MB), for NDJSON and CSV, through the service's own worker on a real
//! Postgres.
//!
//! `cargo bench --bench exports` (database server from
//! `CLIENTELE_BENCH_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! a scratch database `clientele_bench_exports` is created and dropped).
//! `CLIENTELE_BENCH_EXPORT_ROWS` sets the contacts seeded (default 1,000,000).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clientele::auth::{Actor, JwtKeys, Scope};
use clientele::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

#[path = "jobs_support.rs"]
mod support;

use support::{config, rss_kib, url_for};

const DB: &str = "clientele_bench_exports";

fn main() {
    let rows: i64 = std::env::var("CLIENTELE_BENCH_EXPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let mut admin = PgConnection::establish(&url_for("postgres")).expect("Postgres reachable");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {DB}")).unwrap();
    clientele::db::prepare(&url_for(DB)).expect("migrations");
    let mut conn = PgConnection::establish(&url_for(DB)).unwrap();
    // Contacts as an import would leave them: names, email, phone, tags, custom fields.
    let seeded = Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO clients (id, name) VALUES ('00000000-0000-7000-8000-000000000001', 'Bench SA');
         INSERT INTO contacts (id, client_id, email, first_name, last_name, phone, job_title, status, tags, custom_fields, restricted)
         SELECT uuidv7_like, '00000000-0000-7000-8000-000000000001', 'person' || g || '@example.com', 'First' || g,
                'Last' || g, '+336' || lpad(g::text, 8, '0'), 'Buyer', 'prospect', '[\"trade-show\",\"2026\"]',
                jsonb_build_object('shoe_size', g % 50, 'note', 'imported from the fair'), g % 1000 = 0
         FROM (SELECT g, gen_random_uuid() AS uuidv7_like FROM generate_series(1, {rows}) g) s;
         ANALYZE;"
    ))
    .unwrap();
    println!("seeded {rows} contacts in {:.1} s", seeded.elapsed().as_secs_f64());

    let dir = std::env::temp_dir().join("clientele-bench-exports");
    let state = AppState::new(
        config(DB, &dir),
        JwtKeys::from_secret("bench-secret-bench-secret-bench-secret", "clientele", "clientele").unwrap(),
    );
    let actor = Actor::new("bench", &[Scope::ExportsRun], None);
    let baseline = rss_kib();
    for format in ["ndjson", "csv"] {
        let body = json!({"resources": ["contacts"], "format": format});
        clientele::services::exports::create(&mut conn, &actor, body.as_object().unwrap().clone()).unwrap();
        let (peak, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let started = Instant::now();
        let s = state.clone();
        let id = actix_web::rt::System::new()
            .block_on(async move { clientele::services::exports::run_next(&s).await })
            .unwrap()
            .expect("a job ran");
        let took = started.elapsed();
        done.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let job = clientele::services::exports::get(&mut conn, &actor, id, chrono::Utc::now()).unwrap();
        assert_eq!(job.rows_done, rows, "every row exported");
        let bytes: i64 = job.files.iter().map(|f| f.bytes).sum();
        let rate = rows as f64 / took.as_secs_f64();
        let peak_mb = peak.load(Ordering::Relaxed) as f64 / 1024.0;
        println!(
            "export {format}: {rows} contacts in {:.2} s = {rate:.0} rows/s ({}), {} file(s), {:.0} MB; \
             peak RSS {peak_mb:.0} MB (before: {:.0} MB) ({})",
            took.as_secs_f64(),
            if rate >= 100_000.0 { "target ≥ 100,000 met" } else { "target ≥ 100,000 MISSED" },
            job.files.len(),
            bytes as f64 / 1e6,
            baseline as f64 / 1024.0,
            if peak_mb <= 150.0 { "target ≤ 150 MB met" } else { "target ≤ 150 MB MISSED" },
        );
        let _ = std::fs::remove_dir_all(dir.join(id.to_string()));
    }
    drop(conn);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
}
