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

/// Counts the connections the pool hands out: one per blocking-pool hop.
#[derive(Debug, Clone, Default)]
struct CountCheckouts(Arc<AtomicUsize>);

impl diesel::r2d2::HandleEvent for CountCheckouts {
    fn handle_checkout(&self, _: diesel::r2d2::event::CheckoutEvent) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

const CONTACT_ORDERS: &str = "query($id: UUID!) { contact(id: $id) { email \
    orders(first: 2) { pageInfo { hasNextPage } nodes { totalCents lines { name } } } } }";

/// `contact(id) { orders }` (issue 13): the contact and its page of orders
/// come in one hop; two different pages asked (aliases) fall back to the
/// loader, and a token without `orders:read` still gets the contact.
#[actix_web::test]
async fn a_contact_and_its_orders_come_in_one_hop() {
    let app = TestApp::new().await;
    let c = crate::contacts::create_contact(&app, json!({"email": "hop@example.com", "last_name": "H"})).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let orders: Vec<Value> = (0..3)
        .map(|i| {
            json!({"external_id": format!("hop-{i}"), "contact_id": id, "status": "paid", "currency": "EUR",
            "total_cents": 100 + i, "lines": [{"name": format!("L{i}"), "quantity": 1, "unit_price_cents": 100 + i}]})
        })
        .collect();
    let r = app.post("/v1/orders/batch", &crate::helpers::admin(), json!({"orders": orders})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let checkouts = CountCheckouts::default();
    let pool = Pool::builder()
        .max_size(2)
        .test_on_check_out(false)
        .event_handler(Box::new(checkouts.clone()))
        .build_unchecked(ConnectionManager::<PgConnection>::new(&app.db.url));
    let pool = clientele::db::DbPool::new(pool, std::time::Duration::from_secs(5));
    let schema = clientele::graphql::schema(pool, crate::helpers::dsar_setup(), 365, &GraphqlConfig::default());
    let vars = json!({"id": id});

    exec_on(&schema, "admin", CONTACT_ORDERS, vars.clone()).await;
    checkouts.0.store(0, Ordering::SeqCst);
    let r = exec_on(&schema, "admin", CONTACT_ORDERS, vars.clone()).await;
    assert!(r.get("errors").is_none(), "{r:#}");
    let page = &r["data"]["contact"]["orders"];
    assert_eq!(page["pageInfo"]["hasNextPage"], json!(true), "{r:#}");
    let totals: Vec<&Value> = page["nodes"].as_array().unwrap().iter().map(|o| &o["totalCents"]).collect();
    assert_eq!(totals, [&json!("100"), &json!("101")]);
    assert_eq!(page["nodes"][1]["lines"], json!([{"name": "L1"}]));
    assert_eq!(checkouts.0.load(Ordering::SeqCst), 1, "the contact and its orders in one hop");

    // Two pages of the same field: each through the loader, both right.
    checkouts.0.store(0, Ordering::SeqCst);
    let q = "query($id: UUID!) { contact(id: $id) { a: orders(first: 1) { nodes { totalCents } } \
        b: orders(first: 3) { pageInfo { hasNextPage } nodes { totalCents } } } }";
    let r = exec_on(&schema, "admin", q, vars.clone()).await;
    assert!(r.get("errors").is_none(), "{r:#}");
    assert_eq!(r["data"]["contact"]["a"]["nodes"], json!([{"totalCents": "100"}]));
    assert_eq!(r["data"]["contact"]["b"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(r["data"]["contact"]["b"]["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(checkouts.0.load(Ordering::SeqCst), 2);

    // Without `orders:read`: the contact, and FORBIDDEN on its orders only.
    let r = exec_on(&schema, "contacts:read", CONTACT_ORDERS, vars).await;
    assert_eq!(r["data"]["contact"]["email"], json!("hop@example.com"), "{r:#}");
    assert_eq!(r["data"]["contact"]["orders"], Value::Null);
    assert_eq!(r["errors"][0]["extensions"]["code"], json!("FORBIDDEN"), "{r:#}");
}
