//! Load proofs against a running server: a soak and SIGTERM under load.
//!
//! Driven by `scripts/soak.sh` and `scripts/sigterm-under-load.sh`, which build
//! the release server, start it on a free loopback port with a scratch
//! database and pass it here through the environment:
//! `SOAK_ADDR` (127.0.0.1:port), `SOAK_TOKEN` (admin token), `SOAK_PID`.
//!
//! - `cargo bench --bench soak -- soak [seconds] [connections]`: seeds a few
//!   clients and contacts, then holds a mixed load (lists, gets by id, order
//!   upserts, consent writes) on one keep-alive connection per thread. Prints
//!   requests, req/s, p50/p99 and the server's RSS at start, every 30 s and at
//!   the end. Exit 1 on any error (transport error or non-2xx) or if the RSS
//!   at the end exceeds the RSS after 30 s by more than 50%.
//! - `cargo bench --bench soak -- sigterm [seconds] [connections]`: the same
//!   load; halfway through, SIGTERM to the server; the load goes on until the
//!   server has exited. Exit 1 if an answer was a 5xx, if a request sent on an
//!   accepted connection got no answer (reset, or closed before answering), or
//!   if the server did not exit within 30 s. Connections refused after SIGTERM
//!   are expected. The script checks the exit status.

// Shared with graphql_vs_rest, which uses the JSON helpers this one does not.
#[allow(dead_code)]
mod http;

use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use http::Http;

const CLIENTS: usize = 5;
const CONTACTS: usize = 20;
/// Order keys per thread: inserts first, then updates of the same orders.
const ORDER_KEYS: usize = 200;
const RSS_EVERY: Duration = Duration::from_secs(30);
const CONSENT: &str = r#"{"purpose":"newsletter","status":"granted","channel":"web_form","collected_at":"2026-01-01T00:00:00Z","proof":{"method":"checkbox","wording":"Yes"}}"#;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run scripts/soak.sh)"))
}

/// The server's resident set in KiB (VmRSS), 0 once it has gone.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Whether the process has exited (gone, or a zombie its parent has not reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) == Some("Z"),
        Err(_) => true,
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

struct Seed {
    clients: Vec<String>,
    contacts: Vec<String>,
}

fn seed(c: &mut Http) -> Seed {
    let clients: Vec<String> = (0..CLIENTS)
        .map(|i| {
            let client = c.json("POST", "/v1/clients", Some(&json!({"name": format!("Soak {i} SAS")})));
            client["id"].as_str().expect("a client id").to_owned()
        })
        .collect();
    let contacts = (0..CONTACTS)
        .map(|i| {
            let body = json!({"email": format!("soak{i}@example.com"), "first_name": "Soak",
                "last_name": format!("Person {i}"), "client_id": clients[i % CLIENTS]});
            c.json("POST", "/v1/contacts", Some(&body))["id"].as_str().expect("a contact id").to_owned()
        })
        .collect();
    Seed { clients, contacts }
}

/// The `i`-th request of thread `t`: the mix cycles through lists, gets by
/// id, order upserts and consent writes.
fn request(seed: &Seed, t: usize, i: usize) -> (&'static str, String, Option<Vec<u8>>) {
    let client = &seed.clients[(t + i) % seed.clients.len()];
    let contact = &seed.contacts[(t * 7 + i) % seed.contacts.len()];
    match i % 8 {
        0 => ("GET", "/v1/contacts?limit=50".into(), None),
        1 => ("GET", "/v1/clients?limit=50".into(), None),
        2 | 5 => ("GET", format!("/v1/contacts/{contact}"), None),
        3 => ("GET", format!("/v1/clients/{client}"), None),
        4 | 7 => {
            let n = t * 100_000 + (i / 8) % ORDER_KEYS;
            let body = json!({"status": "paid", "currency": "EUR", "total_cents": 1000, "client_id": client,
                "lines": [{"name": "x", "quantity": 1, "unit_price_cents": 1000}]});
            ("PUT", format!("/v1/orders/external/soak/{n}"), Some(serde_json::to_vec(&body).expect("json")))
        }
        _ => ("POST", format!("/v1/contacts/{contact}/consents"), Some(CONSENT.as_bytes().to_vec())),
    }
}

/// What one thread saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: Vec<String>,
    /// sigterm: requests answered after the signal, connections refused after it,
    /// and requests started before it and answered after it.
    answered_after: usize,
    refused_after: usize,
    closed_after: usize,
    in_flight_completed: usize,
}

struct Shared {
    addr: String,
    token: String,
    seed: Seed,
    stop: AtomicBool,
    requests: AtomicUsize,
    /// Microseconds since `started` at which SIGTERM was sent (0: not yet).
    sigterm_at_us: AtomicUsize,
    started: Instant,
}

impl Shared {
    fn sigterm_sent(&self, at: Instant) -> bool {
        let s = self.sigterm_at_us.load(Ordering::SeqCst);
        s != 0 && at.duration_since(self.started) >= Duration::from_micros(s as u64)
    }
}

fn worker(sh: Arc<Shared>, t: usize) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<Http> = None;
    let mut i = 0;
    while !sh.stop.load(Ordering::SeqCst) {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Http::try_connect(&sh.addr, &sh.token) {
                Ok(c) => conn.insert(c),
                Err(e) if e.kind() == ErrorKind::ConnectionRefused && sh.sigterm_sent(Instant::now()) => {
                    // The listener is closed: expected after SIGTERM. Try again until the server has gone.
                    tally.refused_after += 1;
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => {
                    tally.errors.push(format!("connect: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        let (method, path, body) = request(&sh.seed, t, i);
        i += 1;
        let sent = Instant::now();
        let result = c.call(method, &path, body.as_deref());
        let done = Instant::now();
        let when = if sh.sigterm_at_us.load(Ordering::SeqCst) == 0 {
            String::new()
        } else {
            let ms = |at: Instant| {
                at.duration_since(sh.started).as_secs_f64() * 1000.0
                    - sh.sigterm_at_us.load(Ordering::SeqCst) as f64 / 1000.0
            };
            format!(" (sent {:+.0} ms, failed {:+.0} ms from SIGTERM)", ms(sent), ms(done))
        };
        match result {
            Ok((status, out)) if (200..300).contains(&status) => {
                tally.latencies_us.push(done.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
                sh.requests.fetch_add(1, Ordering::Relaxed);
                if sh.sigterm_sent(done) {
                    tally.answered_after += 1;
                    if !sh.sigterm_sent(sent) {
                        tally.in_flight_completed += 1;
                    }
                }
                if sh.sigterm_sent(done) && status == 200 && out.is_empty() {
                    tally.errors.push(format!("{method} {path}: 200 with an empty body{when}"));
                }
            }
            Ok((status, out)) => {
                let body = String::from_utf8_lossy(&out[..out.len().min(300)]).into_owned();
                tally.errors.push(format!("{method} {path}: {status} {body}{when}"));
            }
            // A keep-alive connection the server closed as it stopped, before this request
            // (sent after SIGTERM) was answered: the idle-connection race of HTTP/1.1 (RFC 9112
            // 9.3.1, clients retry), like a refused connection. Sent before SIGTERM: an error.
            Err(e)
                if sh.sigterm_sent(sent)
                    && matches!(
                        e.kind(),
                        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                    ) =>
            {
                tally.closed_after += 1;
                conn = None;
            }
            Err(e) => {
                tally.errors.push(format!("{method} {path}: {:?}: {e}{when}", e.kind()));
                conn = None;
            }
        }
    }
    tally
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).map_or(f64::NAN, |&us| us as f64 / 1000.0)
}

fn main() {
    // `cargo bench` appends `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mode = args.first().map_or("soak", String::as_str).to_owned();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(if mode == "sigterm" { 10 } else { 300 });
    let connections: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let (addr, token) = (env("SOAK_ADDR"), env("SOAK_TOKEN"));
    let pid: u32 = env("SOAK_PID").parse().expect("SOAK_PID is a pid");
    assert!(addr.starts_with("127.0.0.1:"), "loopback only: SOAK_ADDR={addr}");
    assert!(mode == "soak" || mode == "sigterm", "mode: soak or sigterm, not {mode}");

    let seed = seed(&mut Http::connect(&addr, &token));
    let rss_start = rss_kib(pid);
    println!(
        "{mode}: {seconds} s, {connections} keep-alive connections to {addr}, {} cores; RSS at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mib(rss_start)
    );
    let sh = Arc::new(Shared {
        addr,
        token,
        seed,
        stop: AtomicBool::new(false),
        requests: AtomicUsize::new(0),
        sigterm_at_us: AtomicUsize::new(0),
        started: Instant::now(),
    });
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            let sh = sh.clone();
            std::thread::spawn(move || worker(sh, t))
        })
        .collect();

    let mut failures = Vec::new();
    let mut rss_30s = None;
    let mut exit_after = None;
    let rss_last;
    if mode == "soak" {
        let deadline = Duration::from_secs(seconds);
        let mut next = RSS_EVERY;
        while sh.started.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(100).min(deadline.saturating_sub(sh.started.elapsed())));
            if sh.started.elapsed() >= next && next < deadline {
                let rss = rss_kib(pid);
                rss_30s.get_or_insert(rss);
                let n = sh.requests.load(Ordering::Relaxed);
                println!("  {:>4} s: {n} requests, RSS {}", next.as_secs(), mib(rss));
                next += RSS_EVERY;
            }
            if exited(pid) {
                failures.push("the server exited during the soak".to_owned());
                break;
            }
        }
        rss_last = rss_kib(pid);
    } else {
        std::thread::sleep(Duration::from_secs(seconds) / 2);
        rss_last = rss_kib(pid);
        sh.sigterm_at_us.store(sh.started.elapsed().as_micros().max(1) as usize, Ordering::SeqCst);
        let sent = Instant::now();
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        println!(
            "  SIGTERM at {:.1} s, {} requests so far",
            sh.started.elapsed().as_secs_f64(),
            sh.requests.load(Ordering::Relaxed)
        );
        // The load goes on until the server has gone (40 s at most: its timeout is 30 s).
        while !exited(pid) && sent.elapsed() < Duration::from_secs(40) {
            std::thread::sleep(Duration::from_millis(10));
        }
        exit_after = Some(sent.elapsed());
    }
    sh.stop.store(true, Ordering::SeqCst);
    let elapsed = sh.started.elapsed();

    let mut all = Tally::default();
    for t in threads {
        let tally = t.join().expect("a load thread");
        all.latencies_us.extend(tally.latencies_us);
        all.errors.extend(tally.errors);
        all.answered_after += tally.answered_after;
        all.refused_after += tally.refused_after;
        all.closed_after += tally.closed_after;
        all.in_flight_completed += tally.in_flight_completed;
    }
    all.latencies_us.sort_unstable();
    let total = all.latencies_us.len() + all.errors.len();
    println!(
        "requests {total}, {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, errors {}",
        total as f64 / elapsed.as_secs_f64(),
        percentile_ms(&all.latencies_us, 0.5),
        percentile_ms(&all.latencies_us, 0.99),
        all.errors.len()
    );
    for e in all.errors.iter().take(10) {
        println!("  error: {e}");
    }
    if !all.errors.is_empty() {
        failures.push(format!("{} failed requests", all.errors.len()));
    }
    if mode == "soak" {
        println!(
            "RSS: start {}, after 30 s {}, end {}",
            mib(rss_start),
            rss_30s.map_or("-".to_owned(), mib),
            mib(rss_last)
        );
        match rss_30s {
            Some(base) if rss_last * 2 > base * 3 => {
                failures.push(format!(
                    "RSS grew by more than 50% after the first 30 s: {} -> {}",
                    mib(base),
                    mib(rss_last)
                ));
            }
            Some(_) => {}
            None => println!("(shorter than 30 s: no RSS growth check)"),
        }
    } else {
        let after = exit_after.expect("timed");
        println!(
            "RSS before SIGTERM {}; after SIGTERM: {} requests answered ({} of them in flight at the signal), {} connections refused, {} kept-alive connections closed before answering a request sent after the signal; the server exited {:.2} s after SIGTERM",
            mib(rss_last),
            all.answered_after,
            all.in_flight_completed,
            all.refused_after,
            all.closed_after,
            after.as_secs_f64()
        );
        if all.in_flight_completed == 0 {
            failures.push("no request was in flight at SIGTERM: the proof proved nothing".to_owned());
        }
        if !exited(pid) {
            failures.push("the server was still running 40 s after SIGTERM".to_owned());
        } else if after > Duration::from_secs(30) {
            failures.push(format!("the server took {:.1} s to exit (timeout 30 s)", after.as_secs_f64()));
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
    println!("ok");
}
