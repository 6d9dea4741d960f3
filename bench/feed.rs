//! The feed and sealer lag benchmark of issue 12, run by `bench/run.sh`
//! after the load table (or alone: `bench/run.sh --feed-only`):
//!
//! 1. drops and re-creates a scratch database (`BENCH_FEED_DB`, default
//!    `clientele_feed`) and starts two release `clientele serve` replicas on it;
//! 2. 16 writer threads, spread over both replicas, create contacts and
//!    upsert new orders (alternately) for 30 s, each on one keep-alive
//!    HTTP/1.1 connection, noting when each 201 arrived;
//! 3. one poller per replica follows `GET /v1/events?limit=200&after=<next_cursor>`
//!    and notes when it first saw each event; after the writers stop, the
//!    pollers go on until they have seen every committed event (or 30 s);
//! 4. a sampler reads `audit_seal_lag_seconds` from `/metrics` every 100 ms
//!    (alternating replicas; the gauge is refreshed about every second), and
//!    after the writers stop, psql times how long `audit_pending` takes to empty;
//! 5. prints the results and writes them into BENCHMARKS.md.
//!
//! Events committed are counted from the 201s; an event is missed by a poller
//! that never saw it, duplicated if a poller saw its id twice. Commit to
//! visible is the time a poller first saw an event minus the time its writer
//! got the 201 (negative when the poller was faster than the answer).
//! Targets (issue 12): 0 missed, commit-to-visible p99 ≤ 1 s, seal lag p99 ≤ 1 s.
//!
//! Options (after `--`): `--duration S` (30), `--writers N` (16),
//! `--no-write` (leave BENCHMARKS.md alone).

#[allow(dead_code)]
mod http;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use http::Http;

const SECRET: &str = "bench-only-secret-bench-only-secret-0123";
const SUPPRESSION_KEY: &str = "bench-only-suppression-key-bench-only-01";
/// Base64 of a fixed 32-byte seed: bench checkpoints need no secrecy.
const AUDIT_KEY: &str = "YmVuY2gtYXVkaXQtc2lnbmluZy1rZXktMzItYnl0ZXM=";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const REPLICAS: usize = 2;
/// How long the pollers may take to catch up once the writers have stopped.
const CATCH_UP: Duration = Duration::from_secs(30);

struct Opts {
    duration: u64,
    writers: usize,
    write: bool,
    db: String,
}

fn opts() -> Opts {
    let mut o = Opts {
        duration: 30,
        writers: 16,
        write: true,
        db: std::env::var("BENCH_FEED_DB").unwrap_or_else(|_| "clientele_feed".into()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--duration" => o.duration = val().parse().expect("--duration in seconds"),
            "--writers" => o.writers = val().parse().expect("--writers 16"),
            "--no-write" => o.write = false,
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql failed on {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn database_url(db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

/// A replica, stopped even if the bench panics.
struct Server {
    child: Child,
    addr: String,
    n: usize,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("replica {} had stopped by itself: {status} (see bench/data/feed-server-{}.log)", self.n, self.n);
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn ready(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}

fn start_replica(db: &str, n: usize) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::create_dir_all(format!("{ROOT}/bench/data")).expect("bench/data");
    let log = std::fs::File::create(format!("{ROOT}/bench/data/feed-server-{n}.log")).expect("server log");
    let child = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .arg("serve")
        .env("DATABASE_URL", database_url(db))
        .env("CLIENTELE_BIND", &addr)
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .env("CLIENTELE_SUPPRESSION_KEY", SUPPRESSION_KEY)
        .env("CLIENTELE_AUDIT_SIGNING_KEY", AUDIT_KEY)
        .env("CLIENTELE_RATE_LIMIT", "10000000")
        .env("CLIENTELE_RATE_BURST", "10000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the release clientele");
    let server = Server { child, addr, n };
    let started = Instant::now();
    while !ready(&server.addr) {
        assert!(started.elapsed() < Duration::from_secs(60), "replica {n} did not become ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    server
}

fn token() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["token", "create", "--sub", "feed-bench", "--scope", "admin", "--ttl", "12h"])
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .output()
        .expect("clientele token create");
    assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// What an event is known by: its type and resource id.
type Key = (String, String);

/// What one writer got.
#[derive(Default)]
struct Written {
    /// Event key → when the 201 arrived.
    committed: Vec<(Key, Instant)>,
    /// Non-201 answers by status (0: transport error).
    errors: HashMap<u16, usize>,
    samples: Vec<String>,
}

fn writer(addr: String, token: String, w: usize, stop: Arc<AtomicBool>) -> Written {
    let mut out = Written::default();
    let mut conn = Http::connect(&addr, &token);
    let mut contact: Option<String> = None;
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let (method, path, body, kind) = match &contact {
            Some(c) if i.is_multiple_of(2) => {
                let body = json!({"status": "paid", "currency": "EUR", "total_cents": 3000, "contact_id": c,
                    "ordered_at": "2026-11-01T10:00:00Z",
                    "lines": [{"sku": "SKU-1", "name": "Product 1", "quantity": 1, "unit_price_cents": 1000},
                              {"sku": "SKU-2", "name": "Product 2", "quantity": 2, "unit_price_cents": 1000}]});
                ("PUT", format!("/v1/orders/external/feed/w{w}-{i}"), body, "order.created")
            }
            _ => {
                let body = json!({"email": format!("feed-w{w}-{i}@example.com"), "first_name": "Feed",
                    "last_name": format!("Writer {w}")});
                ("POST", "/v1/contacts".to_owned(), body, "contact.created")
            }
        };
        let bytes = serde_json::to_vec(&body).expect("json");
        match conn.call(method, &path, Some(&bytes)) {
            Ok((201, answer)) => {
                let at = Instant::now();
                let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                let id = v["id"].as_str().expect("an id in the 201").to_owned();
                if kind == "contact.created" {
                    contact = Some(id.clone());
                }
                out.committed.push(((kind.to_owned(), id), at));
            }
            Ok((status, answer)) => {
                *out.errors.entry(status).or_default() += 1;
                if out.samples.len() < 3 {
                    let text = String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned();
                    out.samples.push(format!("{method} {path}: {status} {text}"));
                }
            }
            Err(e) => {
                *out.errors.entry(0).or_default() += 1;
                if out.samples.len() < 3 {
                    out.samples.push(format!("{method} {path}: {e}"));
                }
                std::thread::sleep(Duration::from_millis(50));
                conn = Http::connect(&addr, &token);
            }
        }
    }
    out
}

/// What one poller saw.
#[derive(Default)]
struct Seen {
    /// Event key → when this poller first saw it.
    first: HashMap<Key, Instant>,
    ids: HashSet<String>,
    duplicates: usize,
    events: usize,
    polls: usize,
    errors: Vec<String>,
}

/// Follows the feed until `done` says it has seen enough (or the deadline).
fn poller(addr: String, token: String, done: Arc<dyn Fn(&Seen) -> bool + Send + Sync>) -> Seen {
    let mut seen = Seen::default();
    let mut conn = Http::connect(&addr, &token);
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/events?limit=200&after={c}"),
            None => "/v1/events?limit=200".to_owned(),
        };
        seen.polls += 1;
        let page = match conn.get_json("GET", &path, None) {
            Ok((v, _)) => v,
            Err(e) => {
                if seen.errors.len() < 3 {
                    seen.errors.push(e);
                }
                std::thread::sleep(Duration::from_millis(50));
                conn = Http::connect(&addr, &token);
                continue;
            }
        };
        let at = Instant::now();
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for e in &data {
            seen.events += 1;
            let id = e["id"].as_str().unwrap_or_default().to_owned();
            if !seen.ids.insert(id) {
                seen.duplicates += 1;
            }
            let key = (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["resource_id"].as_str().unwrap_or_default().to_owned(),
            );
            seen.first.entry(key).or_insert(at);
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned).or(cursor);
        if done(&seen) {
            return seen;
        }
        if data.len() < 200 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The metric's value in a Prometheus text page.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn write_markdown(path: &Path, body: &str) {
    const START: &str = "<!-- feed:start -->";
    const END: &str = "<!-- feed:end -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(START), old.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{START}\n{body}{}", &old[..a], &old[b..]),
        // No section yet: after the load table.
        _ => match old.find("<!-- bench:end -->") {
            Some(e) => {
                let e = e + "<!-- bench:end -->".len();
                format!("{}\n\n## Feed and sealer lag\n\n{START}\n{body}{END}{}", &old[..e], &old[e..])
            }
            None => format!("{old}\n## Feed and sealer lag\n\n{START}\n{body}{END}\n"),
        },
    };
    std::fs::write(path, new).expect("write BENCHMARKS.md");
}

fn main() {
    let o = opts();
    // A scratch database: the feed starts empty, so every event is one of ours.
    psql("postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", o.db));
    let status = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .arg("migrate")
        .env("DATABASE_URL", database_url(&o.db))
        .env("RUST_LOG", "warn")
        .status()
        .expect("run clientele migrate");
    assert!(status.success(), "clientele migrate failed");
    let servers: Vec<Server> = (0..REPLICAS).map(|n| start_replica(&o.db, n)).collect();
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    eprintln!("feed: {} replicas ready on {}: {}", REPLICAS, o.db, addrs.join(", "));
    let token = token();

    let stop = Arc::new(AtomicBool::new(false));
    let writers_done = Arc::new(AtomicBool::new(false));
    // Keys committed so far, shared with the pollers so they know when they are done.
    let committed_keys: Arc<Mutex<HashSet<Key>>> = Arc::default();
    let deadline: Arc<Mutex<Option<Instant>>> = Arc::default();

    let pollers: Vec<_> = addrs
        .iter()
        .map(|a| {
            let (a, t) = (a.clone(), token.clone());
            let (keys, wd, dl) = (committed_keys.clone(), writers_done.clone(), deadline.clone());
            let done: Arc<dyn Fn(&Seen) -> bool + Send + Sync> = Arc::new(move |s: &Seen| {
                if !wd.load(Ordering::SeqCst) {
                    return false;
                }
                if dl.lock().expect("deadline").is_some_and(|d| Instant::now() > d) {
                    return true;
                }
                keys.lock().expect("keys").iter().all(|k| s.first.contains_key(k))
            });
            std::thread::spawn(move || poller(a, t, done))
        })
        .collect();

    // Seal lag, every 100 ms, alternating replicas.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (addrs, t, on) = (addrs.clone(), token.clone(), sampling.clone());
        std::thread::spawn(move || {
            let mut conns: Vec<Http> = addrs.iter().map(|a| Http::connect(a, &t)).collect();
            let (mut lag, mut unsealed, mut horizon) = (Vec::new(), Vec::new(), Vec::new());
            let mut i = 0usize;
            while on.load(Ordering::Relaxed) {
                let c = &mut conns[i % REPLICAS];
                i += 1;
                if let Ok((200, text)) = c.call("GET", "/metrics", None) {
                    let text = String::from_utf8_lossy(&text);
                    lag.extend(metric(&text, "audit_seal_lag_seconds"));
                    unsealed.extend(metric(&text, "audit_unsealed_entries"));
                    horizon.extend(metric(&text, "record_horizon_lag_seconds"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (lag, unsealed, horizon)
        })
    };

    let started = Instant::now();
    let writers: Vec<_> = (0..o.writers)
        .map(|w| {
            let (a, t, s) = (addrs[w % REPLICAS].clone(), token.clone(), stop.clone());
            std::thread::spawn(move || writer(a, t, w, s))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(o.duration));
    stop.store(true, Ordering::SeqCst);
    let written: Vec<Written> = writers.into_iter().map(|w| w.join().expect("writer")).collect();
    let stopped = Instant::now();
    let write_seconds = stopped.duration_since(started).as_secs_f64();
    sampling.store(false, Ordering::SeqCst);
    let (mut lag, unsealed, horizon) = sampler.join().expect("sampler");

    // How long until the sealer has sealed everything (psql, every 100 ms).
    let drained = loop {
        let n: i64 = psql(&o.db, "SELECT count(*) FROM audit_pending").trim().parse().unwrap_or(-1);
        if n == 0 {
            break Some(stopped.elapsed());
        }
        if stopped.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    let mut when: HashMap<Key, Instant> = HashMap::new();
    let mut errors: HashMap<u16, usize> = HashMap::new();
    let mut samples = Vec::new();
    for w in written {
        for (k, at) in w.committed {
            when.insert(k, at);
        }
        for (s, n) in w.errors {
            *errors.entry(s).or_default() += n;
        }
        samples.extend(w.samples);
    }
    committed_keys.lock().expect("keys").extend(when.keys().cloned());
    *deadline.lock().expect("deadline") = Some(Instant::now() + CATCH_UP);
    writers_done.store(true, Ordering::SeqCst);
    let seen: Vec<Seen> = pollers.into_iter().map(|p| p.join().expect("poller")).collect();
    let in_db: i64 = psql(&o.db, "SELECT count(*) FROM events WHERE type IN ('contact.created', 'order.created')")
        .trim()
        .parse()
        .unwrap_or(-1);
    let sealed: i64 = psql(&o.db, "SELECT count(*) FROM audit_log").trim().parse().unwrap_or(-1);
    drop(servers);

    let committed = when.len();
    let contacts = when.keys().filter(|k| k.0 == "contact.created").count();
    let mut all_lat = Vec::new();
    let mut per_poller = Vec::new();
    for s in &seen {
        let mut lat: Vec<f64> = when
            .iter()
            .filter_map(|(k, at)| {
                let first = *s.first.get(k)?;
                Some(if first >= *at {
                    first.duration_since(*at).as_secs_f64() * 1000.0
                } else {
                    -(at.duration_since(first).as_secs_f64() * 1000.0)
                })
            })
            .collect();
        let missed = when.keys().filter(|k| !s.first.contains_key(*k)).count();
        lat.sort_by(f64::total_cmp);
        all_lat.extend(lat.iter().copied());
        per_poller.push((missed, s.duplicates, lat));
    }
    all_lat.sort_by(f64::total_cmp);
    lag.sort_by(f64::total_cmp);
    let max_unsealed = unsealed.iter().copied().fold(0.0, f64::max);
    let max_horizon = horizon.iter().copied().fold(0.0, f64::max);

    let mut body = String::new();
    let _ = writeln!(
        body,
        "Last run of `bench/run.sh --feed-only` (or after the load table): {}.\n",
        sh("date -u '+%Y-%m-%d %H:%M UTC'")
    );
    let commit = sh(&format!("git -C '{ROOT}' rev-parse --short HEAD"));
    let dirty = sh(&format!("git -C '{ROOT}' status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md'"));
    let dirty = if dirty.is_empty() { "" } else { " (with uncommitted changes)" };
    let _ = writeln!(
        body,
        "- commit: `{commit}`{dirty}; machine: {} cores, shared with Postgres and the bench",
        sh("nproc")
    );
    let _ = writeln!(
        body,
        "- {REPLICAS} release replicas on one scratch database; {} writer threads (keep-alive HTTP/1.1, spread over both) \
         for {write_seconds:.1} s, creating contacts and upserting new orders of 2 lines, alternately; one poller per \
         replica following `GET /v1/events?limit=200&after=<next_cursor>`",
        o.writers
    );
    let errs: Vec<String> = errors
        .iter()
        .map(|(s, n)| format!("{n} × {}", if *s == 0 { "transport".into() } else { s.to_string() }))
        .collect();
    let _ = writeln!(
        body,
        "- events committed (201s): {committed} ({contacts} contacts, {} orders), {:.0}/s; non-201 answers: {}; \
         matching events in the database afterwards: {in_db}",
        committed - contacts,
        committed as f64 / write_seconds,
        if errs.is_empty() { "none".to_owned() } else { errs.join(", ") }
    );
    let _ = writeln!(
        body,
        "\n| poller | missed | duplicates | commit-to-visible p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|"
    );
    for (i, (missed, dups, lat)) in per_poller.iter().enumerate() {
        let _ = writeln!(
            body,
            "| replica {i} | {missed} | {dups} | {:.1} | {:.1} | {:.1} |",
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
    let _ = writeln!(
        body,
        "| both | {} | {} | {:.1} | {:.1} | {:.1} |\n",
        per_poller.iter().map(|p| p.0).sum::<usize>(),
        per_poller.iter().map(|p| p.1).sum::<usize>(),
        percentile(&all_lat, 0.5),
        percentile(&all_lat, 0.99),
        all_lat.last().copied().unwrap_or(f64::NAN)
    );
    let _ = writeln!(
        body,
        "- seal lag (`audit_seal_lag_seconds`, {} samples every 100 ms while writing): p50 {:.2} s, p99 {:.2} s, max {:.2} s; \
         `audit_unsealed_entries` at most {max_unsealed:.0}; `record_horizon_lag_seconds` at most {max_horizon:.2} s",
        lag.len(),
        percentile(&lag, 0.5),
        percentile(&lag, 0.99),
        lag.last().copied().unwrap_or(f64::NAN)
    );
    let _ = writeln!(
        body,
        "- after the writers stopped, `audit_pending` was empty after {} (psql every 100 ms); audit_log then held {sealed} entries",
        drained.map_or_else(|| "more than 120 s".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()))
    );
    let mut misses = Vec::new();
    let missed_total: usize = per_poller.iter().map(|p| p.0).sum();
    if missed_total > 0 {
        misses.push(format!("{missed_total} events missed"));
    }
    if percentile(&all_lat, 0.99) > 1000.0 {
        misses.push(format!("commit-to-visible p99 {:.0} ms > 1 s", percentile(&all_lat, 0.99)));
    }
    if percentile(&lag, 0.99) > 1.0 {
        misses.push(format!("seal lag p99 {:.2} s > 1 s", percentile(&lag, 0.99)));
    }
    if !errors.is_empty() {
        misses.push(format!("{} non-201 answers", errors.values().sum::<usize>()));
    }
    let _ = writeln!(
        body,
        "\nTargets (issue 12: 0 missed, commit-to-visible p99 ≤ 1 s, seal lag p99 ≤ 1 s) missed in this run: {}",
        if misses.is_empty() { "none".to_owned() } else { misses.join("; ") }
    );
    println!("\n{body}");
    for s in samples.iter().take(5) {
        eprintln!("  answer: {s}");
    }
    for (i, s) in seen.iter().enumerate() {
        eprintln!("  poller {i}: {} polls, {} events read, errors {:?}", s.polls, s.events, s.errors);
    }
    if o.write {
        write_markdown(Path::new(&format!("{ROOT}/BENCHMARKS.md")), &body);
        eprintln!("BENCHMARKS.md updated (feed section)");
    }
    if missed_total > 0 {
        std::process::exit(1);
    }
}
