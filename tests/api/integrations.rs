//! Issue 5: events, webhooks, DSAR callbacks, rate limits, revocation.

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::receiver::{Receiver, closed_port};
use crate::helpers::{TestApp, TestDb, admin, config, keys, token};
use clientele::services::delivery;
use clientele::state::AppState;

/// Runs delivery passes until one delivers nothing.
async fn drain(app: &TestApp) {
    app.settle().await;
    for _ in 0..50 {
        if delivery::tick(&app.state, 32).await.unwrap() == 0 {
            break;
        }
    }
}

async fn subscribe(app: &TestApp, url: &str, events: Value) -> Value {
    let r = app.post("/v1/webhooks", &token("webhooks:manage"), json!({"url": url, "events": events})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let (t, v1) = header.split_once(',').unwrap();
    let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    v1.strip_prefix("v1=").unwrap() == delivery::signature(secret, t, body).split_once(",v1=").unwrap().1
        && (chrono::Utc::now().timestamp() - t).abs() < 300
}

#[actix_web::test]
async fn every_write_is_delivered_in_order_and_signed() {
    let app = TestApp::new().await;
    let rx = Receiver::start(0, None);
    let hook = subscribe(&app, &rx.url(), json!(["client.*", "contact.created"])).await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let shown = app.get(&format!("/v1/webhooks/{}", hook["id"].as_str().unwrap()), &token("webhooks:manage")).await;
    assert!(shown.body.get("secret").is_none(), "the secret is shown once");

    let client = crate::clients::create_client(&app, json!({"name": "Hooked"})).await;
    let cid = client["id"].as_str().unwrap();
    app.patch(&format!("/v1/clients/{cid}"), &admin(), json!({"sector": "retail"})).await;
    crate::contacts::create_contact(&app, json!({"email": "h@example.com"})).await;
    app.post(
        "/v1/orders",
        &admin(),
        json!({"client_id": cid, "status": "cancelled", "currency": "EUR", "total_cents": 1}),
    )
    .await;
    app.send(Method::DELETE, &format!("/v1/clients/{cid}"), Some(&admin()), None, &[]).await;
    drain(&app).await;

    let got = rx.received();
    let types: Vec<String> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        types,
        ["client.created", "client.updated", "contact.created"],
        "order.* is not subscribed; the delete failed (409)"
    );
    for r in &got {
        let sig = r.header("clientele-signature").unwrap();
        assert!(verify(secret, sig, &r.body), "signature verifies");
        assert_eq!(r.header("clientele-event-id").unwrap(), r.json()["id"].as_str().unwrap());
    }
    assert_eq!(got[0].json()["data"]["name"], "Hooked", "the resource as the API returns it");
    assert_eq!(got[1].json()["changed_fields"], json!(["sector"]));
    let deliveries =
        app.get(&format!("/v1/webhooks/{}/deliveries", hook["id"].as_str().unwrap()), &token("webhooks:manage")).await;
    let d = deliveries.body["data"].as_array().unwrap();
    assert_eq!(d.len(), 3);
    assert!(
        d.iter()
            .all(|x| x["status"] == "succeeded" && x["attempts"] == 1 && x["recent_attempts"][0]["status_code"] == 200)
    );

    // Any event can be delivered again.
    let event_id = d[0]["event_id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/webhooks/{}/deliveries/{event_id}/redeliver", hook["id"].as_str().unwrap()),
            &token("webhooks:manage"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    drain(&app).await;
    assert_eq!(rx.received().len(), 4);
    assert_eq!(rx.received()[3].json()["id"].as_str().unwrap(), event_id);
}

#[actix_web::test]
async fn a_receiver_down_then_up_gets_every_event_once_in_order() {
    let app = TestApp::new().await;
    let port = closed_port();
    let hook = subscribe(&app, &format!("http://127.0.0.1:{port}/hook"), json!(["*"])).await;
    for i in 0..3 {
        crate::clients::create_client(&app, json!({"name": format!("C{i}")})).await;
    }
    drain(&app).await;
    let hid = hook["id"].as_str().unwrap();
    let d = app.get(&format!("/v1/webhooks/{hid}/deliveries"), &token("webhooks:manage")).await.body;
    assert_eq!(d["data"][0]["status"], "pending");
    assert_eq!(d["data"][0]["attempts"], 1);
    assert!(d["data"][0]["last_error"].is_string());
    assert_eq!(d["data"][1]["attempts"], 0, "later events wait behind the first: order is kept");
    let w = app.get(&format!("/v1/webhooks/{hid}"), &token("webhooks:manage")).await.body;
    assert!(w["failing_since"].is_string());

    let rx = Receiver::start(port, None);
    let mut conn = app.db.conn();
    diesel::sql_query("UPDATE webhook_deliveries SET next_attempt_at = now()").execute(&mut conn).unwrap();
    drain(&app).await;
    drain(&app).await;
    let names: Vec<String> =
        rx.received().iter().map(|r| r.json()["data"]["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["C0", "C1", "C2"], "none lost, none doubled, in order");
    let w = app.get(&format!("/v1/webhooks/{hid}"), &token("webhooks:manage")).await.body;
    assert!(w["failing_since"].is_null(), "a success clears the failure state");
}

#[actix_web::test]
async fn retry_after_is_honoured_and_three_days_of_failure_disable_the_webhook() {
    let app = TestApp::new().await;
    let rx = Receiver::start(0, Some("120"));
    rx.status.store(503, std::sync::atomic::Ordering::SeqCst);
    let hook = subscribe(&app, &rx.url(), json!(["*"])).await;
    let hid = hook["id"].as_str().unwrap();
    crate::clients::create_client(&app, json!({"name": "Busy"})).await;
    drain(&app).await;
    let d = app.get(&format!("/v1/webhooks/{hid}/deliveries"), &token("webhooks:manage")).await.body;
    assert_eq!(d["data"][0]["last_status_code"], 503);
    let next = chrono::DateTime::parse_from_rfc3339(d["data"][0]["next_attempt_at"].as_str().unwrap()).unwrap();
    let wait = (next.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!((100..=125).contains(&wait), "Retry-After: 120 honoured, got {wait}");

    let mut conn = app.db.conn();
    diesel::sql_query("UPDATE webhooks SET failing_since = now() - interval '4 days'").execute(&mut conn).unwrap();
    diesel::sql_query("UPDATE webhook_deliveries SET next_attempt_at = now(), created_at = now() - interval '4 days'")
        .execute(&mut conn)
        .unwrap();
    drain(&app).await;
    let w = app.get(&format!("/v1/webhooks/{hid}"), &token("webhooks:manage")).await.body;
    assert_eq!(w["enabled"], false);
    assert_eq!(w["disabled_reason"], "deliveries failed for 3 days");
    let d = app.get(&format!("/v1/webhooks/{hid}/deliveries"), &token("webhooks:manage")).await.body;
    assert_eq!(d["data"][0]["status"], "failed");
    let r = app.patch(&format!("/v1/webhooks/{hid}"), &token("webhooks:manage"), json!({"enabled": true})).await;
    assert_eq!(r.body["enabled"], true);
    assert!(r.body["failing_since"].is_null());
}

#[actix_web::test]
async fn a_rolled_back_write_emits_nothing() {
    let app = TestApp::new().await;
    let count =
        |conn: &mut PgConnection| -> i64 { clientele::db::schema::events::table.count().get_result(conn).unwrap() };
    let mut conn = app.db.conn();
    let before = count(&mut conn);
    let client = crate::clients::create_client(&app, json!({"name": "A"})).await;
    assert_eq!(count(&mut conn), before + 1);
    // Items 0 and 1 are written, then item 2's unknown client aborts the transaction.
    let item = |ext: &str, client: &str| json!({"source": "shop", "external_id": ext, "status": "paid", "currency": "EUR", "total_cents": 5, "client_id": client});
    let r = app
        .post("/v1/orders/batch", &admin(), json!({"orders": [item("1", client["id"].as_str().unwrap()), item("2", client["id"].as_str().unwrap()), item("3", &uuid::Uuid::now_v7().to_string())]}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_fields(), vec!["orders[2].client_id"]);
    assert_eq!(count(&mut conn), before + 1, "no event from the rolled-back batch");
}

#[actix_web::test]
async fn the_event_feed_is_ordered_complete_and_scoped() {
    let app = TestApp::new().await;
    let c = crate::contacts::create_contact(&app, json!({"email": "feed@example.com"})).await;
    let id = c["id"].as_str().unwrap();
    crate::clients::create_client(&app, json!({"name": "Other"})).await;
    app.patch(&format!("/v1/contacts/{id}"), &admin(), json!({"job_title": "CEO"})).await;
    app.delete(&format!("/v1/contacts/{id}"), &admin()).await;
    app.settle().await;
    let reader = token("contacts:read");
    let r = app.get("/v1/events?limit=2", &reader).await;
    assert_eq!(r.status, StatusCode::OK);
    let types: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["contact.created", "contact.updated"], "client.* needs clients:read");
    let next = r.body["next_cursor"].as_str().unwrap();
    let r2 = app.get(&format!("/v1/events?after={next}"), &reader).await;
    assert_eq!(r2.body["data"][0]["type"], "contact.deleted", "deletions are in the feed");
    assert_eq!(r2.body["data"][0]["data"], Value::Null, "ids only for deletions");
    let end = r2.body["next_cursor"].as_str().unwrap();
    let r3 = app.get(&format!("/v1/events?after={end}"), &reader).await;
    assert_eq!(r3.body["data"].as_array().unwrap().len(), 0);
    let end = r3.body["next_cursor"].as_str().unwrap();
    crate::contacts::create_contact(&app, json!({"email": "later@example.com"})).await;
    app.settle().await;
    let r4 = app.get(&format!("/v1/events?after={end}"), &reader).await;
    let types: Vec<&str> = r4.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["contact.created"], "the feed has no end: keep the cursor, ask again");
    let r = app.get("/v1/events?type=client.*", &admin()).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/events", &token("webhooks:manage")).await.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn dsar_status_changes_are_called_back_signed() {
    let app = TestApp::new().await;
    let rx = Receiver::start(0, None);
    crate::contacts::create_contact(&app, json!({"email": "cb@example.com"})).await;
    let submitter = token("dsar:submit");
    let r = app
        .post("/v1/dsar", &submitter, json!({"type": "erasure", "subject": {"email": "cb@example.com"}, "callback_url": rx.url(), "external_id": "ticket-77"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.body["callback_secret"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(app.get(&format!("/v1/dsar/{id}"), &submitter).await.body.get("callback_secret").is_none());
    let link = crate::identity::link_token(&app, &id).await;
    crate::identity::verify_by_link(&app, &id).await;
    app.post(&format!("/v1/dsar/{id}/process"), &admin(), json!({})).await;
    drain(&app).await;
    let got = rx.received();
    let types: Vec<String> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    // The link's event goes to the controller only: the submitter could verify for the person.
    assert_eq!(types, ["dsar.identity_unverified", "dsar.received", "dsar.completed"]);
    for r in &got {
        assert!(!String::from_utf8_lossy(&r.body).contains(&link), "the link never reaches the submitter");
        assert!(verify(&secret, r.header("clientele-signature").unwrap(), &r.body));
        assert_eq!(r.json()["data"]["external_id"], "ticket-77", "{}", r.json());
        assert!(!String::from_utf8_lossy(&r.body).contains("cb@example.com"), "no personal data in callbacks");
    }
    assert_eq!(got[0].json()["data"]["status"], "identity_unverified");
    assert_eq!(got[1].json()["data"]["status"], "received");
    assert_eq!(got[2].json()["data"]["status"], "completed");
    let hooks = app.get("/v1/webhooks", &token("webhooks:manage")).await;
    assert_eq!(hooks.body["data"].as_array().unwrap().len(), 0, "callbacks are not subscriptions");
}

#[actix_web::test]
async fn unsafe_urls_are_refused_at_subscription_and_at_delivery() {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.webhook_allow_private = false;
    let app = TestApp::with_state(db, AppState::new(cfg, keys())).await;
    let t = token("webhooks:manage");
    for (url, code) in [
        ("http://shop.example/hook", "insecure"),
        ("https://127.0.0.1/hook", "forbidden_address"),
        ("https://localhost:8443/hook", "forbidden_address"),
        ("https://10.1.2.3/hook", "forbidden_address"),
        ("https://192.168.0.10/hook", "forbidden_address"),
        ("https://169.254.169.254/latest/meta-data", "forbidden_address"),
        ("https://[::1]/hook", "forbidden_address"),
        ("https://[::ffff:127.0.0.1]/hook", "forbidden_address"),
        ("https://user:pass@shop.example/hook", "credentials"),
        ("ftp://shop.example/hook", "insecure"),
    ] {
        let r = app.post("/v1/webhooks", &t, json!({"url": url})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(r.body["errors"][0]["code"], code, "{url}");
    }
    let r = app
        .post(
            "/v1/dsar",
            &admin(),
            json!({"type": "access", "subject": {"email": "a@example.com"}, "callback_url": "https://127.0.0.1/cb"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["callback_url"]);

    // A URL that became private after it was checked (DNS rebinding) is refused at delivery.
    let rx = Receiver::start(0, None);
    let mut conn = app.db.conn();
    diesel::sql_query(format!(
        "INSERT INTO webhooks (id, url, secret, created_by) VALUES ('{}', '{}', 'whsec_x', 't')",
        uuid::Uuid::now_v7(),
        rx.url()
    ))
    .execute(&mut conn)
    .unwrap();
    crate::clients::create_client(&app, json!({"name": "X"})).await;
    drain(&app).await;
    assert!(rx.received().is_empty(), "the resolver refused the loopback address");
}

#[actix_web::test]
async fn metadata_and_link_local_addresses_stay_refused_when_private_networks_are_allowed() {
    // The test configuration allows private networks (the receivers listen on loopback).
    let app = TestApp::new().await;
    assert!(app.state.config.webhook_allow_private);
    let t = token("webhooks:manage");
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://0.0.0.0:8080/hook",
        "http://[::]/hook",
        "http://100.100.100.200/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://224.0.0.1/hook",
    ] {
        let r = app.post("/v1/webhooks", &t, json!({"url": url})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "forbidden_address", "{url}");
    }
    let r = app
        .post("/v1/dsar", &admin(), json!({"type": "access", "subject": {"email": "a@example.com"}, "callback_url": "http://169.254.169.254/cb"}))
        .await;
    assert_eq!(r.error_fields(), vec!["callback_url"]);
    // Private and loopback addresses are allowed by the flag.
    let r = app.post("/v1/webhooks", &t, json!({"url": "http://10.1.2.3/hook"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // And at delivery, whatever the flag: a subscription stored before this rule cannot reach them.
    let rx = Receiver::start(0, None);
    let agent = clientele::services::delivery::agent(true);
    assert!(agent.get("http://169.254.169.254/latest/meta-data").call().is_err());
    assert!(agent.get(&rx.url()).call().is_ok(), "loopback still allowed by the flag");
}

#[test]
fn forbidden_addresses() {
    use clientele::services::webhooks::forbidden_ip;
    for ip in [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ] {
        assert!(forbidden_ip(ip.parse().unwrap()), "{ip}");
    }
    for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
        assert!(!forbidden_ip(ip.parse().unwrap()), "{ip}");
    }
}

#[actix_web::test]
async fn rate_limits_answer_429_with_retry_after() {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.rate_per_sec = 1;
    cfg.rate_burst = 3;
    cfg.dsar_rate_per_min = 2;
    let app = TestApp::with_state(db, AppState::new(cfg, keys())).await;
    let t = admin();
    for i in 0..3 {
        let r = app.get("/v1/clients", &t).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
        assert_eq!(r.header("ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(r.header("ratelimit-remaining").unwrap(), (2 - i).to_string());
    }
    let r = app.get("/v1/clients", &t).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(r.header("ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(r.body["status"], 429);
    let other = keys().mint("someone-else", "admin", 600, None).unwrap();
    assert_eq!(app.get("/v1/clients", &other).await.status, StatusCode::OK, "buckets are per sub");
    // DSAR submissions have their own, stricter bucket.
    let dsar = keys().mint("dpo", "dsar:submit", 600, None).unwrap();
    for _ in 0..2 {
        let r = app.post("/v1/dsar", &dsar, json!({"type": "access", "subject": {"email": "a@example.com"}})).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = app.post("/v1/dsar", &dsar, json!({"type": "access", "subject": {"email": "a@example.com"}})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 20);
}

#[actix_web::test]
async fn a_revoked_token_is_refused() {
    let app = TestApp::new().await;
    let victim = keys().mint("leaky-plugin", "contacts:read", 600, Some("jti-leaked-1".into())).unwrap();
    assert_eq!(app.get("/v1/contacts", &victim).await.status, StatusCode::OK);
    let r = app.post("/v1/tokens/revoke", &token("contacts:read"), json!({"jti": "jti-leaked-1"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post("/v1/tokens/revoke", &token("tokens:manage"), json!({"jti": "jti-leaked-1"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.get("/v1/contacts", &victim).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
    // Another replica learns it from the database.
    let mut conn = app.db.conn();
    assert!(clientele::services::tokens::all(&mut conn).unwrap().contains("jti-leaked-1"));
}

#[actix_web::test]
async fn suppression_check_validates_its_input() {
    let app = TestApp::new().await;
    let t = token("contacts:read");
    assert_eq!(app.post("/v1/suppression/check", &t, json!({})).await.error_fields(), vec!["email"]);
    assert_eq!(app.post("/v1/suppression/check", &t, json!({"email": "x"})).await.error_fields(), vec!["email"]);
    assert_eq!(
        app.post("/v1/suppression/check", &token("orders:read"), json!({"email": "a@example.com"})).await.status,
        StatusCode::FORBIDDEN
    );
}
