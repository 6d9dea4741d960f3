//! The load benchmark of issue 6, run by `bench/run.sh` (which installs wrk,
//! readies Postgres and builds the release binary first):
//!
//! 1. seeds `clientele_bench` at 100k clients, 1M contacts, 2M orders with
//!    `bench/seed.sql`, unless it already holds that seed;
//! 2. starts the release `clientele serve` on it and times startup to ready;
//! 3. for each scenario and connection count, runs wrk (`bench/wrk.lua`)
//!    through the real auth path, then pgbench, on the same machine, with
//!    - for writes, the least SQL that does the request's durable work
//!      (`bench/sql/least/<scenario>.sql`, issue 12): the bar, the ratio is
//!      to it;
//!    - the SQL the endpoint issues (`bench/sql/<scenario>.sql`): a
//!      diagnosis column for writes (it moves with the code), and still the
//!      ratio's denominator for reads until they get least-SQL files (issue 13);
//! 4. prints the table and writes it into BENCHMARKS.md.
//!
//! Options (after `--`): `--duration S` (default 10), `--conns 8,32,128`,
//! `--only a,b`, `--scale F` (fraction of the full size; 1), `--no-write`
//! (leave BENCHMARKS.md alone). `BENCH_DB` names the database.

mod duplicates;
#[allow(dead_code)]
mod http;
mod segments;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const SECRET: &str = "bench-only-secret-bench-only-secret-0123";
const SUPPRESSION_KEY: &str = "bench-only-suppression-key-bench-only-01";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Distinct requests per scenario file; wrk picks among them at random.
const REQUESTS: usize = 20_000;
const BATCH: usize = 1_000;

struct Opts {
    duration: u64,
    conns: Vec<u32>,
    only: Option<Vec<String>>,
    scale: f64,
    write: bool,
    db: String,
    segments: bool,
    duplicates: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        duration: 10,
        conns: vec![8, 32, 128],
        only: None,
        scale: 1.0,
        write: true,
        db: std::env::var("BENCH_DB").unwrap_or_else(|_| "clientele_bench".into()),
        segments: false,
        duplicates: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--duration" => o.duration = val().parse().expect("--duration in seconds"),
            "--conns" => o.conns = val().split(',').map(|c| c.parse().expect("--conns 8,32,128")).collect(),
            "--only" => o.only = Some(val().split(',').map(str::to_owned).collect()),
            "--scale" => o.scale = val().parse().expect("--scale 0.01"),
            "--no-write" => o.write = false,
            "--segments" => o.segments = true,
            "--duplicates" => o.duplicates = true,
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// The size of the seed.
#[derive(Clone, Copy)]
struct Scale {
    clients: u64,
    contacts: u64,
    orders: u64,
}

impl Scale {
    fn of(f: f64) -> Scale {
        let n = |full: f64| ((full * f).round() as u64).max(10);
        Scale { clients: n(100_000.0), contacts: n(1_000_000.0), orders: n(2_000_000.0) }
    }
    /// Contacts 1..customers own the orders (bench/seed.sql).
    fn customers(&self) -> u64 {
        (self.contacts * 6 / 10).max(1)
    }
    fn contact_of_order(&self, m: u64) -> u64 {
        (m - 1) % self.customers() + 1
    }
    fn client_of_contact(&self, c: u64) -> Option<u64> {
        (!c.is_multiple_of(10)).then(|| (c - 1) % self.clients + 1)
    }
}

/// `bench_id(kind, n)` of bench/seed.sql.
fn id(kind: u64, n: u64) -> String {
    format!("{kind:08x}-0000-7000-8000-{n:012x}")
}

/// SplitMix64: the same request files on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 1..=n.
    fn upto(&mut self, n: u64) -> u64 {
        self.next() % n + 1
    }
}

fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql failed on {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Recounts the stats of the owners of the orders a write ceiling touched
/// (its stats deltas are placeholders; see bench/sql/README.md).
fn recount(db: &str, since: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", &format!("since={since}")])
        .args(["-f", &format!("{ROOT}/bench/sql/recount.sql")])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "recount failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn database_url(db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

/// Creates, migrates and seeds the database unless it already holds this seed.
fn ensure_seed(db: &str, scale: Scale) {
    // A changed bench/seed.sql seeds again.
    let sql = std::fs::read(format!("{ROOT}/bench/seed.sql")).expect("bench/seed.sql");
    let digest = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&sql)[..8]);
    let exists = psql("postgres", &format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"));
    if exists.trim() == "1" {
        let seeded = psql(db, "SELECT to_regclass('bench_seed') IS NOT NULL");
        let seeded: Value = if seeded.trim() == "t" {
            serde_json::from_str(psql(db, "SELECT row_to_json(b) FROM bench_seed b").trim()).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let want =
            json!({"clients": scale.clients, "contacts": scale.contacts, "orders": scale.orders, "digest": digest});
        if ["clients", "contacts", "orders", "digest"].iter().all(|k| seeded[k] == want[k]) {
            eprintln!("seed: {db} already holds the seed, kept");
            return;
        }
    }
    let status = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .arg("migrate")
        .env("DATABASE_URL", database_url(db))
        .env("RUST_LOG", "warn")
        .status()
        .expect("run clientele migrate");
    assert!(status.success(), "clientele migrate failed");
    eprintln!(
        "seed: {} clients, {} contacts, {} orders into {db} (a few minutes at full size)...",
        scale.clients, scale.contacts, scale.orders
    );
    let started = Instant::now();
    let status = Command::new("psql")
        .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db])
        .args(["-v", &format!("clients={}", scale.clients)])
        .args(["-v", &format!("contacts={}", scale.contacts)])
        .args(["-v", &format!("orders={}", scale.orders)])
        .args(["-v", &format!("digest={digest}")])
        .args(["-f", &format!("{ROOT}/bench/seed.sql")])
        .status()
        .expect("run psql");
    assert!(status.success(), "bench/seed.sql failed");
    eprintln!("seed: done in {:.0} s", started.elapsed().as_secs_f64());
}

/// The server child, stopped even if the bench panics.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("the server had stopped by itself: {status} (see bench/data/load-server.log)");
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

/// Starts the release server on the seeded database; returns it and the time to ready.
fn start_server(db: &str) -> (Server, Duration) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::create_dir_all(format!("{ROOT}/bench/data")).expect("bench/data");
    let log = std::fs::File::create(format!("{ROOT}/bench/data/load-server.log")).expect("server log");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .arg("serve")
        .env("DATABASE_URL", database_url(db))
        .env("CLIENTELE_BIND", &addr)
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .env("CLIENTELE_SUPPRESSION_KEY", SUPPRESSION_KEY)
        // Base64 of a fixed 32-byte seed: bench checkpoints need no secrecy.
        .env("CLIENTELE_AUDIT_SIGNING_KEY", "YmVuY2gtYXVkaXQtc2lnbmluZy1rZXktMzItYnl0ZXM=")
        .env("CLIENTELE_RATE_LIMIT", "10000000")
        .env("CLIENTELE_RATE_BURST", "10000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the release clientele");
    let server = Server { child, addr };
    while !ready(&server.addr) {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not become ready");
        std::thread::sleep(Duration::from_millis(2));
    }
    (server, started.elapsed())
}

fn token() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["token", "create", "--sub", "bench", "--scope", "admin", "--ttl", "12h"])
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .output()
        .expect("clientele token create");
    assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Read,
    Write,
}

struct Scenario {
    name: &'static str,
    what: &'static str,
    kind: Kind,
    /// Units per request (orders in a batch).
    units: u64,
    lines: Vec<String>,
}

fn line(method: &str, path: &str, body: Option<&Value>) -> String {
    match body {
        Some(b) => format!("{method}\t{path}\t{b}"),
        None => format!("{method}\t{path}"),
    }
}

fn order_body(s: Scale, rng: &mut Rng, m: u64) -> Value {
    let c = s.contact_of_order(m);
    let (a, b) = (500 + rng.next() % 20_000, 250 + rng.next() % 10_000);
    let status = ["paid", "fulfilled", "pending"][(rng.next() % 3) as usize];
    let mut o = json!({
        "source": "shopify",
        "external_id": format!("ord-{m}"),
        "number": format!("#{}", 100_000 + m),
        "contact_id": id(2, c),
        "status": status,
        "currency": "EUR",
        "total_cents": a + 2 * b,
        "ordered_at": "2026-10-01T12:00:00Z",
        "lines": [
            {"sku": format!("SKU-{}", m % 500), "name": format!("Product {}", m % 500), "quantity": 1, "unit_price_cents": a},
            {"sku": format!("SKU-{}", m % 700 + 500), "name": format!("Product {}", m % 700 + 500), "quantity": 2, "unit_price_cents": b}
        ]
    });
    if let Some(k) = s.client_of_contact(c) {
        o["client_id"] = json!(id(1, k));
    }
    o
}

const GRAPHQL_CONTACT_ORDERS: &str = "query($id: UUID!) { contact(id: $id) { id firstName lastName email status \
    stats { ordersCount totalSpentCents } orders(first: 10) { nodes { id number status totalCents currency orderedAt \
    lines { sku name quantity unitPriceCents } } } } }";

fn scenarios(db: &str, s: Scale) -> Vec<Scenario> {
    let mut rng = Rng(0x5EED);
    let mut out = Vec::new();
    let mut each = |n: usize, f: &mut dyn FnMut(&mut Rng) -> String| (0..n).map(|_| f(&mut rng)).collect::<Vec<_>>();

    let get_contact =
        each(REQUESTS, &mut |r| line("GET", &format!("/v1/contacts/{}", id(2, r.upto(s.contacts))), None));
    // Cursors of random contacts, as the previous page would have returned them.
    let picks = each(2_000, &mut |r| format!("'{}'", id(2, r.upto(s.contacts))));
    let rows = psql(
        db,
        &format!(
            "SELECT id, (extract(epoch FROM created_at) * 1000000)::bigint FROM contacts WHERE id IN ({})",
            picks.join(",")
        ),
    );
    let list = rows
        .lines()
        .map(|row| {
            let (uuid, micros) = row.split_once('|').expect("id|micros");
            let cursor = URL_SAFE_NO_PAD.encode(format!("c{micros}:{}", uuid.replace('-', "")));
            line("GET", &format!("/v1/contacts?limit=50&after={cursor}"), None)
        })
        .collect();
    let get_client = each(REQUESTS, &mut |r| line("GET", &format!("/v1/clients/{}", id(1, r.upto(s.clients))), None));
    let contact_orders =
        each(REQUESTS, &mut |r| line("GET", &format!("/v1/contacts/{}/orders", id(2, r.upto(s.customers()))), None));
    let graphql = each(REQUESTS, &mut |r| {
        let body = json!({"query": GRAPHQL_CONTACT_ORDERS, "variables": {"id": id(2, r.upto(s.customers()))}});
        line("POST", "/graphql", Some(&body))
    });
    let patch = each(REQUESTS, &mut |r| {
        let body = json!({"job_title": format!("Buyer {}", r.next() % 1_000_000)});
        line("PATCH", &format!("/v1/contacts/{}", id(2, r.upto(s.contacts))), Some(&body))
    });
    let upsert = each(REQUESTS, &mut |r| {
        let m = r.upto(s.orders);
        let body = order_body(s, r, m);
        line("PUT", &format!("/v1/orders/external/shopify/ord-{m}"), Some(&body))
    });
    // Orders of the first lap (one per customer contact), sorted: concurrent
    // batches then lock rows in one order and cannot deadlock.
    let batch = each(100, &mut |r| {
        let mut ms = HashSet::new();
        while ms.len() < BATCH.min(s.customers() as usize) {
            ms.insert(r.upto(s.customers().min(s.orders)));
        }
        let mut ms: Vec<u64> = ms.into_iter().collect();
        ms.sort_unstable();
        let orders: Vec<Value> = ms.iter().map(|&m| order_body(s, r, m)).collect();
        line("POST", "/v1/orders/batch", Some(&json!({ "orders": orders })))
    });
    let consent = each(REQUESTS, &mut |r| {
        let body = json!({"purpose": "email_marketing", "status": "granted", "channel": "web_form",
            "collected_at": "2026-11-01T10:00:00Z",
            "proof": {"method": "double_opt_in", "wording": "Send me your offers by email"}});
        line("POST", &format!("/v1/contacts/{}/consents", id(2, r.upto(s.contacts))), Some(&body))
    });

    // A mailer's question before a campaign: 1,000 random contacts, one call.
    let reach = each(200, &mut |r| {
        let recipients: Vec<Value> = (0..1000).map(|_| json!({"contact_id": id(2, r.upto(s.contacts))})).collect();
        let body = json!({"channel": "email", "purpose": "email_marketing", "recipients": recipients});
        line("POST", "/v1/reachability/check", Some(&body))
    });

    for (name, what, kind, units, lines) in [
        ("get_contact", "GET a contact by id", Kind::Read, 1, get_contact),
        ("list_contacts", "GET a page of 50 contacts after a cursor", Kind::Read, 1, list),
        ("get_client", "GET a client with its stats", Kind::Read, 1, get_client),
        ("contact_orders", "GET a contact's orders (REST)", Kind::Read, 1, contact_orders),
        ("graphql_contact_orders", "a contact with its orders (GraphQL)", Kind::Read, 1, graphql),
        ("patch_contact", "PATCH a contact", Kind::Write, 1, patch),
        ("upsert_order", "PUT an order by external id", Kind::Write, 1, upsert),
        ("batch_orders", "POST a batch of 1,000 orders", Kind::Write, BATCH as u64, batch),
        ("consent_grant", "POST a consent grant", Kind::Write, 1, consent),
        ("reachability_check", "POST a may-I-contact check of 1,000 contacts", Kind::Read, 1000, reach),
    ] {
        out.push(Scenario { name, what, kind, units, lines });
    }
    out
}

struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
}

/// Largest resident set of `pid` while `f` runs, in MiB.
fn with_peak_rss<T>(pid: u32, f: impl FnOnce() -> T) -> (T, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    let kb = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                        .unwrap_or(0);
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = f();
    stop.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    (out, peak.load(Ordering::Relaxed) as f64 / 1024.0)
}

fn wrk(addr: &str, token: &str, file: &Path, conns: u32, seconds: u64) -> WrkResult {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &conns.to_string(), "-d", &format!("{seconds}s"), "--timeout", "40s"])
        .args(["-s", &format!("{ROOT}/bench/wrk.lua"), &format!("http://{addr}"), "--"])
        .arg(file)
        .env("BENCH_TOKEN", token)
        .output()
        .expect("run wrk (apt-get install wrk)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(json) = stdout.lines().find_map(|l| l.strip_prefix("BENCH ")) else {
        panic!("wrk printed no result: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    };
    let v: Value = serde_json::from_str(json).expect("wrk's JSON line");
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let errors = n("connect") + n("read") + n("write") + n("status") + n("timeout");
    WrkResult {
        // Only answered 2xx/3xx requests count: a fast 503 is not throughput.
        rps: n("requests").saturating_sub(errors) as f64 / (n("duration_us") as f64 / 1e6),
        p50_ms: n("p50_us") as f64 / 1000.0,
        p99_ms: n("p99_us") as f64 / 1000.0,
        errors,
        requests: n("requests"),
    }
}

/// Waits until the server has finished what wrk left behind: requests whose
/// client hung up still run (a queued batch whose body had arrived runs to
/// its end), and would otherwise weigh on the next measurement or ceiling.
fn drain(addr: &str, token: &str) {
    let idle = |text: &str| {
        [
            "db_pool_connections{state=\"in_use\"} 0",
            "db_bulk_writes{state=\"running\"} 0",
            "db_bulk_writes{state=\"queued\"} 0",
        ]
        .iter()
        .all(|line| text.lines().any(|l| l == *line))
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(300) {
        let answer = http::Http::connect(addr, token).call("GET", "/metrics", None);
        if let Ok((200, text)) = answer
            && idle(&String::from_utf8_lossy(&text))
        {
            if started.elapsed() > Duration::from_secs(1) {
                eprintln!(
                    "  (waited {:.0} s for the server to finish abandoned requests)",
                    started.elapsed().as_secs_f64()
                );
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("  the server was still busy after 300 s");
}

/// The least-SQL script of a scenario, if it has one (writes, for now).
fn least_sql(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(format!("{ROOT}/bench/sql/least/{name}.sql"));
    p.exists().then_some(p)
}

/// pgbench's transactions per second, and failed transactions, with a script.
fn pgbench(db: &str, s: Scale, script: &Path, conns: u32, seconds: u64) -> (f64, u64) {
    let name = script.display();
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "--max-tries", "5", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-c", &conns.to_string(), "-j", "2", "-T", &seconds.to_string()])
        .args(["-D", &format!("clients={}", s.clients)])
        .args(["-D", &format!("contacts={}", s.contacts)])
        .args(["-D", &format!("customers={}", s.customers())])
        .args(["-D", &format!("orders={}", s.orders)])
        .arg("-f")
        .arg(script)
        .arg(db)
        .output()
        .expect("run pgbench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    let Some(tps) = tps else {
        panic!("pgbench printed no tps for {name}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    };
    let failed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (tps, failed)
}

struct Row {
    scenario: &'static str,
    kind: Kind,
    units: u64,
    conns: u32,
    wrk: WrkResult,
    rss_mib: f64,
    /// pgbench with the least SQL (tx/s, failed), where the scenario has one.
    least: Option<(f64, u64)>,
    /// pgbench with the SQL the service sends (tx/s, failed).
    service: (f64, u64),
}

impl Row {
    /// To the least SQL where there is one, else to the service's SQL.
    fn ratio(&self) -> f64 {
        self.wrk.rps / self.least.map_or(self.service.0, |l| l.0)
    }
}

/// A pgbench column: tx/s (and orders/s for batches), failed transactions.
fn tx_cell(tx: f64, failed: u64, units: u64) -> String {
    let failed = if failed > 0 { format!(" ({failed} failed)") } else { String::new() };
    if units > 1 { format!("{tx:.1} ({:.0} orders/s){failed}", tx * units as f64) } else { format!("{tx:.0}{failed}") }
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
    let mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo");
    let pg = psql("postgres", "SHOW server_version").trim().to_owned();
    let wrk = sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1-2");
    format!("{} cores ({}), {mem}, PostgreSQL {pg}, {wrk}", sh("nproc"), cpu.trim())
}

fn table(rows: &[Row], scenarios: &[Scenario]) -> String {
    let mut t = String::from(
        "| scenario | conns | req/s | p50 ms | p99 ms | errors | server RSS MiB | least-SQL tx/s | service SQL tx/s | ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let what = scenarios.iter().find(|s| s.name == r.scenario).map_or("", |s| s.what);
        let units = if r.units > 1 { format!(" ({:.0} orders/s)", r.wrk.rps * r.units as f64) } else { String::new() };
        let rps = if r.units > 1 { format!("{:.1}", r.wrk.rps) } else { format!("{:.0}", r.wrk.rps) };
        let least = r.least.map_or_else(|| "–".to_owned(), |(tx, f)| tx_cell(tx, f, r.units));
        // A read's ratio is still to the SQL its endpoint sends (marked).
        let mark = if r.least.is_none() { " †" } else { "" };
        let _ = writeln!(
            t,
            "| `{}` {what}{units} | {} | {rps} | {:.2} | {:.2} | {} of {} | {:.1} | {least} | {} | {:.2}{mark} |",
            r.scenario,
            r.conns,
            r.wrk.p50_ms,
            r.wrk.p99_ms,
            r.wrk.errors,
            r.wrk.requests,
            r.rss_mib,
            tx_cell(r.service.0, r.service.1, r.units),
            r.ratio()
        );
    }
    t
}

/// Targets of issues 6 and 12 that the table can check.
fn verdicts(rows: &[Row], startup: Duration) -> String {
    let mut v = String::new();
    for r in rows {
        let mut misses = Vec::new();
        match r.least {
            // Issue 12: writes and batches at 8 and 32 connections reach half
            // of the least SQL for their work.
            Some(_) if r.conns <= 32 && r.ratio() < 0.5 => {
                misses.push(format!("ratio {:.2} < 0.50 of the least SQL", r.ratio()))
            }
            Some(_) => {}
            // Issue 6: reads, to the SQL they send.
            None if r.kind == Kind::Read && r.ratio() < 0.40 => {
                misses.push(format!("ratio {:.2} < 0.40 of the service's SQL", r.ratio()))
            }
            None if r.kind == Kind::Write && r.ratio() < 0.30 => {
                misses.push(format!("ratio {:.2} < 0.30 of the service's SQL", r.ratio()))
            }
            None => {}
        }
        if r.wrk.errors > 0 {
            misses.push(format!("{} errors", r.wrk.errors));
        }
        if r.kind == Kind::Read && r.conns == 32 && r.wrk.p99_ms > 5.0 {
            misses.push(format!("p99 {:.1} ms > 5 ms at 32 connections", r.wrk.p99_ms));
        }
        if r.units > 1 && r.wrk.rps * (r.units as f64) < 20_000.0 {
            misses.push(format!("{:.0} orders/s < 20,000", r.wrk.rps * r.units as f64));
        }
        if r.conns >= 128 && r.rss_mib > 150.0 {
            misses.push(format!("RSS {:.0} MiB > 150", r.rss_mib));
        }
        if !misses.is_empty() {
            let _ = writeln!(v, "- `{}` at {}: {}", r.scenario, r.conns, misses.join(", "));
        }
    }
    let ms = startup.as_secs_f64() * 1000.0;
    if ms > 1000.0 {
        let _ = writeln!(v, "- startup to ready: {ms:.0} ms > 1,000 ms");
    }
    if v.is_empty() {
        v.push_str("- none\n");
    }
    v
}

/// Writes `body` between `<!-- {name}:start -->` and its end marker,
/// appended to the file the first time.
fn write_section(path: &Path, name: &str, body: &str) {
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(&start), old.find(&end)) {
        (Some(a), Some(b)) if a < b => format!("{}{start}\n{body}{}", &old[..a], &old[b..]),
        _ => format!("{old}\n{start}\n{body}{end}\n"),
    };
    std::fs::write(path, new).expect("write BENCHMARKS.md");
}

fn write_markdown(path: &Path, body: &str) {
    const START: &str = "<!-- bench:start -->";
    const END: &str = "<!-- bench:end -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(START), old.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{START}\n{body}{}", &old[..a], &old[b..]),
        _ => format!("# Benchmarks\n\n{START}\n{body}{END}\n"),
    };
    std::fs::write(path, new).expect("write BENCHMARKS.md");
}

fn main() {
    let o = opts();
    let scale = Scale::of(o.scale);
    ensure_seed(&o.db, scale);
    if o.duplicates {
        // Issue 17: the duplicate-check latency at this scale, in its own section.
        let (server, _) = start_server(&o.db);
        let table = duplicates::run(&server.addr, &token(), scale.clients);
        drop(server);
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Duplicate checks at scale {} ({} clients, {} contacts), `bench/run.sh --duplicates --no-feed --scale {}` \
             on {}, commit `{}`; 300 requests per row, one at a time, each about another record.\n",
            o.scale,
            scale.clients,
            scale.contacts,
            o.scale,
            sh("date -u '+%Y-%m-%d %H:%M UTC'"),
            sh(&format!("git -C '{ROOT}' rev-parse --short HEAD")),
        );
        body.push_str(&table);
        println!("\n{body}");
        if o.write {
            write_section(&PathBuf::from(format!("{ROOT}/BENCHMARKS.md")), &format!("duplicates-{}", o.scale), &body);
        }
        return;
    }
    if o.segments {
        // Issue 19: the segment table at this scale, in its own section.
        let (server, _) = start_server(&o.db);
        let token = token();
        let table = segments::run(&server.addr, &token);
        drop(server);
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Segments at scale {} ({} clients, {} contacts, {} orders), `bench/run.sh --segments --scale {}` on {}, \
             commit `{}`; {} requests per cell, one at a time.\n",
            o.scale,
            scale.clients,
            scale.contacts,
            scale.orders,
            o.scale,
            sh("date -u '+%Y-%m-%d %H:%M UTC'"),
            sh(&format!("git -C '{ROOT}' rev-parse --short HEAD")),
            40
        );
        body.push_str(&table);
        println!("\n{body}");
        if o.write {
            write_section(&PathBuf::from(format!("{ROOT}/BENCHMARKS.md")), &format!("segments-{}", o.scale), &body);
        }
        return;
    }
    let all = scenarios(&o.db, scale);
    let dir = PathBuf::from(format!("{ROOT}/bench/data/requests"));
    std::fs::create_dir_all(&dir).expect("bench/data/requests");
    let chosen: Vec<&Scenario> =
        all.iter().filter(|s| o.only.as_ref().is_none_or(|only| only.iter().any(|n| n == s.name))).collect();
    for s in &chosen {
        std::fs::write(dir.join(format!("{}.tsv", s.name)), s.lines.join("\n") + "\n").expect("request file");
    }
    let (server, startup) = start_server(&o.db);
    eprintln!("server ready in {:.0} ms", startup.as_secs_f64() * 1000.0);
    let token = token();
    let mut rows = Vec::new();
    for s in &chosen {
        // One request of each scenario must succeed before it is measured.
        let (method, rest) = s.lines[0].split_once('\t').expect("method");
        let (path, body) = rest.split_once('\t').map_or((rest, None), |(p, b)| (p, Some(b.as_bytes())));
        let mut check = http::Http::connect(&server.addr, &token);
        let (status, answer) = check.call(method, path, body).expect("check request");
        assert!((200..300).contains(&status), "{}: {status} {}", s.name, String::from_utf8_lossy(&answer));
        let file = dir.join(format!("{}.tsv", s.name));
        wrk(&server.addr, &token, &file, 32, 2); // warm-up
        drain(&server.addr, &token);
        for &c in &o.conns {
            let (w, rss) = with_peak_rss(server.child.id(), || wrk(&server.addr, &token, &file, c, o.duration));
            drain(&server.addr, &token);
            let since = psql(&o.db, "SELECT now()");
            // Both scripts in the same run, least SQL first; the server is
            // idle meanwhile but for its sealer, which seals what they append.
            let least = least_sql(s.name).map(|f| pgbench(&o.db, scale, &f, c, o.duration));
            let service = pgbench(&o.db, scale, Path::new(&format!("{ROOT}/bench/sql/{}.sql", s.name)), c, o.duration);
            if s.name.contains("order") && s.kind == Kind::Write {
                recount(&o.db, since.trim());
            }
            let row =
                Row { scenario: s.name, kind: s.kind, units: s.units, conns: c, wrk: w, rss_mib: rss, least, service };
            eprintln!(
                "{:<24} c={:<4} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {:>4}  rss {:>6.1} MiB  \
                 least-SQL {:>8}  service SQL {:>8.0}  ratio {:.2}",
                s.name,
                c,
                row.wrk.rps,
                row.wrk.p50_ms,
                row.wrk.p99_ms,
                row.wrk.errors,
                rss,
                least.map_or_else(|| "-".to_owned(), |l| format!("{:.1}", l.0)),
                service.0,
                row.ratio()
            );
            rows.push(row);
        }
    }
    drop(server);
    let commit = sh(&format!("git -C '{ROOT}' rev-parse --short HEAD"));
    let dirty = sh(&format!("git -C '{ROOT}' status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md'"));
    let dirty = if dirty.is_empty() { "" } else { " (with uncommitted changes)" };
    let mut body = String::new();
    let _ = writeln!(body, "Last run of `bench/run.sh`: {}.\n", sh("date -u '+%Y-%m-%d %H:%M UTC'"));
    let _ = writeln!(body, "- machine: {}", machine());
    let _ = writeln!(body, "- commit: `{commit}`{dirty}");
    let _ = writeln!(
        body,
        "- data: {} clients, {} contacts, {} orders; {} s per measurement; wrk and pgbench with 2 threads",
        scale.clients, scale.contacts, scale.orders, o.duration
    );
    let _ = writeln!(body, "- startup to ready on the migrated database: {:.0} ms", startup.as_secs_f64() * 1000.0);
    let _ = writeln!(body, "- req/s counts successful answers only; errors are timeouts and non-2xx answers");
    let _ = writeln!(
        body,
        "- least-SQL tx/s: pgbench with `bench/sql/least/<scenario>.sql`, the minimal durable work of the request \
         (the bar: ratio = req/s ÷ least-SQL tx/s); service SQL tx/s: pgbench with `bench/sql/<scenario>.sql`, \
         what the endpoint sends (diagnosis); † ratio to the service's SQL (reads have no least-SQL file yet, issue 13)\n"
    );
    body.push_str(&table(&rows, &all));
    let _ = writeln!(body, "\nTargets missed in this run:\n");
    body.push_str(&verdicts(&rows, startup));
    println!("\n{body}");
    if o.write {
        write_markdown(Path::new(&format!("{ROOT}/BENCHMARKS.md")), &body);
        eprintln!("BENCHMARKS.md updated");
    }
}
