//! GraphQL: the schema run directly (`schema.execute` with the Actor in the
//! request data) and through `POST /graphql` on the real app.

mod batching;
mod gdpr;
mod http;
mod limits;
mod mutations;
mod scopes;

use serde_json::{Value, json};

use crate::helpers::{TestApp, admin};
use clientele::auth::{Actor, Scope};
use clientele::graphql::Graphql;

/// An actor holding `scopes` (space-separated).
pub fn actor(scopes: &str) -> Actor {
    let scopes: Vec<Scope> = scopes.split_whitespace().map(|s| s.parse().unwrap()).collect();
    Actor::new("tester", &scopes, None)
}

/// Runs `query` with `variables` as `scopes` on `schema`; the answer as JSON.
pub async fn exec_on(schema: &Graphql, scopes: &str, query: &str, variables: Value) -> Value {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(actor(scopes));
    serde_json::to_value(schema.execute(request).await).unwrap()
}

/// Runs `query` on the app's schema.
pub async fn exec(app: &TestApp, scopes: &str, query: &str, variables: Value) -> Value {
    exec_on(&app.state.graphql, scopes, query, variables).await
}

/// Runs `query` as admin and fails on any error.
pub async fn ok(app: &TestApp, query: &str, variables: Value) -> Value {
    let r = exec(app, "admin", query, variables).await;
    assert!(r.get("errors").is_none(), "{r:#}");
    r["data"].clone()
}

/// The `extensions.code` of each error.
pub fn codes(r: &Value) -> Vec<String> {
    r["errors"].as_array().map_or_else(Vec::new, |a| {
        a.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or_default().to_owned()).collect()
    })
}

/// The `field`s listed by the first error.
pub fn fields(r: &Value) -> Vec<String> {
    r["errors"][0]["extensions"]["errors"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect())
}

/// A demonstrable grant of `purpose`, as a REST body.
pub fn consent_grant(purpose: &str) -> Value {
    json!({"purpose": purpose, "status": "granted", "channel": "web_form", "collected_at": "2026-06-01T10:00:00Z",
           "proof": {"method": "checkbox", "wording": "Yes, please"}})
}

/// A client with `contacts` contacts, each with an order, an interaction and a
/// newsletter grant; returns the client id.
pub async fn seed_client(app: &TestApp, name: &str, contacts: usize) -> String {
    let t = admin();
    let client = crate::clients::create_client(app, json!({"name": name})).await;
    let cid = client["id"].as_str().unwrap().to_owned();
    let mut orders = Vec::new();
    for i in 0..contacts {
        let email = format!("p{i}.{}@example.com", name.to_lowercase().replace(' ', "-"));
        let c = crate::contacts::create_contact(app, json!({"client_id": cid, "email": email, "last_name": "P"})).await;
        let id = c["id"].as_str().unwrap();
        let r = app
            .post(&format!("/v1/contacts/{id}/interactions"), &t, json!({"kind": "call", "direction": "inbound"}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = app.post(&format!("/v1/contacts/{id}/consents"), &t, consent_grant("newsletter")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        orders.push(json!({"external_id": format!("{name}-{i}"), "contact_id": id, "status": "paid",
            "currency": "EUR", "total_cents": 1000 + i, "lines": [{"name": "Widget", "quantity": 1, "unit_price_cents": 1000 + i}]}));
    }
    if !orders.is_empty() {
        let r = app.post("/v1/orders/batch", &t, json!({"orders": orders})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    cid
}

const NESTED: &str = r#"{
  clients(first: 10) {
    edges { cursor node {
      name status
      contacts(first: 10) { nodes {
        email
        client { name }
        orders(first: 5) { nodes { totalCents lines { name quantity } contact { email } } }
        interactions(first: 5) { nodes { kind direction createdBy } }
        consents { purpose status }
      } }
      orders(first: 10) { pageInfo { hasNextPage } nodes { totalCents } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"#;

#[actix_web::test]
async fn nested_query_resolves_every_relation() {
    let app = TestApp::new().await;
    seed_client(&app, "Acme", 2).await;
    seed_client(&app, "Globex", 1).await;
    let d = ok(&app, NESTED, json!({})).await;
    let edges = d["clients"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    let acme = &edges[0]["node"];
    assert_eq!(acme["name"], "Acme");
    assert_eq!(acme["status"], "CUSTOMER", "promoted by its first order");
    let contacts = acme["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0]["email"], "p0.acme@example.com");
    assert_eq!(contacts[0]["client"]["name"], "Acme");
    assert_eq!(contacts[1]["orders"]["nodes"][0]["totalCents"], "1001", "Cents is a string");
    assert_eq!(contacts[1]["orders"]["nodes"][0]["lines"][0]["name"], "Widget");
    assert_eq!(contacts[1]["orders"]["nodes"][0]["contact"]["email"], "p1.acme@example.com");
    assert_eq!(
        contacts[0]["interactions"]["nodes"][0],
        json!({"kind": "CALL", "direction": "INBOUND", "createdBy": "tester"})
    );
    assert_eq!(contacts[1]["consents"], json!([{"purpose": "newsletter", "status": "GRANTED"}]));
    assert_eq!(acme["orders"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(acme["orders"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(edges[1]["node"]["contacts"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(d["clients"]["pageInfo"], json!({"hasNextPage": false, "endCursor": edges[1]["cursor"]}));

    // A contact without a client, an order without anyone: null relations, no error.
    let c = crate::contacts::create_contact(&app, json!({"last_name": "Alone"})).await;
    let q = "query($id: UUID!) { contact(id: $id) { lastName client { name } orders { nodes { id } } } }";
    let d = ok(&app, q, json!({"id": c["id"]})).await;
    assert_eq!(d["contact"], json!({"lastName": "Alone", "client": null, "orders": {"nodes": []}}));
}

#[actix_web::test]
async fn pages_follow_cursors_at_the_top_and_inside() {
    let app = TestApp::new().await;
    let cid = seed_client(&app, "Acme", 3).await;
    for i in 0..4 {
        crate::clients::create_client(&app, json!({"name": format!("Client {i}"), "sector": "retail"})).await;
    }
    let q = "query($after: String) { clients(first: 2, after: $after, sector: \"retail\") {
        edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let mut names = Vec::new();
    let mut after = Value::Null;
    for expected_more in [true, false] {
        let d = ok(&app, q, json!({"after": after})).await;
        let conn = &d["clients"];
        assert_eq!(conn["pageInfo"]["hasNextPage"], expected_more, "{conn}");
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);
        assert_eq!(conn["pageInfo"]["startCursor"], conn["edges"][0]["cursor"]);
        names.extend(conn["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap().to_owned()));
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(names, ["Client 0", "Client 1", "Client 2", "Client 3"]);

    // The cursors are the REST ones.
    let d = ok(&app, "{ clients(first: 1) { pageInfo { endCursor } } }", json!({})).await;
    let cursor = d["clients"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let rest = app.get(&format!("/v1/clients?limit=1&after={cursor}"), &admin()).await;
    assert_eq!(rest.body["data"][0]["name"], "Client 0");

    // Nested connections page per parent.
    let q = "query($id: UUID!, $after: String) { client(id: $id) { contacts(first: 2, after: $after) {
        nodes { email } pageInfo { hasNextPage endCursor } } } }";
    let d = ok(&app, q, json!({"id": cid})).await;
    let page = &d["client"]["contacts"];
    assert_eq!(page["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let d = ok(&app, q, json!({"id": cid, "after": page["pageInfo"]["endCursor"]})).await;
    assert_eq!(d["client"]["contacts"]["nodes"], json!([{"email": "p2.acme@example.com"}]));
    assert_eq!(d["client"]["contacts"]["pageInfo"]["hasNextPage"], false);

    // Filters and sort are the REST ones.
    let q = "{ contacts(q: \"p1\", sort: UPDATED_AT) { nodes { email } } orders(status: PAID, first: 1) { nodes { status } } }";
    let d = ok(&app, q, json!({})).await;
    assert_eq!(d["contacts"]["nodes"], json!([{"email": "p1.acme@example.com"}]));
    assert_eq!(d["orders"]["nodes"], json!([{"status": "PAID"}]));

    // Bad page arguments are validation errors naming the argument.
    for (q, field) in [
        ("{ clients(first: 500) { nodes { id } } }", "first"),
        ("{ clients(after: \"nope\") { nodes { id } } }", "after"),
        ("{ clients { nodes { contacts(first: 0) { nodes { id } } } } }", "first"),
    ] {
        let r = exec(&app, "admin", q, json!({})).await;
        let codes = codes(&r);
        assert!(!codes.is_empty() && codes.iter().all(|c| c == "VALIDATION"), "{q}: {r}");
        assert_eq!(fields(&r), [field], "{q}");
    }
}

#[actix_web::test]
async fn a_missing_scope_fails_only_its_field() {
    let app = TestApp::new().await;
    seed_client(&app, "Acme", 1).await;
    let r = exec(&app, "clients:read", "{ clients { nodes { name } } orders { nodes { id } } }", json!({})).await;
    assert_eq!(r["data"]["clients"]["nodes"][0]["name"], "Acme", "{r}");
    assert_eq!(r["data"]["orders"], Value::Null);
    assert_eq!(codes(&r), ["FORBIDDEN"]);
    assert_eq!(r["errors"][0]["path"], json!(["orders"]));
    assert_eq!(r["errors"][0]["extensions"]["scope"], "orders:read");

    // Nested: the client resolves, its contacts do not.
    let q = "{ clients { nodes { name contacts(first: 5) { nodes { email } } orders(first: 5) { nodes { totalCents } } } } }";
    let r = exec(&app, "clients:read orders:read", q, json!({})).await;
    let node = &r["data"]["clients"]["nodes"][0];
    assert_eq!(node["name"], "Acme");
    assert_eq!(node["contacts"], Value::Null);
    assert_eq!(node["orders"]["nodes"][0]["totalCents"], "1000");
    assert_eq!(codes(&r), ["FORBIDDEN"]);
    assert_eq!(r["errors"][0]["path"], json!(["clients", "nodes", 0, "contacts"]));

    // A mutation without the write scope.
    let r = exec(&app, "clients:read", "mutation { createClient(input: {name: \"X\"}) { id } }", json!({})).await;
    assert_eq!(codes(&r), ["FORBIDDEN"]);
    assert_eq!(r["errors"][0]["extensions"]["scope"], "clients:write");
}

#[actix_web::test]
async fn committed_schema_matches_the_binary() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/schema.graphql"))
        .expect("openapi/schema.graphql is committed");
    assert!(
        committed == clientele::graphql::sdl(),
        "openapi/schema.graphql is stale: run `cargo run -- graphql-schema > openapi/schema.graphql`"
    );
}
