//! Writers that share owners: no deadlock, no 5xx.
//!
//! Many concurrent writers (order upserts naming a few shared customers by
//! email, by id or both, batches over the same customers in shuffled order,
//! contact and client patches, consent grants, inbound interactions) run
//! against the in-process app for a few seconds. Every database call runs on
//! its own blocking thread with its own pooled connection, so the
//! transactions really interleave in Postgres. Every answer must be a 2xx,
//! and the stored stats must still equal a recount.

use std::cell::Cell;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin, config, keys};

const WRITERS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(4);
const CLIENTS: usize = 3;
const CONTACTS: usize = 6;

/// A small deterministic generator per writer.
struct Lcg(Cell<u64>);

impl Lcg {
    fn next(&self, n: u64) -> u64 {
        let s = self.0.get().wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0.set(s);
        (s >> 33) % n
    }
}

struct World {
    clients: Vec<String>,
    contacts: Vec<String>,
}

fn email(i: usize) -> String {
    format!("shared{i}@example.com")
}

/// An order of contact `k`, named in one of the three ways an integration may.
fn order(w: &World, rng: &Lcg, k: usize) -> Value {
    let status = ["paid", "pending", "cancelled"][rng.next(3) as usize];
    let mut o = json!({"status": status, "currency": "EUR",
        "total_cents": 100 + rng.next(900), "lines": [{"name": "Widget", "quantity": 1, "unit_price_cents": 100}]});
    match rng.next(3) {
        0 => o["customer"] = json!({"email": email(k)}),
        1 => {
            o["client_id"] = json!(w.clients[k % CLIENTS]);
            o["contact_id"] = json!(w.contacts[k]);
        }
        _ => {
            o["client_id"] = json!(w.clients[(k + 1) % CLIENTS]);
            o["customer"] = json!({"email": email(k)});
        }
    }
    o
}

/// One request of writer `t`; returns what it was, for the failure message.
async fn step(app: &TestApp, w: &World, rng: &Lcg, t: usize, i: usize) -> (String, u16, Value) {
    let token = admin();
    let k = rng.next(CONTACTS as u64) as usize;
    let (what, res) = match rng.next(8) {
        0..=2 => {
            // A few keys shared by every writer: creates race with updates.
            let ext = format!("o{}", rng.next(12));
            let path = format!("/v1/orders/external/shop/{ext}");
            (format!("PUT {path}"), app.put(&path, &token, order(w, rng, k)).await)
        }
        3 => {
            let n = 2 + rng.next(4) as usize;
            let mut orders: Vec<Value> = Vec::new();
            for j in 0..n {
                let mut o = order(w, rng, rng.next(CONTACTS as u64) as usize);
                o["source"] = json!("shop");
                o["external_id"] = json!(format!("b{t}-{i}-{j}"));
                orders.push(o);
            }
            // And one key other batches and upserts share.
            let mut o = order(w, rng, k);
            o["source"] = json!("shop");
            o["external_id"] = json!(format!("o{}", rng.next(12)));
            orders.push(o);
            ("POST /v1/orders/batch".into(), app.post("/v1/orders/batch", &token, json!({"orders": orders})).await)
        }
        4 => {
            let mut patch = json!({"job_title": format!("title {t}-{i}")});
            if rng.next(2) == 0 {
                patch["client_id"] = json!(w.clients[rng.next(CLIENTS as u64) as usize]);
            }
            let path = format!("/v1/contacts/{}", w.contacts[k]);
            (format!("PATCH {path}"), app.patch(&path, &token, patch).await)
        }
        5 => {
            let path = format!("/v1/contacts/{}/consents", w.contacts[k]);
            let grant = json!({"purpose": "newsletter", "status": "granted", "channel": "web_form",
                "collected_at": "2026-01-01T00:00:00Z", "proof": {"method": "checkbox", "wording": "Yes"}});
            (format!("POST {path}"), app.post(&path, &token, grant).await)
        }
        6 => {
            let path = format!("/v1/contacts/{}/interactions", w.contacts[k]);
            let body = json!({"kind": "email", "direction": "inbound"});
            (format!("POST {path}"), app.post(&path, &token, body).await)
        }
        _ => {
            let path = format!("/v1/clients/{}", w.clients[k % CLIENTS]);
            (format!("PATCH {path}"), app.patch(&path, &token, json!({"sector": format!("s{t}-{i}")})).await)
        }
    };
    (what, res.status.as_u16(), res.body)
}

async fn writer(app: &TestApp, w: &World, t: usize, until: Instant) -> (usize, Vec<String>) {
    let rng = Lcg(Cell::new(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d)));
    let (mut done, mut failures) = (0, Vec::new());
    let mut i = 0;
    while Instant::now() < until {
        let (what, status, body) = step(app, w, &rng, t, i).await;
        i += 1;
        done += 1;
        if !(200..300).contains(&status) {
            failures.push(format!("{what}: {status} {body}"));
        }
    }
    (done, failures)
}

#[actix_web::test]
async fn concurrent_writers_on_shared_owners_never_deadlock() {
    let db = crate::helpers::db::TestDb::new();
    let mut cfg = config(&db.url);
    // A connection per writer, so that every transaction runs at once, and a
    // pool timeout long enough that waiting for a lock is not a 503.
    cfg.pool_size = WRITERS as u32;
    cfg.pool_timeout = Duration::from_secs(10);
    cfg.bulk_concurrency = 4;
    let app = TestApp::with_state(db, clientele::state::AppState::new(cfg, keys())).await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(
            crate::clients::create_client(&app, json!({"name": format!("Shared {i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut contacts = Vec::new();
    for i in 0..CONTACTS {
        let body = json!({"email": email(i), "last_name": format!("Person {i}"), "client_id": clients[i % CLIENTS]});
        contacts.push(crate::contacts::create_contact(&app, body).await["id"].as_str().unwrap().to_owned());
    }
    let w = World { clients, contacts };

    let until = Instant::now() + RUN_FOR;
    let results = futures_util::future::join_all((0..WRITERS).map(|t| writer(&app, &w, t, until))).await;
    let total: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    let r = app.send(Method::GET, "/metrics", None, None, &[]).await;
    let metrics = String::from_utf8(r.raw).unwrap();
    println!(
        "{total} requests; {}",
        metrics.lines().filter(|l| l.starts_with("db_transaction_retries")).collect::<Vec<_>>().join(", ")
    );
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed; the first ones:\n{}",
        failures.len(),
        failures.iter().take(8).map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    assert!(total > WRITERS * 2, "the load ran: {total} requests");
    let drift = crate::orders::stats_drift(&app);
    assert!(drift.is_empty(), "stored stats drifted:\n{}", drift.join("\n"));
}
