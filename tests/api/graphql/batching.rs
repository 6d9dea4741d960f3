//! Nested fields are batched: the number of SQL statements a nested query
//! issues does not grow with the number of rows.
//!
//! Statements are counted with a diesel `Instrumentation` set on every
//! connection of a pool of the test's own (an r2d2 connection customizer):
//! exact, per pool, so tests running in parallel (threads or processes) do
//! not disturb the count, and it needs no Postgres extension.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::{Connection, InstrumentationEvent};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use serde_json::{Value, json};

use super::{NESTED, exec_on, seed_client};
use crate::helpers::TestApp;
use clientele::config::GraphqlConfig;

/// Counts the statements every connection of the pool starts.
#[derive(Debug, Clone, Default)]
struct CountStatements(Arc<AtomicUsize>);

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for CountStatements {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        let n = self.0.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                n.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(())
    }
}

/// Seeds `clients` clients of `contacts` contacts (each with an order and an
/// interaction), runs the nested query and returns (statements, rows seen).
async fn statements_for(clients: usize, contacts: usize) -> (usize, usize) {
    let app = TestApp::new().await;
    for i in 0..clients {
        seed_client(&app, &format!("Client {i}"), contacts).await;
    }
    let counter = CountStatements::default();
    let pool = Pool::builder()
        .max_size(2)
        .test_on_check_out(false)
        .connection_customizer(Box::new(counter.clone()))
        .build_unchecked(ConnectionManager::<PgConnection>::new(&app.db.url));
    let pool = clientele::db::DbPool::new(pool, std::time::Duration::from_secs(5));
    let schema = clientele::graphql::schema(pool, crate::helpers::dsar_setup(), 365, &GraphqlConfig::default());
    // Warm the pool, then count one run.
    exec_on(&schema, "admin", NESTED, json!({})).await;
    counter.0.store(0, Ordering::SeqCst);
    let r = exec_on(&schema, "admin", NESTED, json!({})).await;
    let statements = counter.0.load(Ordering::SeqCst);
    assert!(r.get("errors").is_none(), "{r:#}");
    let nodes = r["data"]["clients"]["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), clients);
    let contacts_seen: Vec<&Value> =
        nodes.iter().flat_map(|e| e["node"]["contacts"]["nodes"].as_array().unwrap().iter()).collect();
    assert_eq!(contacts_seen.len(), clients * contacts);
    for c in &contacts_seen {
        assert!(c["client"]["name"].is_string() && c["orders"]["nodes"][0]["contact"]["email"] == c["email"]);
        assert_eq!(c["interactions"]["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(c["consents"], json!([{"purpose": "newsletter", "status": "GRANTED"}]));
    }
    // Each contact brings itself, its client, its order, the order's lines, its
    // contact again, an interaction and a consent; each client its page of orders.
    let rows = clients + contacts_seen.len() * 7 + clients * contacts;
    (statements, rows)
}

#[actix_web::test]
async fn nested_queries_issue_the_same_statements_whatever_the_rows() {
    let (small, small_rows) = statements_for(2, 2).await;
    let (large, large_rows) = statements_for(10, 5).await;
    eprintln!(
        "nested query: 2 clients × 2 contacts → {small} statements ({small_rows} rows); \
         10 clients × 5 contacts → {large} statements ({large_rows} rows)"
    );
    assert_eq!(small, large, "the statement count must not grow with the rows");
    // One round per level: clients, Client.contacts, Client.orders (+ lines),
    // Contact.client, Contact.orders (+ lines), Order.contact,
    // Contact.interactions, Contact.consents. The 12-month spend is a column
    // of the rows (it used to be a second statement per level: 14).
    assert_eq!(large, 10);
}
