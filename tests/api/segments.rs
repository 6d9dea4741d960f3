//! Issue 19: segments — the filter language, search and count, saved
//! segments, the data shaped so every field is index-served.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use chrono::{Duration, Utc};
use clientele::services::segments::{self, Resource, filter};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin, token};

async fn contact(app: &TestApp, body: Value) -> String {
    crate::contacts::create_contact(app, body).await["id"].as_str().unwrap().to_owned()
}

async fn client(app: &TestApp, body: Value) -> String {
    crate::clients::create_client(app, body).await["id"].as_str().unwrap().to_owned()
}

fn grant(purpose: &str) -> Value {
    json!({"purpose": purpose, "status": "granted", "channel": "web_form", "collected_at": "2026-06-01T10:00:00Z",
           "proof": {"method": "checkbox", "wording": "Yes"}})
}

/// The ids a search answers, every page walked (limit 2).
async fn walk(app: &TestApp, resource: &str, filter: Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = json!({"filter": filter, "limit": 2});
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let r = app.post(&format!("/v1/{resource}/search"), &admin(), body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            assert!(ids.insert(c["id"].as_str().unwrap().to_owned()), "a row on two pages");
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    let n = app.post(&format!("/v1/{resource}/count"), &admin(), json!({"filter": filter})).await;
    assert_eq!(n.status, StatusCode::OK, "{}", n.body);
    assert_eq!(n.body["count"], ids.len(), "the count equals a full walk of the pages for {filter}");
    ids
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

#[actix_web::test]
async fn or_groups_nested_groups_and_every_op_on_its_type() {
    let app = TestApp::new().await;
    let retail = client(
        &app,
        json!({"name": "Boulangerie Paul", "sector": "retail", "naf_code": "10.71C", "employee_count": 12,
               "annual_revenue_cents": 5_000_000_000i64, "currency": "EUR"}),
    )
    .await;
    let tech = client(
        &app,
        json!({"name": "Logiciels SA", "sector": "software", "naf_code": "62.01Z", "employee_count": 300}),
    )
    .await;
    let a = contact(&app, json!({"email": "ann@example.com", "last_name": "Martin", "client_id": retail, "tags": ["vip"], "source": "shop"})).await;
    let b = contact(
        &app,
        json!({"email": "bob@example.com", "last_name": "Bernard", "client_id": tech, "tags": ["vip", "trade_show"]}),
    )
    .await;
    let c = contact(&app, json!({"email": "cleo@example.com", "last_name": "Martinez", "status": "customer"})).await;
    let order = json!({"contact_id": a, "source": "shop", "external_id": "a1", "status": "paid", "currency": "EUR",
                       "total_cents": 4200, "ordered_at": Utc::now().to_rfc3339(),
                       "lines": [{"sku": "A", "name": "Bread", "quantity": 1, "unit_price_cents": 4200}]});
    assert_eq!(app.post("/v1/orders", &admin(), order).await.status, StatusCode::CREATED);
    assert_eq!(
        app.post(&format!("/v1/contacts/{b}/consents"), &admin(), grant("newsletter")).await.status,
        StatusCode::CREATED
    );

    let cases: Vec<(Value, Vec<&String>)> = vec![
        (json!({"all": []}), vec![&a, &b, &c]),
        (json!({"any": []}), vec![]),
        (json!({"all": [{"field": "status", "op": "eq", "value": "customer"}]}), vec![&a, &c]),
        (json!({"all": [{"field": "status", "op": "ne", "value": "customer"}]}), vec![&b]),
        (json!({"all": [{"field": "status", "op": "in", "value": ["prospect", "former_customer"]}]}), vec![&b]),
        (json!({"all": [{"field": "tags", "op": "contains", "value": "vip"}]}), vec![&a, &b]),
        (json!({"all": [{"field": "q", "op": "prefix", "value": "mart"}]}), vec![&a, &c]),
        (json!({"all": [{"field": "email", "op": "eq", "value": "BOB@example.com"}]}), vec![&b]),
        (json!({"all": [{"field": "email", "op": "prefix", "value": "cl"}]}), vec![&c]),
        (json!({"all": [{"field": "client_id", "op": "exists", "value": false}]}), vec![&c]),
        (json!({"all": [{"field": "client_id", "op": "eq", "value": tech}]}), vec![&b]),
        (json!({"all": [{"field": "source", "op": "exists", "value": true}]}), vec![&a]),
        (json!({"all": [{"field": "stats.orders_count", "op": "gte", "value": 1}]}), vec![&a]),
        (json!({"all": [{"field": "stats.spent_last_12m_cents", "op": "gte", "value": 4200}]}), vec![&a]),
        (json!({"all": [{"field": "stats.spent_last_12m_cents", "op": "lte", "value": 4199}]}), vec![&b, &c]),
        (json!({"all": [{"field": "stats.last_order_at", "op": "after", "value": "2020-01-01T00:00:00Z"}]}), vec![&a]),
        (json!({"all": [{"field": "created_at", "op": "before", "value": "2020-01-01T00:00:00Z"}]}), vec![]),
        (json!({"all": [{"field": "consent", "op": "granted", "value": "newsletter"}]}), vec![&b]),
        (json!({"all": [{"field": "consent", "op": "none", "value": "newsletter"}]}), vec![&a, &c]),
        (json!({"all": [{"field": "client.sector", "op": "eq", "value": "retail"}]}), vec![&a]),
        (json!({"all": [{"field": "client.naf_code", "op": "prefix", "value": "62"}]}), vec![&b]),
        (json!({"all": [{"field": "client.employee_count", "op": "gte", "value": 100}]}), vec![&b]),
        (json!({"all": [{"field": "client.annual_revenue_cents", "op": "gte", "value": 4_000_000_000i64}]}), vec![&a]),
        // OR: retail people, or those who granted the newsletter.
        (
            json!({"any": [{"field": "client.sector", "op": "eq", "value": "retail"},
                           {"field": "consent", "op": "granted", "value": "newsletter"}]}),
            vec![&a, &b],
        ),
        // Nested: vip AND (customer OR granted), and a group three deep.
        (
            json!({"all": [{"field": "tags", "op": "contains", "value": "vip"},
                           {"any": [{"field": "status", "op": "eq", "value": "customer"},
                                    {"all": [{"field": "consent", "op": "granted", "value": "newsletter"},
                                             {"any": [{"field": "client.sector", "op": "eq", "value": "software"}]}]}]}]}),
            vec![&a, &b],
        ),
    ];
    for (f, expected) in cases {
        assert_eq!(walk(&app, "contacts", f.clone()).await, set(&expected), "{f}");
    }
    let clients_cases: Vec<(Value, Vec<&String>)> = vec![
        (json!({"all": [{"field": "sector", "op": "eq", "value": "software"}]}), vec![&tech]),
        (json!({"all": [{"field": "naf_code", "op": "eq", "value": "1071C"}]}), vec![&retail]),
        (
            json!({"any": [{"field": "employee_count", "op": "lte", "value": 20}, {"field": "q", "op": "prefix", "value": "log"}]}),
            vec![&retail, &tech],
        ),
        (json!({"all": [{"field": "stats.spent_last_12m_cents", "op": "gte", "value": 1}]}), vec![&retail]),
        (json!({"all": [{"field": "annual_revenue_cents", "op": "exists", "value": false}]}), vec![&tech]),
    ];
    for (f, expected) in clients_cases {
        assert_eq!(walk(&app, "clients", f.clone()).await, set(&expected), "{f}");
    }
    // The list filters are the same language.
    let r = app.get("/v1/contacts?consent=newsletter&tag=vip", &admin()).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["id"], json!(b));
}

#[actix_web::test]
async fn each_kind_of_mistake_is_a_422_naming_it() {
    let app = TestApp::new().await;
    let cases = [
        (
            json!({"filter": {"all": [{"field": "shoe_size", "op": "eq", "value": 42}]}}),
            "filter.all[0].field",
            "unknown_field",
        ),
        (json!({"filter": {"all": [{"field": "tags", "op": "gte", "value": "x"}]}}), "filter.all[0].op", "invalid_op"),
        (
            json!({"filter": {"any": [{"field": "stats.orders_count", "op": "eq", "value": "three"}]}}),
            "filter.any[0].value",
            "invalid_value",
        ),
        (
            json!({"filter": {"all": [{"field": "consent", "op": "granted", "value": "no_such_purpose"}]}}),
            "filter.all[0].value",
            "unknown_purpose",
        ),
        (json!({"filter": {"both": []}}), "filter", "invalid_group"),
        (json!({}), "filter", "required"),
        (json!({"filter": {"all": []}, "limit": 0}), "limit", "range"),
    ];
    for (body, field, code) in cases {
        let r = app.post("/v1/contacts/search", &admin(), body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert_eq!(r.body["type"], "/problems/validation");
        let errs: Vec<(String, String)> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned()))
            .collect();
        assert!(errs.iter().any(|(f, c)| f == field && (c == code || code == "range")), "{body}: {errs:?}");
    }
    let deep = json!({"filter": {"all": [{"any": [{"all": [{"any": [{"all": []}]}]}]}]}});
    let r = app.post("/v1/clients/count", &admin(), deep).await;
    assert_eq!(r.body["errors"][0]["code"], "too_deep", "{}", r.body);
    let r = app
        .post(
            "/v1/clients/search",
            &admin(),
            json!({"filter": {"all": [{"field": "consent", "op": "granted", "value": "newsletter"}]}}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["code"], "unknown_field", "clients have no consent: {}", r.body);
}

#[actix_web::test]
async fn the_12_month_spend_moves_with_the_sweeps_clock() {
    let app = TestApp::new().await;
    let mut conn = app.db.conn();
    let now = Utc::now();
    // The template's window is as old as the template: bring it to now.
    conn.transaction(|c| clientele::services::stats::sweep_window(c, now)).unwrap();
    let recent = contact(&app, json!({"email": "d364@example.com"})).await;
    let old = contact(&app, json!({"email": "d366@example.com"})).await;
    for (who, days, n) in [(&recent, 364, "o364"), (&old, 366, "o366")] {
        let order = json!({"contact_id": who, "source": "shop", "external_id": n, "status": "paid", "currency": "EUR",
                           "total_cents": 1000,
                           "ordered_at": (now - Duration::days(days)).to_rfc3339(),
                           "lines": [{"sku": "A", "name": "Bread", "quantity": 1, "unit_price_cents": 1000}]});
        assert_eq!(app.post("/v1/orders", &admin(), order).await.status, StatusCode::CREATED);
    }
    let spenders = json!({"all": [{"field": "stats.spent_last_12m_cents", "op": "gte", "value": 1000}]});
    assert_eq!(walk(&app, "contacts", spenders.clone()).await, set(&[&recent]), "364 days ago is inside, 366 outside");
    let r = app.get(&format!("/v1/contacts/{recent}"), &admin()).await;
    assert_eq!(r.body["stats"]["spent_last_12m_cents"], 1000);
    assert_eq!(app.get(&format!("/v1/contacts/{old}"), &admin()).await.body["stats"]["spent_last_12m_cents"], 0);

    // Two days later the 364-day-old order is 366 days old: the sweep takes it out.
    let swept = conn.transaction(|c| clientele::services::stats::sweep_window(c, now + Duration::days(2))).unwrap();
    assert_eq!(swept.orders, 1);
    assert!(walk(&app, "contacts", spenders.clone()).await.is_empty());
    let r = app.get(&format!("/v1/contacts/{recent}"), &admin()).await;
    assert_eq!(r.body["stats"]["spent_last_12m_cents"], 0);
    assert_eq!(r.body["stats"]["total_spent_cents"], 1000, "the lifetime figures do not move");
    // A sweep is idempotent, and never moves the window back.
    let again = conn.transaction(|c| clientele::services::stats::sweep_window(c, now)).unwrap();
    assert_eq!(again.orders, 0);
    assert_eq!(again.window_start, swept.window_start);
    // Stored figures equal a recount against the window.
    let (stored, recount): (i64, i64) = diesel::sql_query(
        "SELECT (SELECT coalesce(sum(spent_last_12m_cents), 0) FROM contacts)::bigint AS stored, \
         (SELECT coalesce(sum(total_cents), 0) FROM orders WHERE status IN ('pending', 'paid', 'fulfilled') \
          AND ordered_at >= (SELECT window_start FROM spend_window))::bigint AS recount",
    )
    .get_result::<Sums>(&mut conn)
    .map(|s| (s.stored, s.recount))
    .unwrap();
    assert_eq!(stored, recount);
}

#[derive(QueryableByName)]
struct Sums {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    stored: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    recount: i64,
}

#[actix_web::test]
async fn consent_conditions_follow_a_grant_a_withdrawal_and_an_erasure() {
    let app = TestApp::new().await;
    let id = contact(&app, json!({"email": "eve@example.com"})).await;
    let f = |op: &str| json!({"all": [{"field": "consent", "op": op, "value": "newsletter"}]});
    assert_eq!(walk(&app, "contacts", f("none")).await, set(&[&id]));
    let path = format!("/v1/contacts/{id}/consents");
    assert_eq!(app.post(&path, &admin(), grant("newsletter")).await.status, StatusCode::CREATED);
    assert_eq!(walk(&app, "contacts", f("granted")).await, set(&[&id]));
    assert!(walk(&app, "contacts", f("none")).await.is_empty());
    let withdraw = json!({"purpose": "newsletter", "status": "withdrawn", "channel": "web_form",
                          "collected_at": "2026-07-01T10:00:00Z"});
    assert_eq!(app.post(&path, &admin(), withdraw).await.status, StatusCode::CREATED);
    assert!(walk(&app, "contacts", f("granted")).await.is_empty());
    assert_eq!(walk(&app, "contacts", f("withdrawn")).await, set(&[&id]));
    // A grant recorded later but collected earlier does not undo the withdrawal.
    assert_eq!(app.post(&path, &admin(), grant("newsletter")).await.status, StatusCode::CREATED);
    assert_eq!(walk(&app, "contacts", f("withdrawn")).await, set(&[&id]));
    let r = app.post("/v1/dsar", &admin(), json!({"type": "erasure", "subject": {"contact_id": id}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let dsar = r.body["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/dsar/{dsar}/process"), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for op in ["granted", "withdrawn"] {
        assert!(walk(&app, "contacts", f(op)).await.is_empty(), "{op} after the erasure");
    }
}

#[actix_web::test]
async fn saved_segments_count_their_members_and_apply_reachability() {
    let app = TestApp::new().await;
    let pro = contact(&app, json!({"email": "pro@example.com", "audience": "professional", "tags": ["lead"]})).await;
    let granted = contact(&app, json!({"email": "yes@example.com", "tags": ["lead"]})).await;
    let _silent = contact(&app, json!({"email": "no@example.com", "tags": ["lead"]})).await;
    let _other = contact(&app, json!({"email": "other@example.com"})).await;
    app.post(&format!("/v1/contacts/{granted}/consents"), &admin(), grant("newsletter")).await;
    let body = json!({"name": "Leads", "resource": "contacts", "filter": {"all": [{"field": "tags", "op": "contains", "value": "lead"}]}});
    let r = app.post("/v1/segments", &token("contacts:write"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/v1/segments/{id}/count"), &admin()).await.body["count"], 3);
    let r = app.get(&format!("/v1/segments/{id}/members?limit=2"), &admin()).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert!(r.body["next_cursor"].is_string());
    // Email for the newsletter: the consumer who granted it and the professional.
    let q = format!("/v1/segments/{id}/members?channel=email&purpose=newsletter&limit=200");
    let ids: BTreeSet<String> = app.get(&q, &admin()).await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, set(&[&pro, &granted]));
    let r = app.get(&format!("/v1/segments/{id}/count?channel=email&purpose=newsletter"), &admin()).await;
    assert_eq!(r.body["count"], 2);
    // The same verdicts as the reachability check.
    let check = json!({"channel": "email", "purpose": "newsletter",
                       "recipients": [{"email": "pro@example.com"}, {"email": "yes@example.com"}, {"email": "no@example.com"}]});
    let r = app.post("/v1/reachability/check", &admin(), check).await;
    assert_eq!(r.body["allowed"].as_array().unwrap().len(), 2, "{}", r.body);

    // A saved filter names no person; the scope follows the resource.
    let personal = json!({"name": "Bob", "resource": "contacts", "filter": {"all": [{"field": "email", "op": "eq", "value": "bob@example.com"}]}});
    let r = app.post("/v1/segments", &admin(), personal).await;
    assert_eq!(r.body["errors"][0]["code"], "personal_field", "{}", r.body);
    let r = app
        .post(
            "/v1/segments",
            &token("contacts:write"),
            json!({"name": "Big", "resource": "clients", "filter": {"all": []}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/v1/segments/{id}"), &token("clients:read")).await.status, StatusCode::FORBIDDEN);
    // Update, list, delete.
    let etag = app.get(&format!("/v1/segments/{id}"), &admin()).await.header("etag").unwrap();
    let r = app
        .send(
            actix_web::http::Method::PATCH,
            &format!("/v1/segments/{id}"),
            Some(&admin()),
            Some(&json!({"name": "All leads"})),
            &[("If-Match", etag.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    // A new filter replaces the old one whole (RFC 7396 would merge `any` into `all`).
    let any = json!({"filter": {"any": [{"field": "audience", "op": "eq", "value": "professional"}]}});
    let r = app.patch(&format!("/v1/segments/{id}"), &admin(), any).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["filter"], json!({"any": [{"field": "audience", "op": "eq", "value": "professional"}]}));
    assert_eq!(app.get(&format!("/v1/segments/{id}/count"), &admin()).await.body["count"], 1);
    let r = app.patch(&format!("/v1/segments/{id}"), &admin(), json!({"resource": "clients"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/v1/segments", &token("contacts:read")).await.body["data"].as_array().unwrap().len(), 1);
    assert!(app.get("/v1/segments", &token("clients:read")).await.body["data"].as_array().unwrap().is_empty());
    assert_eq!(app.delete(&format!("/v1/segments/{id}"), &admin()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/v1/segments/{id}"), &admin()).await.status, StatusCode::NOT_FOUND);
}

/// A positive condition on every field of each resource.
fn samples(resource: Resource) -> Vec<(&'static str, Value)> {
    let cond = |field: &'static str, op: &str, value: Value| (field, json!({"field": field, "op": op, "value": value}));
    let time = json!("2026-01-01T00:00:00Z");
    let id = json!("00000000-0000-7000-8000-000000000000");
    let mut v = vec![
        cond("status", "eq", json!("former_customer")),
        cond("tags", "contains", json!("rare")),
        cond("created_at", "after", time.clone()),
        cond("updated_at", "after", time.clone()),
        cond("stats.orders_count", "gte", json!(1000)),
        cond("stats.total_spent_cents", "gte", json!(1_000_000_000)),
        cond("stats.spent_last_12m_cents", "gte", json!(1_000_000_000)),
        cond("stats.first_order_at", "after", time.clone()),
        cond("stats.last_order_at", "after", time.clone()),
        cond("stats.last_order_total_cents", "gte", json!(1_000_000_000)),
        cond("q", "prefix", json!("zz")),
    ];
    match resource {
        Resource::Contacts => v.extend([
            cond("audience", "eq", json!("professional")),
            cond("client_id", "eq", id),
            cond("email", "eq", json!("nobody@example.com")),
            cond("first_name", "prefix", json!("zz")),
            cond("last_name", "prefix", json!("zz")),
            cond("source", "eq", json!("fair")),
            cond("consent", "granted", json!("partner_sharing")),
            cond("client.status", "eq", json!("former_customer")),
            cond("client.sector", "eq", json!("mining")),
            cond("client.naf_code", "prefix", json!("05")),
            cond("client.employee_count", "gte", json!(100_000)),
            cond("client.annual_revenue_cents", "gte", json!(1_000_000_000_000i64)),
        ]),
        Resource::Clients => v.extend([
            cond("sector", "eq", json!("mining")),
            cond("naf_code", "prefix", json!("05")),
            cond("siren", "eq", json!("732829320")),
            cond("acquisition_channel", "eq", json!("fair")),
            cond("employee_count", "gte", json!(100_000)),
            cond("annual_revenue_cents", "gte", json!(1_000_000_000_000i64)),
        ]),
    }
    v
}

/// Scan nodes on `table` and whether each is driven by an index condition.
fn scans(plan: &Value, table: &str, out: &mut Vec<(String, bool)>) {
    if let Some(o) = plan.as_object() {
        if o.get("Relation Name").and_then(Value::as_str) == Some(table) {
            let kind = o["Node Type"].as_str().unwrap_or_default().to_owned();
            let by_index = match kind.as_str() {
                "Index Scan" | "Index Only Scan" => o.contains_key("Index Cond"),
                "Bitmap Heap Scan" => true,
                _ => false,
            };
            out.push((kind, by_index));
        }
        for v in o.values() {
            scans(v, table, out);
        }
    } else if let Some(a) = plan.as_array() {
        a.iter().for_each(|v| scans(v, table, out));
    }
}

#[actix_web::test]
async fn every_single_field_filter_is_served_by_an_index() {
    let app = TestApp::new().await;
    let mut conn = app.db.conn();
    // Enough rows, analysed, that the planner's choice means something.
    diesel::sql_query(
        "INSERT INTO clients (id, name, status, sector, employee_count, created_at, updated_at) \
         SELECT gen_random_uuid(), 'Client ' || i, 'prospect', 'retail', i % 50, now(), now() FROM generate_series(1, 2000) i",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO contacts (id, email, last_name, first_name, status, lawful_basis, tags, custom_fields, created_at, updated_at) \
         SELECT gen_random_uuid(), 'p' || i || '@example.com', 'Name' || i, 'First' || i, 'prospect', \
                'legitimate_interest', '[\"x\"]', '{}', now(), now() FROM generate_series(1, 5000) i",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
    diesel::sql_query("SET enable_seqscan = off").execute(&mut conn).unwrap();
    for resource in [Resource::Contacts, Resource::Clients] {
        let samples = samples(resource);
        let covered: BTreeSet<&str> = samples.iter().map(|s| s.0).collect();
        let fields: BTreeSet<&str> = filter::field_names(resource).into_iter().collect();
        assert_eq!(covered, fields, "every field of {resource:?} has a sample here");
        for (field, cond) in samples {
            let (_page, count) = segments::explain(&mut conn, resource, &json!({"all": [cond]})).unwrap();
            for table in ["contacts", "clients", "orders"] {
                let mut found = Vec::new();
                scans(&count, table, &mut found);
                for (kind, by_index) in found {
                    assert!(by_index, "{resource:?} {field}: {kind} on {table} without an index condition:\n{count:#}");
                }
            }
        }
    }
}

#[actix_web::test]
async fn graphql_filters_with_the_same_language_and_counts() {
    let app = TestApp::new().await;
    let retail = client(&app, json!({"name": "Retail One", "sector": "retail"})).await;
    let a = contact(&app, json!({"email": "g1@example.com", "client_id": retail, "tags": ["vip"]})).await;
    let b = contact(&app, json!({"email": "g2@example.com", "tags": ["vip"]})).await;
    let _c = contact(&app, json!({"email": "g3@example.com"})).await;
    app.post(&format!("/v1/contacts/{b}/consents"), &admin(), grant("newsletter")).await;
    let query = "query($f: SegmentFilter) { contacts(first: 1, filter: $f) { totalCount nodes { id } pageInfo { hasNextPage } } }";
    let f = json!({"any": [{"field": "client.sector", "op": "EQ", "value": "retail"},
                           {"all": [{"field": "tags", "op": "CONTAINS", "value": "vip"},
                                    {"field": "consent", "op": "GRANTED", "value": "newsletter"}]}]});
    let data = crate::graphql::ok(&app, query, json!({"f": f})).await;
    assert_eq!(data["contacts"]["totalCount"], 2, "{data}");
    assert_eq!(data["contacts"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(data["contacts"]["pageInfo"]["hasNextPage"], true);
    let first = data["contacts"]["nodes"][0]["id"].as_str().unwrap().to_owned();
    assert!(first == a || first == b);
    let data = crate::graphql::ok(
        &app,
        "{ clients(filter: {all: [{field: \"sector\", op: EQ, value: \"retail\"}]}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["clients"]["totalCount"], 1);
    let bad = crate::graphql::exec(
        &app,
        "admin",
        "{ contacts(filter: {all: [{field: \"shoe\", op: EQ, value: 1}]}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "VALIDATION", "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["errors"][0]["field"], "filter.all[0].field");
}
