//! The GraphQL half of the scope matrix: every root query and mutation, read
//! from the schema by introspection, must have a rule here; without its scope
//! it fails with FORBIDDEN (on that field only), with it alone it does not.

use serde_json::{Value, json};

use super::{codes, exec};
use crate::helpers::TestApp;
use clientele::auth::Scope;

/// (field, operation, variables, scope alternatives).
fn rules() -> Vec<(&'static str, &'static str, Value, Vec<&'static str>)> {
    let id = json!(uuid::Uuid::now_v7());
    let order = json!({"status": "PAID", "currency": "EUR", "totalCents": 1, "clientId": uuid::Uuid::now_v7()});
    vec![
        ("client", "query($id: UUID!) { client(id: $id) { id } }", json!({"id": id}), vec!["clients:read"]),
        ("clients", "{ clients { nodes { id } } }", json!({}), vec!["clients:read"]),
        ("contact", "query($id: UUID!) { contact(id: $id) { id } }", json!({"id": id}), vec!["contacts:read"]),
        ("contacts", "{ contacts { nodes { id } } }", json!({}), vec!["contacts:read"]),
        (
            "reachability",
            "{ reachability(channel: EMAIL, purpose: \"newsletter\", recipients: [{email: \"a@example.com\"}]) { allowed { email } } }",
            json!({}),
            vec!["contacts:read"],
        ),
        ("order", "query($id: UUID!) { order(id: $id) { id } }", json!({"id": id}), vec!["orders:read"]),
        ("orders", "{ orders { nodes { id } } }", json!({}), vec!["orders:read"]),
        (
            "dsarRequest",
            "query($id: UUID!) { dsarRequest(id: $id) { id } }",
            json!({"id": id}),
            vec!["dsar:submit", "dsar:submit_verified", "dsar:manage"],
        ),
        (
            "dsarRequests",
            "{ dsarRequests { nodes { id } } }",
            json!({}),
            vec!["dsar:submit", "dsar:submit_verified", "dsar:manage"],
        ),
        ("purposes", "{ purposes { key } }", json!({}), vec!["register:read"]),
        ("register", "{ register { activities { name } } }", json!({}), vec!["register:read"]),
        ("createClient", "mutation { createClient(input: {name: \"X\"}) { id } }", json!({}), vec!["clients:write"]),
        (
            "updateClient",
            "mutation($id: UUID!) { updateClient(id: $id, input: {}) { id } }",
            json!({"id": id}),
            vec!["clients:write"],
        ),
        (
            "deleteClient",
            "mutation($id: UUID!) { deleteClient(id: $id) { id } }",
            json!({"id": id}),
            vec!["clients:write"],
        ),
        (
            "createContact",
            "mutation { createContact(input: {lastName: \"X\"}) { id } }",
            json!({}),
            vec!["contacts:write"],
        ),
        (
            "updateContact",
            "mutation($id: UUID!) { updateContact(id: $id, input: {}) { id } }",
            json!({"id": id}),
            vec!["contacts:write"],
        ),
        (
            "deleteContact",
            "mutation($id: UUID!) { deleteContact(id: $id) { id } }",
            json!({"id": id}),
            vec!["contacts:write"],
        ),
        (
            "mergeContacts",
            "mutation($id: UUID!) { mergeContacts(survivorId: $id, mergedIds: [$id]) { dryRun } }",
            json!({"id": id}),
            vec!["contacts:write"],
        ),
        (
            "mergeClients",
            "mutation($id: UUID!) { mergeClients(survivorId: $id, mergedIds: [$id]) { dryRun } }",
            json!({"id": id}),
            vec!["clients:write"],
        ),
        (
            "createInteraction",
            "mutation($id: UUID!) { createInteraction(contactId: $id, input: {kind: CALL, direction: INBOUND}) { id } }",
            json!({"id": id}),
            vec!["contacts:write"],
        ),
        (
            "createOrder",
            "mutation($o: OrderInput!) { createOrder(input: $o) { id } }",
            json!({"o": order}),
            vec!["orders:write"],
        ),
        (
            "updateOrder",
            "mutation($id: UUID!) { updateOrder(id: $id, input: {}) { id } }",
            json!({"id": id}),
            vec!["orders:write"],
        ),
        (
            "deleteOrder",
            "mutation($id: UUID!) { deleteOrder(id: $id) { id } }",
            json!({"id": id}),
            vec!["orders:write"],
        ),
        (
            "upsertOrder",
            "mutation($o: OrderInput!) { upsertOrder(source: \"shop\", externalId: \"1\", input: $o) { result } }",
            json!({"o": order}),
            vec!["orders:write"],
        ),
        (
            "batchUpsertOrders",
            "mutation($o: OrderInput!) { batchUpsertOrders(orders: [$o]) { index } }",
            json!({"o": order}),
            vec!["orders:write"],
        ),
        (
            "recordConsent",
            "mutation($id: UUID!) { recordConsent(contactId: $id, input: {purpose: \"newsletter\", status: WITHDRAWN}) { id } }",
            json!({"id": id}),
            vec!["consents:write"],
        ),
        (
            "submitDsar",
            "mutation { submitDsar(input: {type: ACCESS, subject: {email: \"a@example.com\"}}) { id } }",
            json!({}),
            vec!["dsar:submit", "dsar:submit_verified", "dsar:manage"],
        ),
        ("processDsar", "mutation($id: UUID!) { processDsar(id: $id) { id } }", json!({"id": id}), vec!["dsar:manage"]),
        ("approveDsar", "mutation($id: UUID!) { approveDsar(id: $id) { id } }", json!({"id": id}), vec!["dsar:manage"]),
        (
            "rejectDsar",
            "mutation($id: UUID!) { rejectDsar(id: $id, reason: \"x\") { id } }",
            json!({"id": id}),
            vec!["dsar:manage"],
        ),
        (
            "extendDsar",
            "mutation($id: UUID!) { extendDsar(id: $id, reason: \"x\") { id } }",
            json!({"id": id}),
            vec!["dsar:manage"],
        ),
        (
            "createPurpose",
            "mutation { createPurpose(input: {key: \"matrix\", description: \"x\", lawfulBasis: CONSENT, retentionDays: 10}) { key } }",
            json!({}),
            vec!["register:write"],
        ),
        (
            "updatePurpose",
            "mutation { updatePurpose(key: \"newsletter\", input: {}) { key } }",
            json!({}),
            vec!["register:write"],
        ),
    ]
}

#[actix_web::test]
async fn every_root_field_enforces_its_scopes() {
    let app = TestApp::new().await;
    let intro = exec(
        &app,
        "admin",
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
        json!({}),
    )
    .await;
    let mut roots: Vec<String> = ["queryType", "mutationType"]
        .iter()
        .flat_map(|t| intro["data"]["__schema"][t]["fields"].as_array().unwrap().clone())
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    roots.sort();
    let rules = rules();
    let mut covered: Vec<String> = rules.iter().map(|r| r.0.to_owned()).collect();
    covered.sort();
    assert_eq!(roots, covered, "every root field needs a scope rule in this matrix");

    for (field, op, vars, needed) in rules {
        let others: Vec<&str> =
            Scope::ALL.iter().map(|s| s.as_str()).filter(|s| *s != "admin" && !needed.contains(s)).collect();
        let r = exec(&app, &others.join(" "), op, vars.clone()).await;
        assert_eq!(codes(&r), vec!["FORBIDDEN"], "{field} with every scope but {needed:?}: {r}");
        assert_eq!(r["errors"][0]["path"][0], field, "the error is on {field}");
        for scope in &needed {
            let r = exec(&app, scope, op, vars.clone()).await;
            let c = codes(&r);
            assert!(
                !c.contains(&"FORBIDDEN".to_owned()) && !c.contains(&"INTERNAL".to_owned()),
                "{field} with {scope} alone: {r}"
            );
        }
    }
}
