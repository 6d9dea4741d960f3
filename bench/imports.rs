//! Import jobs (issue 17): throughput of the worker importing contacts from
//! CSV (target ≥ 20,000 rows/s) and the process's resident memory while the
//! file is received and while it runs (target ≤ 150 MB), through the
//! service's own receive and worker on a real Postgres: every row through
//! the API's validation, events and audit.
//!
//! `cargo bench --bench imports` (database server from
//! `CLIENTELE_BENCH_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! a scratch database `clientele_bench_imports` is created and dropped).
//! `CLIENTELE_BENCH_IMPORT_ROWS` sets the rows of the file (default 1,000,000).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clientele::auth::{Actor, JwtKeys, Scope};
use clientele::services::imports::{self, Format, ImportQuery, Spool};
use clientele::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

#[path = "jobs_support.rs"]
mod support;

use support::{config, rss_kib, url_for};

const DB: &str = "clientele_bench_imports";

/// Samples this process's RSS every 20 ms until stopped; the peak in KiB.
struct Sampler {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start() -> Sampler {
        let (peak, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Sampler { peak, done, thread }
    }

    fn stop(self) -> f64 {
        self.done.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

fn main() {
    let rows: i64 = std::env::var("CLIENTELE_BENCH_IMPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let mut admin = PgConnection::establish(&url_for("postgres")).expect("Postgres reachable");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {DB}")).unwrap();
    clientele::db::prepare(&url_for(DB)).expect("migrations");
    let mut conn = PgConnection::establish(&url_for(DB)).unwrap();
    let dir = std::env::temp_dir().join("clientele-bench-imports");
    let state = AppState::new(
        config(DB, &dir),
        JwtKeys::from_secret("bench-secret-bench-secret-bench-secret", "clientele", "clientele").unwrap(),
    );
    let actor = Actor::new("bench", &[Scope::ImportsRun, Scope::ContactsWrite], None);
    let baseline = rss_kib();

    // The file as a trade-show list would come: `;`, a BOM, tags as a|b, one custom field.
    let mut spool = Spool::create().unwrap();
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice("\u{feff}email;first_name;last_name;phone;job_title;tags;custom_fields.note\n".as_bytes());
    for g in 0..rows {
        writeln!(buf, "person{g}@example.com;First{g};Last{g};+336{g:08};Buyer;trade-show|2026;met at the fair")
            .unwrap();
        if buf.len() >= 1 << 20 {
            spool.write(&buf).unwrap();
            buf.clear();
        }
    }
    spool.write(&buf).unwrap();
    drop(buf);
    let bytes = spool.bytes;

    let q = ImportQuery { resource: Some("contacts".into()), ..Default::default() };
    let plan = imports::plan(&actor, q, Format::Csv).unwrap();
    let sampler = Sampler::start();
    let started = Instant::now();
    let job = match imports::receive(&mut conn, &actor, &plan, &mut spool, None).unwrap() {
        imports::Received::Queued(j) | imports::Received::Replayed(j) => j,
    };
    let received = started.elapsed();
    let peak_receive = sampler.stop();
    drop(spool);

    // Progress is visible while it runs: a second connection polls the job.
    let polled = Arc::new(AtomicU64::new(0));
    let poller = {
        let (polled, id) = (polled.clone(), job.id);
        std::thread::spawn(move || {
            let mut c = PgConnection::establish(&url_for(DB)).unwrap();
            let reader = Actor::new("bench", &[Scope::ImportsRun], None);
            loop {
                let j = imports::get(&mut c, &reader, id, chrono::Utc::now()).unwrap();
                if j.rows_done > 0 && j.rows_done < j.rows_total {
                    polled.fetch_add(1, Ordering::Relaxed);
                }
                if j.status != imports::JobStatus::Queued && j.status != imports::JobStatus::Running {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let sampler = Sampler::start();
    let started = Instant::now();
    let s = state.clone();
    actix_web::rt::System::new().block_on(async move { imports::run_next(&s).await }).unwrap().expect("a job ran");
    let took = started.elapsed();
    let peak_run = sampler.stop();
    poller.join().unwrap();
    let out = imports::get(&mut conn, &actor, job.id, chrono::Utc::now()).unwrap();
    assert_eq!(out.rows_done, rows, "every row processed");
    assert_eq!(out.created, rows, "every row created: {out:?}");
    let rate = rows as f64 / took.as_secs_f64();
    let peak = peak_receive.max(peak_run);
    println!(
        "import csv: {rows} contacts ({:.0} MB) received in {:.2} s ({:.0} rows/s), written in {:.2} s = {rate:.0} rows/s ({}); \
         progress seen mid-way {} times; peak RSS {peak:.0} MB (receive {peak_receive:.0}, run {peak_run:.0}, before {:.0}) ({})",
        bytes as f64 / 1e6,
        received.as_secs_f64(),
        rows as f64 / received.as_secs_f64(),
        took.as_secs_f64(),
        if rate >= 20_000.0 { "target ≥ 20,000 met" } else { "target ≥ 20,000 MISSED" },
        polled.load(Ordering::Relaxed),
        baseline as f64 / 1024.0,
        if peak <= 150.0 { "target ≤ 150 MB met" } else { "target ≤ 150 MB MISSED" },
    );
    drop(conn);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
}
