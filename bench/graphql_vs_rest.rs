//! GraphQL vs REST on one task: fetch 50 contacts with their orders.
//!
//! - GraphQL: one `POST /graphql` asking for `contacts(first: 50)` with
//!   `orders(first: 50)` nested (what REST's default page sizes return).
//! - REST: `GET /v1/contacts?limit=50`, then `GET /v1/contacts/{id}/orders`
//!   for each of the 50 contacts, one after the other, as a simple client would.
//!
//! Run with `bench/graphql_vs_rest.sh` (or `cargo bench --bench graphql_vs_rest`).
//! It starts the release `clientele` binary on a free loopback port with a
//! database of its own, seeds it, checks that both ways return the same
//! orders, measures each way for `BENCH_SECONDS` (default 8) with
//! `BENCH_CLIENTS` keep-alive connections (default 4), prints the figures,
//! then stops the server and drops the database. Postgres is taken from
//! `CLIENTELE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod http;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{Value, json};

use http::Http;

const SECRET: &str = "bench-secret-that-is-at-least-32-bytes-long";
const CONTACTS: usize = 50;
const ORDERS_PER_CONTACT: usize = 5;
const QUERY: &str = "{ contacts(first: 50) { nodes {
  id clientId firstName lastName email phone jobTitle birthDate status source lawfulBasis restricted
  lastInteractionAt tags customFields createdAt updatedAt version
  stats { ordersCount totalSpentCents spentLast12mCents firstOrderAt lastOrderAt lastOrderTotalCents }
  orders(first: 50) { nodes { id clientId contactId source externalId number status currency totalCents orderedAt
    lines { sku name quantity unitPriceCents } createdAt updatedAt version } }
} } }";

/// What one way returned: the order ids seen and the bytes read.
type Fetched = Result<(BTreeSet<String>, usize), String>;

fn ids_of(orders: &Value) -> impl Iterator<Item = String> + '_ {
    orders.as_array().into_iter().flatten().filter_map(|o| o["id"].as_str().map(str::to_owned))
}

/// The GraphQL way: one request.
fn fetch_graphql(c: &mut Http) -> Fetched {
    let body = serde_json::to_vec(&json!({ "query": QUERY })).map_err(|e| e.to_string())?;
    let (v, bytes) = c.get_json("POST", "/graphql", Some(&body))?;
    let contacts = v["data"]["contacts"]["nodes"].as_array().ok_or("no contacts")?;
    Ok((contacts.iter().flat_map(|c| ids_of(&c["orders"]["nodes"])).collect(), bytes))
}

/// The REST way: 1 + 50 requests.
fn fetch_rest(c: &mut Http) -> Fetched {
    let (list, mut bytes) = c.get_json("GET", "/v1/contacts?limit=50", None)?;
    let mut ids = BTreeSet::new();
    for contact in list["data"].as_array().ok_or("no contacts")? {
        let path = format!("/v1/contacts/{}/orders", contact["id"].as_str().ok_or("no id")?);
        let (orders, n) = c.get_json("GET", &path, None)?;
        bytes += n;
        ids.extend(ids_of(&orders["data"]));
    }
    Ok((ids, bytes))
}

struct Figures {
    fetches: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    bytes: usize,
    errors: usize,
    first_error: Option<String>,
}

/// Runs `fetch` on `clients` connections until `seconds` have passed; a
/// failed fetch is counted (and its connection replaced), not fatal.
fn measure(addr: &str, token: &str, clients: usize, seconds: f64, fetch: fn(&mut Http) -> Fetched) -> Figures {
    let deadline = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, token) = (addr.to_owned(), token.to_owned());
            std::thread::spawn(move || {
                let mut c = Http::connect(&addr, &token);
                let (mut lat, mut bytes, mut errors) = (Vec::new(), 0, Vec::new());
                while started.elapsed() < deadline {
                    let t = Instant::now();
                    match fetch(&mut c) {
                        Ok((_, n)) => {
                            bytes += n;
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(e) => {
                            errors.push(e);
                            c = Http::connect(&addr, &token);
                        }
                    }
                }
                (lat, bytes, errors)
            })
        })
        .collect();
    let mut f = Figures {
        fetches: 0,
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
        bytes: 0,
        errors: 0,
        first_error: None,
    };
    for t in threads {
        let (lat, bytes, errors) = t.join().expect("client thread");
        f.fetches += lat.len();
        f.latencies_ms.extend(lat);
        f.bytes += bytes;
        f.errors += errors.len();
        f.first_error = f.first_error.or(errors.into_iter().next());
    }
    f.elapsed = started.elapsed();
    f.latencies_ms.sort_by(f64::total_cmp);
    f
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}

fn server_url(db: &str) -> String {
    let base = std::env::var("CLIENTELE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = url::Url::parse(&base).expect("a database URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// The server child, stopped (and its database dropped) even if the bench panics.
struct Server {
    child: Child,
    db: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!("the server had stopped by itself: {status} (see bench/data/server.log)");
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        if let Ok(mut conn) = PgConnection::establish(&server_url("postgres")) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db));
        }
    }
}

fn start_server() -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let db = format!("clientele_bench_{}", uuid::Uuid::now_v7().simple());
    // The server's warnings and errors, for when a run goes wrong (bench/data is not committed).
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/data");
    std::fs::create_dir_all(dir).expect("bench/data");
    let log = std::fs::File::create(format!("{dir}/server.log")).expect("bench/data/server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .arg("serve")
        .env("DATABASE_URL", server_url(&db))
        .env("CLIENTELE_BIND", &addr)
        .env("CLIENTELE_JWT_SECRET", SECRET)
        // The query asks for up to 50 orders per contact, like REST's default page.
        .env("CLIENTELE_GRAPHQL_MAX_COMPLEXITY", "200000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start target/release/clientele");
    let server = Server { child, db };
    let started = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(&addr) {
            let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, addr)
}

fn seed(c: &mut Http) {
    let mut orders = Vec::new();
    for i in 0..CONTACTS {
        let contact = c.json(
            "POST",
            "/v1/contacts",
            Some(&json!({"email": format!("person{i}@example.com"),
            "first_name": "Bench", "last_name": format!("Person {i}"), "tags": ["bench"]})),
        );
        for j in 0..ORDERS_PER_CONTACT {
            orders.push(json!({"external_id": format!("{i}-{j}"), "contact_id": contact["id"], "status": "paid",
                "currency": "EUR", "total_cents": 2500, "number": format!("B-{i}-{j}"),
                "lines": [{"sku": "A", "name": "Widget", "quantity": 1, "unit_price_cents": 1000},
                          {"sku": "B", "name": "Gadget", "quantity": 1, "unit_price_cents": 1500}]}));
        }
    }
    c.json("POST", "/v1/orders/batch", Some(&json!({ "orders": orders })));
}

/// The 1-minute load average: other work on the machine skews the figures.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_default()
}

fn main() {
    let seconds: f64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8.0);
    let clients: usize = std::env::var("BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let (server, addr) = start_server();
    let token = clientele::auth::JwtKeys::from_secret(SECRET, "clientele", "clientele")
        .and_then(|k| k.mint("bench", "admin", 3600, None))
        .expect("a token");
    let mut c = Http::connect(&addr, &token);
    seed(&mut c);
    let (g, r) = (fetch_graphql(&mut c).expect("GraphQL answers").0, fetch_rest(&mut c).expect("REST answers").0);
    assert_eq!(g.len(), CONTACTS * ORDERS_PER_CONTACT);
    assert_eq!(g, r, "both ways return the same orders");

    println!(
        "GraphQL vs REST: {CONTACTS} contacts with their orders ({ORDERS_PER_CONTACT} each, 2 lines), release server \
         on {addr}, {clients} keep-alive clients, {seconds} s per way after 1 s of warm-up, {} cores, load {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );
    println!(
        "{:<22} {:>8} {:>10} {:>11} {:>8} {:>8} {:>10}",
        "way", "fetches", "fetches/s", "HTTP req/s", "p50 ms", "p99 ms", "KiB/fetch"
    );
    let mut failures = Vec::new();
    let mut rates = Vec::new();
    for (name, requests, fetch) in [
        ("graphql (1 request)", 1, fetch_graphql as fn(&mut Http) -> Fetched),
        ("rest (1 + 50 requests)", 1 + CONTACTS, fetch_rest),
    ] {
        measure(&addr, &token, clients, 1.0, fetch);
        let f = measure(&addr, &token, clients, seconds, fetch);
        let rate = f.fetches as f64 / f.elapsed.as_secs_f64();
        rates.push((rate, percentile(&f.latencies_ms, 0.5)));
        println!(
            "{name:<22} {:>8} {rate:>10.1} {:>11.0} {:>8.1} {:>8.1} {:>10.1}",
            f.fetches,
            rate * requests as f64,
            percentile(&f.latencies_ms, 0.5),
            percentile(&f.latencies_ms, 0.99),
            f.bytes as f64 / f.fetches.max(1) as f64 / 1024.0
        );
        if let Some(e) = f.first_error {
            failures.push(format!("{name}: {} failed fetches, the first: {e}", f.errors));
        }
    }
    println!(
        "ratio: GraphQL fetches the set {:.1}x as often per second, with a p50 latency {:.1}x lower (load now {})",
        rates[0].0 / rates[1].0,
        rates[1].1 / rates[0].1,
        load()
    );
    for f in &failures {
        println!("errors: {f}");
    }
    drop(server);
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
