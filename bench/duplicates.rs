//! The duplicate-check latency of issue 17 (`bench/run.sh --duplicates
//! [--scale F]`): one request at a time on one keep-alive connection, each
//! about another seeded record, so that no answer comes from a cache.
//! Target: p99 ≤ 20 ms for a draft contact.

use std::time::Instant;

use serde_json::json;

use crate::http::Http;

/// Requests per measurement (after 5 warm-up ones).
const SAMPLES: usize = 300;

/// A request: method, path, body.
type Request = (&'static str, String, Option<Vec<u8>>);
/// The request about seeded record `n`.
type Case = Box<dyn Fn(u64) -> Request>;

/// p50 and p99 in ms of `SAMPLES` calls, the n-th built by `request(n)`.
fn time(http: &mut Http, request: impl Fn(u64) -> Request) -> (f64, f64) {
    let mut ms = Vec::with_capacity(SAMPLES);
    for i in 0..(SAMPLES as u64 + 5) {
        let (method, path, body) = request(i * 7919 % 900_000 + 1);
        let t = Instant::now();
        let (status, answer) = http.call(method, &path, body.as_deref()).expect("request");
        assert_eq!(status, 200, "{method} {path}: {}", String::from_utf8_lossy(&answer));
        if i >= 5 {
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    ms.sort_by(f64::total_cmp);
    (ms[SAMPLES / 2], ms[(SAMPLES * 99).div_ceil(100) - 1])
}

const FIRST: [&str; 10] = ["Camille", "Louis", "Léa", "Hugo", "Chloé", "Jules", "Manon", "Arthur", "Inès", "Gabriel"];
const LAST: [&str; 13] = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefebvre",
];

/// Contact `n`'s email as seeded, in capitals (the mailbox rule folds case).
fn shouted_email(n: u64) -> String {
    let first: String = FIRST[(n % 10) as usize].replace(['é', 'è'], "e").replace('ï', "i");
    format!("{}.{}.{n}@EXAMPLE.COM", first, LAST[(n % 13) as usize]).to_uppercase()
}

/// Runs every case against the seed of bench/seed.sql; returns the markdown table.
pub fn run(addr: &str, token: &str, clients: u64) -> String {
    let client_of = move |n: u64| (!n.is_multiple_of(10)).then(|| crate::id(1, (n - 1) % clients + 1));
    let cases: Vec<(&str, Case)> = vec![
        (
            "POST /v1/contacts/duplicates, a draft (email in capitals, phone as typed, name at its client)",
            Box::new(move |n| {
                let draft = json!({
                    "email": shouted_email(n),
                    "phone": format!("06 {:02} {:02} {:02} {:02}", n / 1_000_000 % 100, n / 10_000 % 100, n / 100 % 100, n % 100),
                    "first_name": FIRST[(n % 10) as usize], "last_name": format!("{}e", LAST[(n % 13) as usize]),
                    "client_id": client_of(n),
                });
                ("POST", "/v1/contacts/duplicates".into(), Some(serde_json::to_vec(&json!({"data": [draft]})).unwrap()))
            }),
        ),
        (
            "GET /v1/contacts/{id}/duplicates",
            Box::new(|n| ("GET", format!("/v1/contacts/{}/duplicates", crate::id(2, n)), None)),
        ),
        (
            "POST /v1/clients/duplicates, a draft (SIREN, name in its postal code)",
            Box::new(move |n| {
                let k = n % clients + 1;
                let draft = json!({"name": format!("COMPANY {k} S.A.S."),
                    "billing_address": {"postal_code": format!("{:05}", k % 95000 + 1000)}});
                ("POST", "/v1/clients/duplicates".into(), Some(serde_json::to_vec(&json!({"data": [draft]})).unwrap()))
            }),
        ),
        (
            "GET /v1/clients/{id}/duplicates",
            Box::new(move |n| ("GET", format!("/v1/clients/{}/duplicates", crate::id(1, n % clients + 1)), None)),
        ),
    ];
    // The server's startup sweeps (retention, the spend window) run in the
    // first seconds on a fresh start; measure after them.
    std::thread::sleep(std::time::Duration::from_secs(15));
    let mut http = Http::connect(addr, token);
    let mut out = String::from("| check | p50 | p99 |\n|---|---|---|\n");
    let mut missed = Vec::new();
    for (name, request) in cases {
        let (p50, p99) = time(&mut http, request);
        if p99 > 20.0 {
            missed.push(format!("{name}: p99 {p99:.1} ms > 20 ms"));
        }
        let line = format!("| {name} | {p50:.1} ms | {p99:.1} ms |\n");
        eprint!("{line}");
        out.push_str(&line);
    }
    out.push_str(if missed.is_empty() { "\nAll met (p99 ≤ 20 ms).\n" } else { "\nTargets missed:\n" });
    for m in missed {
        out.push_str(&format!("- {m}\n"));
    }
    out
}
