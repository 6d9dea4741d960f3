//! GDPR benchmark: erasure of a subject with 10,000 orders (target < 1 s) and
//! the access export of a subject with 1,000 orders (target < 100 ms), through
//! the service layer on a real Postgres.
//!
//! `cargo bench --bench gdpr` (database server from
//! `CLIENTELE_BENCH_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! a scratch database `clientele_bench_gdpr` is created and dropped).

use std::time::{Duration, Instant};

use clientele::auth::{Actor, Scope};
use clientele::services::{dsar, export, stats, suppression::SuppressionKey};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use serde_json::json;
use uuid::Uuid;

const DB: &str = "clientele_bench_gdpr";

fn url_for(db: &str) -> String {
    let server = std::env::var("CLIENTELE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = url::Url::parse(&server).expect("valid URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A client and a contact with `orders` orders (2 lines each), 10 consent
/// events and 50 interactions. Returns the contact id.
fn seed(conn: &mut PgConnection, orders: i64, n: usize) -> Uuid {
    let (client, contact) = (Uuid::now_v7(), Uuid::now_v7());
    diesel::sql_query("INSERT INTO clients (id, name) VALUES ($1, 'Bench SA')")
        .bind::<SqlUuid, _>(client)
        .execute(conn)
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO contacts (id, client_id, email, first_name, last_name, phone) \
         VALUES ($1, $2, 'bench{n}@example.com', 'Ben', 'Chmark', '+33600000000')"
    ))
    .bind::<SqlUuid, _>(contact)
    .bind::<SqlUuid, _>(client)
    .execute(conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO orders (id, client_id, contact_id, source, external_id, status, currency, total_cents, ordered_at) \
         SELECT gen_random_uuid(), $1, $2, 'bench', $2::text || '-' || g, 'paid', 'EUR', 1000 + g, \
                now() - make_interval(hours => g::int) FROM generate_series(1, $3) g",
    )
    .bind::<SqlUuid, _>(client)
    .bind::<SqlUuid, _>(contact)
    .bind::<BigInt, _>(orders)
    .execute(conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO order_lines (order_id, position, sku, name, quantity, unit_price_cents) \
         SELECT o.id, p, 'SKU-' || p, 'Item', 1, 500 FROM orders o, generate_series(0, 1) p WHERE o.contact_id = $1",
    )
    .bind::<SqlUuid, _>(contact)
    .execute(conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO consent_events (id, contact_id, purpose, status, channel, collected_at, proof, recorded_by) \
         SELECT gen_random_uuid(), $1, 'newsletter', CASE WHEN g % 2 = 0 THEN 'granted' ELSE 'withdrawn' END, \
                'web_form', now() - make_interval(days => g), '{\"method\":\"checkbox\",\"wording\":\"Yes\"}', 'bench' \
         FROM generate_series(1, 10) g",
    )
    .bind::<SqlUuid, _>(contact)
    .execute(conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO interactions (id, contact_id, kind, direction, occurred_at, summary, created_by) \
         SELECT gen_random_uuid(), $1, 'call', 'inbound', now() - make_interval(days => g), 'called', 'bench' \
         FROM generate_series(1, 50) g",
    )
    .bind::<SqlUuid, _>(contact)
    .execute(conn)
    .unwrap();
    stats::recompute_many(conn, stats::Owner::Client, &[client]).unwrap();
    stats::recompute_many(conn, stats::Owner::Contact, &[contact]).unwrap();
    conn.batch_execute("ANALYZE").unwrap();
    contact
}

fn submit(conn: &mut PgConnection, actor: &Actor, key: &SuppressionKey, kind: &str, contact: Uuid) -> Uuid {
    let body = json!({"type": kind, "subject": {"contact_id": contact}});
    dsar::submit(
        conn,
        actor,
        &dsar::DsarSetup::local(std::sync::Arc::new(key.clone())),
        body.as_object().unwrap().clone(),
    )
    .unwrap()
    .id
}

fn summary(name: &str, mut samples: Vec<Duration>, target: Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{name}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} runs; target {} ms; median/target = {:.2}",
        median.as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len(),
        target.as_millis(),
        median.as_secs_f64() / target.as_secs_f64()
    );
}

fn main() {
    let mut admin = PgConnection::establish(&url_for("postgres")).expect("Postgres reachable");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {DB}")).unwrap();
    clientele::db::prepare(&url_for(DB)).expect("migrations");
    let mut conn = PgConnection::establish(&url_for(DB)).unwrap();
    let actor = Actor::new("bench", &[Scope::Admin], None);
    let key = SuppressionKey::new(b"bench-suppression-key-of-32-bytes!!");

    let mut erasures = Vec::new();
    for run in 0..5 {
        let contact = seed(&mut conn, 10_000, run);
        let id = submit(&mut conn, &actor, &key, "erasure", contact);
        let started = Instant::now();
        let done =
            dsar::process(&mut conn, &actor, &dsar::DsarSetup::local(std::sync::Arc::new(key.clone())), id).unwrap();
        erasures.push(started.elapsed());
        assert_eq!(done.result.as_ref().unwrap()["anonymised"]["orders"], 10_000);
    }
    summary("erasure, subject with 10,000 orders", erasures, Duration::from_secs(1));

    let contact = seed(&mut conn, 1_000, 99);
    let id = submit(&mut conn, &actor, &key, "access", contact);
    dsar::process(&mut conn, &actor, &dsar::DsarSetup::local(std::sync::Arc::new(key.clone())), id).unwrap();
    let (mut json_runs, mut zip_runs) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let started = Instant::now();
        let doc = dsar::export(&mut conn, &actor, id).unwrap();
        let bytes = serde_json::to_vec(&doc).unwrap();
        json_runs.push(started.elapsed());
        assert!(bytes.len() > 100_000);
        let started = Instant::now();
        let doc = dsar::export(&mut conn, &actor, id).unwrap();
        export::zip(&doc).unwrap();
        zip_runs.push(started.elapsed());
    }
    summary("access export (JSON), subject with 1,000 orders", json_runs, Duration::from_millis(100));
    summary("access export (ZIP of CSVs), subject with 1,000 orders", zip_runs, Duration::from_millis(100));

    drop(conn);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).unwrap();
}
