//! Every mutation, with the validation, precondition and conflict errors of REST.

use serde_json::{Value, json};

use super::{codes, exec, fields, ok};
use crate::helpers::{TestApp, admin};

#[actix_web::test]
async fn money_is_a_64_bit_cents_string() {
    let app = TestApp::new().await;
    let q = "mutation($input: ClientInput!) { createClient(input: $input) { annualRevenueCents } }";
    // Beyond 32 bits: answered as a string graphql-js can carry, accepted as a string.
    let d = ok(&app, q, json!({"input": {"name": "Big", "annualRevenueCents": "5000000000", "currency": "EUR"}})).await;
    assert_eq!(d["createClient"]["annualRevenueCents"], "5000000000");
    let d = ok(&app, q, json!({"input": {"name": "Small", "annualRevenueCents": 1200, "currency": "EUR"}})).await;
    assert_eq!(d["createClient"]["annualRevenueCents"], "1200", "an Int within 32 bits is accepted");
    let r = exec(
        &app,
        "admin",
        q,
        json!({"input": {"name": "Int64", "annualRevenueCents": 3_000_000_000i64, "currency": "EUR"}}),
    )
    .await;
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("32 bits"), "{r}");
    let r = exec(&app, "admin", q, json!({"input": {"name": "Nope", "annualRevenueCents": "12e3", "currency": "EUR"}}))
        .await;
    assert!(r.get("errors").is_some(), "{r}");
    let sdl = clientele::graphql::sdl();
    assert!(sdl.contains("scalar Cents") && sdl.contains("annualRevenueCents: Cents"), "documented in the SDL");
}

#[actix_web::test]
async fn client_mutations_create_patch_and_delete() {
    let app = TestApp::new().await;
    let q = "mutation($input: ClientInput!) { createClient(input: $input) { id name siren nafCode status version
        billingAddress { city country } tags customFields stats { ordersCount spentLast12mCents } } }";
    let input = json!({"name": "Acme SAS", "siren": "732 829 320", "nafCode": "6201Z", "status": "PROSPECT",
        "billingAddress": {"line1": "1 rue de la Paix", "city": "Paris", "country": "fr"},
        "tags": ["vip"], "customFields": {"crm": {"id": 12}}});
    let d = ok(&app, q, json!({"input": input})).await;
    let c = &d["createClient"];
    assert_eq!(c["siren"], "732829320");
    assert_eq!(c["nafCode"], "62.01Z");
    assert_eq!(c["billingAddress"], json!({"city": "Paris", "country": "FR"}));
    assert_eq!(c["customFields"], json!({"crm": {"id": 12}}));
    assert_eq!(c["stats"], json!({"ordersCount": 0, "spentLast12mCents": "0"}));
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/v1/clients/{id}"), &admin()).await.body["name"], "Acme SAS", "the same row as REST");

    // Merge patch: absent fields stay, null clears, objects merge.
    let q = "mutation($id: UUID!, $input: ClientPatch!, $v: Int) { updateClient(id: $id, input: $input, expectedVersion: $v) {
        name siren sector customFields version } }";
    let patch = json!({"sector": "software", "siren": null, "customFields": {"crm": {"owner": "ana"}}});
    let d = ok(&app, q, json!({"id": id, "input": patch, "v": 1})).await;
    assert_eq!(
        d["updateClient"],
        json!({"name": "Acme SAS", "siren": null, "sector": "software", "customFields": {"crm": {"id": 12, "owner": "ana"}}, "version": 2})
    );
    let r = exec(&app, "admin", q, json!({"id": id, "input": {"sector": "retail"}, "v": 1})).await;
    assert_eq!(codes(&r), ["PRECONDITION_FAILED"], "{r}");
    assert_eq!(r["data"]["updateClient"], Value::Null);

    let q = "mutation($id: UUID!) { deleteClient(id: $id) { id } }";
    assert_eq!(ok(&app, q, json!({"id": id})).await["deleteClient"]["id"], id.as_str());
    let r = exec(&app, "admin", q, json!({"id": id})).await;
    assert_eq!(codes(&r), ["NOT_FOUND"]);
    assert_eq!(r["errors"][0]["message"], "client not found");
}

#[actix_web::test]
async fn validation_errors_list_every_field_by_its_graphql_name() {
    let app = TestApp::new().await;
    let q = "mutation($input: ClientInput!) { createClient(input: $input) { id } }";
    let input = json!({"name": "", "siren": "123456789", "website": "ftp://x", "annualRevenueCents": 5,
        "billingAddress": {"line1": "x", "city": "Paris", "country": "ZZ"}, "customFields": [1]});
    let r = exec(&app, "admin", q, json!({"input": input})).await;
    assert_eq!(codes(&r), ["VALIDATION"], "{r}");
    let got = fields(&r);
    for f in ["name", "siren", "website", "currency", "billingAddress.country", "customFields"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    assert!(!r.to_string().contains("123456789"), "errors never echo values");
    assert_eq!(r["data"]["createClient"], Value::Null);

    // Type errors are GraphQL's own, before any service runs.
    let r = exec(&app, "admin", "mutation { createClient(input: {name: 3}) { id } }", json!({})).await;
    assert_eq!(codes(&r), ["GRAPHQL_VALIDATION_FAILED"], "{r}");

    // Nested paths and batch items.
    let q = "mutation($orders: [OrderInput!]!) { batchUpsertOrders(orders: $orders) { index } }";
    let good = json!({"externalId": "A", "customer": {"email": "a@example.com"}, "status": "PAID", "currency": "EUR", "totalCents": 1});
    let bad = json!({"customer": {"email": "nope"}, "status": "PAID", "currency": "EURO", "totalCents": -1,
        "lines": [{"name": "x", "quantity": 0, "unitPriceCents": 1}]});
    let r = exec(&app, "admin", q, json!({"orders": [good, bad]})).await;
    assert_eq!(codes(&r), ["VALIDATION"], "{r}");
    let got = fields(&r);
    for f in ["orders[1].customer.email", "orders[1].currency", "orders[1].totalCents", "orders[1].lines[0].quantity"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    let count = app.get("/v1/orders", &admin()).await.body["data"].as_array().unwrap().len();
    assert_eq!(count, 0, "nothing written");
}

#[actix_web::test]
async fn contact_and_interaction_mutations() {
    let app = TestApp::new().await;
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let q = "mutation($input: ContactInput!) { createContact(input: $input) { id email phone lawfulBasis client { name } } }";
    let input = json!({"clientId": client["id"], "email": "Ana@Example.com", "phone": "+33 6 12 34 56 78",
        "lawfulBasis": "CONTRACT", "birthDate": "1980-02-29"});
    let d = ok(&app, q, json!({"input": input})).await;
    let c = &d["createContact"];
    assert_eq!(c["phone"], "+33612345678");
    assert_eq!(c["lawfulBasis"], "CONTRACT");
    assert_eq!(c["client"]["name"], "Acme");
    let id = c["id"].as_str().unwrap().to_owned();

    let r = exec(&app, "admin", q, json!({"input": {"email": "ana@example.com"}})).await;
    assert_eq!(codes(&r), ["CONFLICT"], "{r}");
    assert_eq!(fields(&r), ["email"]);
    assert_eq!(r["errors"][0]["extensions"]["reason"], "already_exists");

    let q = "mutation($id: UUID!, $input: ContactPatch!) { updateContact(id: $id, input: $input) { clientId jobTitle version } }";
    let d = ok(&app, q, json!({"id": id, "input": {"clientId": null, "jobTitle": "CTO"}})).await;
    assert_eq!(d["updateContact"], json!({"clientId": null, "jobTitle": "CTO", "version": 2}));

    let q = "mutation($id: UUID!, $input: InteractionInput!) { createInteraction(contactId: $id, input: $input) {
        contactId kind direction summary } }";
    let d =
        ok(&app, q, json!({"id": id, "input": {"kind": "MEETING", "direction": "INBOUND", "summary": "Demo"}})).await;
    assert_eq!(
        d["createInteraction"],
        json!({"contactId": id, "kind": "MEETING", "direction": "INBOUND", "summary": "Demo"})
    );
    let r = exec(
        &app,
        "admin",
        q,
        json!({"id": id, "input": {"kind": "NOTE", "direction": "OUTBOUND",
        "occurredAt": "2999-01-01T00:00:00Z"}}),
    )
    .await;
    assert_eq!(fields(&r), ["occurredAt"], "{r}");
    let d = ok(
        &app,
        "query($id: UUID!) { contact(id: $id) { lastInteractionAt interactions { nodes { summary } } } }",
        json!({"id": id}),
    )
    .await;
    assert!(d["contact"]["lastInteractionAt"].is_string(), "an inbound interaction moves the clock");
    assert_eq!(d["contact"]["interactions"]["nodes"], json!([{"summary": "Demo"}]));

    let d = ok(&app, "mutation($id: UUID!) { deleteContact(id: $id) { id } }", json!({"id": id})).await;
    assert_eq!(d["deleteContact"]["id"], id.as_str());
    let r = exec(&app, "admin", "query($id: UUID!) { contact(id: $id) { id } }", json!({"id": id})).await;
    assert_eq!(codes(&r), ["NOT_FOUND"]);
}

#[actix_web::test]
async fn order_mutations_create_upsert_batch_patch_and_delete() {
    let app = TestApp::new().await;
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let order = json!({"clientId": client["id"], "customer": {"email": "buyer@example.com", "firstName": "Ana"},
        "source": "shopify", "externalId": "1001", "status": "PAID", "currency": "EUR", "totalCents": 5000,
        "orderedAt": "2026-03-01T10:00:00Z",
        "lines": [{"sku": "A1", "name": "Widget", "quantity": 2, "unitPriceCents": 2500}]});
    let q = "mutation($input: OrderInput!) { createOrder(input: $input) { id status totalCents
        lines { sku quantity } contact { email firstName lawfulBasis } client { name status } } }";
    let d = ok(&app, q, json!({"input": order})).await;
    let o = &d["createOrder"];
    assert_eq!(o["contact"], json!({"email": "buyer@example.com", "firstName": "Ana", "lawfulBasis": "CONTRACT"}));
    assert_eq!(o["client"], json!({"name": "Acme", "status": "CUSTOMER"}));
    let id = o["id"].as_str().unwrap().to_owned();
    let r = exec(&app, "admin", q, json!({"input": order})).await;
    assert_eq!(codes(&r), ["CONFLICT"], "same (source, externalId)");

    let q = "mutation($input: OrderInput!) { upsertOrder(source: \"shopify\", externalId: \"1001\", input: $input) {
        result order { id totalCents } } }";
    let d = ok(&app, q, json!({"input": order})).await;
    assert_eq!(d["upsertOrder"], json!({"result": "UNCHANGED", "order": {"id": id, "totalCents": "5000"}}));
    let mut changed = order.clone();
    changed["totalCents"] = json!("6000");
    assert_eq!(ok(&app, q, json!({"input": changed})).await["upsertOrder"]["result"], "UPDATED");
    let q2 = q.replace("1001", "1002");
    let mut other = changed.clone();
    other["externalId"] = Value::Null;
    assert_eq!(ok(&app, &q2, json!({"input": other})).await["upsertOrder"]["result"], "CREATED");

    let q = "mutation($orders: [OrderInput!]!) { batchUpsertOrders(orders: $orders) { index id result } }";
    let mut third = order.clone();
    third["externalId"] = json!("1003");
    let d = ok(&app, q, json!({"orders": [changed, third]})).await;
    let items = d["batchUpsertOrders"].as_array().unwrap();
    assert_eq!((items[0]["index"].clone(), items[0]["result"].clone()), (json!(0), json!("UNCHANGED")));
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[1]["result"], "CREATED");

    let q = "mutation($id: UUID!, $v: Int) { updateOrder(id: $id, input: {status: REFUNDED, lines: []}, expectedVersion: $v) {
        status lines { sku } version } }";
    let d = ok(&app, q, json!({"id": id, "v": 2})).await;
    assert_eq!(d["updateOrder"], json!({"status": "REFUNDED", "lines": [], "version": 3}));
    let r = exec(&app, "admin", q, json!({"id": id, "v": 2})).await;
    assert_eq!(codes(&r), ["PRECONDITION_FAILED"]);

    let q = "mutation($id: UUID!) { deleteOrder(id: $id) { id } }";
    assert_eq!(ok(&app, q, json!({"id": id})).await["deleteOrder"]["id"], id.as_str());
    let r = exec(&app, "admin", "query($id: UUID!) { order(id: $id) { id } }", json!({"id": id})).await;
    assert_eq!(codes(&r), ["NOT_FOUND"]);

    // A client still referenced by orders cannot be deleted.
    let r =
        exec(&app, "admin", "mutation($id: UUID!) { deleteClient(id: $id) { id } }", json!({"id": client["id"]})).await;
    assert_eq!(codes(&r), ["CONFLICT"], "{r}");
    assert_eq!(r["errors"][0]["extensions"]["reason"], "in_use");
}

/// `orderedAt` defaults to the time of creation, once: the same upsert or
/// batch sent again without it is `UNCHANGED`, with no event.
#[actix_web::test]
async fn a_retried_upsert_without_ordered_at_is_unchanged() {
    let app = TestApp::new().await;
    let order = json!({"customer": {"email": "retry@example.com"}, "status": "PAID", "currency": "EUR",
        "totalCents": 700, "lines": [{"name": "Widget", "quantity": 1, "unitPriceCents": 700}]});
    let q = "mutation($input: OrderInput!) { upsertOrder(source: \"shop\", externalId: \"g1\", input: $input) {
        result order { version orderedAt updatedAt } } }";
    let first = ok(&app, q, json!({"input": order})).await["upsertOrder"].clone();
    assert_eq!(first["result"], "CREATED");
    let again = ok(&app, q, json!({"input": order})).await["upsertOrder"].clone();
    assert_eq!(again, json!({"result": "UNCHANGED", "order": first["order"]}));

    let q = "mutation($orders: [OrderInput!]!) { batchUpsertOrders(orders: $orders) { result } }";
    let mut item = order.clone();
    item["source"] = json!("shop");
    item["externalId"] = json!("g1");
    let mut other = order.clone();
    other["externalId"] = json!("g2");
    assert_eq!(
        ok(&app, q, json!({"orders": [item, other]})).await["batchUpsertOrders"],
        json!([{"result": "UNCHANGED"}, {"result": "CREATED"}])
    );
    assert_eq!(
        ok(&app, q, json!({"orders": [item, other]})).await["batchUpsertOrders"],
        json!([{"result": "UNCHANGED"}, {"result": "UNCHANGED"}])
    );
    let events = crate::orders::order_events(&app).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(kinds, ["order.created", "order.created"], "no order.updated for a retry: {events:?}");
}
