//! Issue 18: identity of data subjects. A `dsar:submit` request waits for the
//! person to follow a one-time link sent to the email on file (a real SMTP
//! server here), the same answer for an unknown email, expiry, partners that
//! vouch, and a second person's approval of erasures.

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::smtp::SmtpServer;
use crate::helpers::{TestApp, TestDb, admin, config, keys, token};

async fn submit(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/v1/dsar", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

/// The `dsar.verification_requested` events of the feed, as the controller's mailer reads them.
pub async fn verification_events(app: &TestApp) -> Vec<Value> {
    app.settle().await;
    let r = app.get("/v1/events?type=dsar.verification_requested&limit=200", &token("dsar:manage")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

/// The token of request `id`'s link, from its event (no SMTP configured).
pub async fn link_token(app: &TestApp, id: &str) -> String {
    let events = verification_events(app).await;
    let e = events.iter().find(|e| e["resource_id"] == id).unwrap_or_else(|| panic!("no link event for {id}"));
    let url = e["data"]["verification_url"].as_str().unwrap();
    url.rsplit('/').next().unwrap().to_owned()
}

async fn follow(app: &TestApp, token: &str) -> crate::helpers::Res {
    app.send(Method::POST, &format!("/v1/dsar/verify/{token}"), None, None, &[]).await
}

/// Verifies request `id` as its subject would, through the link of its event.
pub async fn verify_by_link(app: &TestApp, id: &str) {
    let t = link_token(app, id).await;
    let r = follow(app, &t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn set(app: &TestApp, sql: &str, id: &str) {
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(id).unwrap())
        .execute(&mut app.db.conn())
        .unwrap();
}

#[actix_web::test]
async fn a_submitted_request_waits_for_the_person_and_its_link_works_once() {
    let app = TestApp::new().await;
    let contact =
        crate::contacts::create_contact(&app, json!({"email": "Ada@Example.com", "last_name": "Lovelace"})).await;
    let shop = token("dsar:submit");
    let d = submit(&app, &shop, json!({"type": "erasure", "subject": {"email": "ada@example.com"}})).await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["status"], "identity_unverified", "{d}");
    assert!(d["verification"].is_null() && d["verified_at"].is_null());
    assert!(d["expires_at"].as_str().is_some(), "{d}");
    let r = app.post(&format!("/v1/dsar/{id}/process"), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "nothing is done for an unverified request: {}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("confirmed"), "{}", r.body);

    // The controller's mailer gets the link, and the contact to write to; never an address.
    let events = verification_events(&app).await;
    assert_eq!(events.len(), 1);
    let e = &events[0]["data"];
    assert_eq!(e["contact_id"], contact["id"]);
    assert_eq!(e["delivery"], "event");
    let url = e["verification_url"].as_str().unwrap();
    assert!(url.starts_with("https://privacy.example.com/v1/dsar/verify/"), "{url}");
    assert!(!events[0].to_string().to_lowercase().contains("ada@example.com"), "{}", events[0]);
    let t = url.rsplit('/').next().unwrap();
    assert!(t.len() >= 22, "at least 128 bits: {t}");
    let stored: Vec<Option<Vec<u8>>> = {
        use clientele::db::schema::dsar_requests::dsl;
        dsl::dsar_requests.select(dsl::verify_token_hash).load(&mut app.db.conn()).unwrap()
    };
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].as_deref(), Some(t.as_bytes()), "stored hashed");
    assert_eq!(stored[0].as_ref().map(Vec::len), Some(32));

    // Opening the link (a mail scanner does) changes nothing.
    let page = app.send(Method::GET, &format!("/v1/dsar/verify/{t}"), None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.raw).contains("<form method=\"post\">"));
    assert!(page.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(app.get(&format!("/v1/dsar/{id}"), &admin()).await.body["status"], "identity_unverified");
    let other = app.send(Method::GET, "/v1/dsar/verify/not-a-token", None, None, &[]).await;
    assert_eq!(other.raw, page.raw, "the same page for any token");

    // Confirming it starts the clock: due one month from now.
    let before = chrono::Utc::now();
    let r = follow(&app, t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "received");
    let got = app.get(&format!("/v1/dsar/{id}"), &admin()).await.body;
    assert_eq!(got["status"], "received");
    assert_eq!(got["verification"], "email_link");
    let verified: chrono::DateTime<chrono::Utc> = got["verified_at"].as_str().unwrap().parse().unwrap();
    assert!(verified >= before - chrono::Duration::seconds(1));
    let due: chrono::DateTime<chrono::Utc> = got["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, clientele::services::dsar::one_month_after(verified));

    // Once only; a second use is refused as an unknown link is.
    let again = follow(&app, t).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    let unknown = follow(&app, &"A".repeat(43)).await;
    assert_eq!((unknown.status, &unknown.body["detail"]), (again.status, &again.body["detail"]));
    assert_eq!(follow(&app, "garbage").await.status, StatusCode::NOT_FOUND);
    let html = app.send(Method::POST, &format!("/v1/dsar/verify/{t}"), None, None, &[("accept", "text/html")]).await;
    assert_eq!(html.status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&html.raw).contains("not valid"));

    let r = app.post(&format!("/v1/dsar/{id}/process"), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    // Erasure reached the link's event too: it named the contact.
    app.settle().await;
    let events = verification_events(&app).await;
    assert!(events.iter().all(|e| e["data"].is_null()), "{events:?}");
}

#[actix_web::test]
async fn the_answer_is_the_same_whether_or_not_the_email_is_known() {
    let app = TestApp::new().await;
    crate::contacts::create_contact(&app, json!({"email": "known@example.com"})).await;
    let shop = token("dsar:submit");
    let known = submit(&app, &shop, json!({"type": "access", "subject": {"email": "known@example.com"}})).await;
    let unknown = submit(&app, &shop, json!({"type": "access", "subject": {"email": "nobody@example.com"}})).await;
    let shape = |v: &Value| {
        let mut v = v.clone();
        for k in ["id", "received_at", "due_at", "expires_at", "subject"] {
            assert!(v.get(k).is_some(), "{k} in {v}");
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(shape(&known), shape(&unknown));
    let by_id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (k, u) = (by_id(&known), by_id(&unknown));
    let view_k = app.get(&format!("/v1/dsar/{k}"), &shop).await.body;
    let view_u = app.get(&format!("/v1/dsar/{u}"), &shop).await.body;
    assert_eq!(shape_without(&view_k), shape_without(&view_u));
    // Only the known subject gets a link.
    let events = verification_events(&app).await;
    assert_eq!(events.iter().map(|e| e["resource_id"].as_str().unwrap()).collect::<Vec<_>>(), [k.as_str()]);
    // By contact id, an unknown id answers the same too.
    let r = submit(&app, &shop, json!({"type": "access", "subject": {"contact_id": uuid::Uuid::now_v7()}})).await;
    assert_eq!(r["status"], "identity_unverified");
}

fn shape_without(v: &Value) -> Value {
    let mut v = v.clone();
    for k in ["id", "received_at", "due_at", "expires_at"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

async fn app_with_smtp(smtp: &SmtpServer) -> TestApp {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.mail = Some(clientele::config::MailConfig {
        url: smtp.url().into(),
        from: "Acme SAS <privacy@acme.example>".into(),
        template: clientele::services::mailer::DEFAULT_TEMPLATE.into(),
    });
    TestApp::with_state(db, clientele::state::AppState::new(cfg, keys())).await
}

async fn deliver(app: &TestApp) -> usize {
    clientele::services::identity::deliver_due(&app.state).await.unwrap()
}

#[actix_web::test]
async fn the_mail_arrives_by_smtp_and_its_link_verifies_once() {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    crate::contacts::create_contact(
        &app,
        json!({"email": "grace@example.com", "last_name": "Hopper", "first_name": "Grace"}),
    )
    .await;
    let shop = token("dsar:submit");
    let d = submit(&app, &shop, json!({"type": "erasure", "subject": {"email": "grace@example.com"}})).await;
    let id = d["id"].as_str().unwrap().to_owned();
    let stranger = submit(&app, &shop, json!({"type": "erasure", "subject": {"email": "stranger@example.com"}})).await;
    assert_eq!(stranger["status"], d["status"]);

    assert_eq!(deliver(&app).await, 1, "one message: none for the unknown email");
    assert_eq!(deliver(&app).await, 0, "sent once");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.header("X-RcptTo").unwrap().contains("grace@example.com"), "{}", m.raw);
    assert!(m.header("From").unwrap().contains("privacy@acme.example"));
    assert!(m.header("Subject").unwrap().contains("Acme SAS"), "{}", m.raw);
    let body = m.body();
    assert!(body.contains("erasure"), "{body}");
    for personal in ["Hopper", "Grace", "grace@example.com"] {
        assert!(!body.contains(personal), "the body carries the link and the type only: {body}");
    }
    let link = body.lines().find(|l| l.contains("/v1/dsar/verify/")).unwrap().trim().to_owned();
    assert!(link.starts_with("https://privacy.example.com/v1/dsar/verify/"), "{link}");
    let t = link.rsplit('/').next().unwrap().to_owned();

    // With SMTP, the event tells the controller a mail went, without the link.
    let events = verification_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["delivery"], "smtp");
    assert!(events[0]["data"]["verification_url"].is_null());

    // The person presses "Confirm" on the page: a browser form POST, answered with a page.
    let form = actix_web::test::TestRequest::post()
        .uri(&format!("/v1/dsar/verify/{t}"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("accept", "text/html,application/xhtml+xml"))
        .set_payload("")
        .to_request();
    let r = app.raw(form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.raw));
    assert!(String::from_utf8_lossy(&r.raw).contains("confirmed"));
    assert_eq!(app.get(&format!("/v1/dsar/{id}"), &admin()).await.body["status"], "received");
    assert_eq!(follow(&app, &t).await.status, StatusCode::NOT_FOUND, "a second use is refused");

    // An expired link is refused, and verifies nothing.
    crate::contacts::create_contact(&app, json!({"email": "late@example.com"})).await;
    let late = submit(&app, &shop, json!({"type": "access", "subject": {"email": "late@example.com"}})).await;
    let late_id = late["id"].as_str().unwrap();
    assert_eq!(deliver(&app).await, 1);
    let body = smtp.messages().iter().find(|m| m.raw.contains("late@example.com")).unwrap().body();
    let late_t =
        body.lines().find(|l| l.contains("/v1/dsar/verify/")).unwrap().trim().rsplit('/').next().unwrap().to_owned();
    set(&app, "UPDATE dsar_requests SET verify_expires_at = now() - interval '1 second' WHERE id = $1", late_id);
    let r = follow(&app, &late_t).await;
    assert_eq!(r.status, StatusCode::GONE, "{}", r.body);
    assert_eq!(app.get(&format!("/v1/dsar/{late_id}"), &admin()).await.body["status"], "identity_unverified");
}

#[actix_web::test]
async fn a_mail_the_server_cannot_take_is_retried_then_given_up() {
    use clientele::services::identity::MAIL_ATTEMPTS;
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.mail = Some(clientele::config::MailConfig {
        url: format!("smtp://127.0.0.1:{dead}").into(),
        from: "privacy@acme.example".into(),
        template: clientele::services::mailer::DEFAULT_TEMPLATE.into(),
    });
    let app = TestApp::with_state(db, clientele::state::AppState::new(cfg, keys())).await;
    crate::contacts::create_contact(&app, json!({"email": "retry@example.com"})).await;
    let d =
        submit(&app, &token("dsar:submit"), json!({"type": "access", "subject": {"email": "retry@example.com"}})).await;
    let id = d["id"].as_str().unwrap();
    for attempt in 1..=MAIL_ATTEMPTS {
        assert_eq!(deliver(&app).await, 0);
        let (state, attempts): (Option<String>, i32) = {
            use clientele::db::schema::dsar_requests::dsl;
            dsl::dsar_requests.select((dsl::verify_mail, dsl::verify_mail_attempts)).first(&mut app.db.conn()).unwrap()
        };
        assert_eq!(attempts, attempt);
        let expected = if attempt < MAIL_ATTEMPTS { "pending" } else { "failed" };
        assert_eq!(state.as_deref(), Some(expected), "after attempt {attempt}");
        // Move the retry's clock instead of waiting for the back-off.
        set(&app, "UPDATE dsar_requests SET verify_mail_next_at = now() WHERE id = $1 AND verify_mail = 'pending'", id);
    }
}

#[actix_web::test]
async fn unverified_requests_expire_after_30_days() {
    let app = TestApp::new().await;
    crate::contacts::create_contact(&app, json!({"email": "old@example.com"})).await;
    let d =
        submit(&app, &token("dsar:submit"), json!({"type": "access", "subject": {"email": "old@example.com"}})).await;
    let id = d["id"].as_str().unwrap();
    let t = link_token(&app, id).await;
    let expire = |days: i64| {
        let now = chrono::Utc::now() + chrono::Duration::days(days);
        clientele::services::identity::expire_unverified(&mut app.db.conn(), now, clientele::services::dsar::status_doc)
            .unwrap()
    };
    assert_eq!(expire(29), 0, "not yet");
    assert_eq!(expire(31), 1);
    assert_eq!(expire(31), 0, "once");
    let got = app.get(&format!("/v1/dsar/{id}"), &admin()).await.body;
    assert_eq!(got["status"], "expired", "{got}");
    assert!(got["closed_at"].as_str().is_some());
    assert_eq!(follow(&app, &t).await.status, StatusCode::NOT_FOUND, "its link died with it");
    app.settle().await;
    let r = app.get("/v1/events?type=dsar.expired", &token("dsar:manage")).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.body);
    let listed = app.get("/v1/dsar?status=expired", &admin()).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1, "{}", listed.body);
}

#[actix_web::test]
async fn a_partner_that_authenticated_the_person_skips_the_link_and_the_audit_says_so() {
    let app = TestApp::new().await;
    crate::contacts::create_contact(&app, json!({"email": "p@example.com"})).await;
    let partner = keys().mint("consent-platform", "dsar:submit_verified", 600, None).unwrap();
    let d = submit(&app, &partner, json!({"type": "access", "subject": {"email": "p@example.com"}})).await;
    assert_eq!((d["status"].as_str(), d["verification"].as_str()), (Some("received"), Some("partner")), "{d}");
    let id = d["id"].as_str().unwrap();
    // The partner follows its own requests, as a submitter does.
    assert_eq!(app.get(&format!("/v1/dsar/{id}"), &partner).await.status, StatusCode::OK);
    assert!(verification_events(&app).await.is_empty(), "no link for a vouched request");
    let audit = app.get("/v1/audit?action=dsar.identity_vouched", &token("audit:read")).await;
    let entries = audit.body["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert_eq!(entries[0]["actor"], "consent-platform");
    assert_eq!(entries[0]["resource_id"], id);

    let dpo = submit(&app, &admin(), json!({"type": "access", "subject": {"email": "p@example.com"}})).await;
    assert_eq!(dpo["verification"], "controller");
    let r = app.post(&format!("/v1/dsar/{id}/process"), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[actix_web::test]
async fn an_erasure_needs_a_second_persons_approval_when_configured() {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.dsar_erasure_approval = true;
    let app = TestApp::with_state(db, clientele::state::AppState::new(cfg, keys())).await;
    crate::contacts::create_contact(&app, json!({"email": "e@example.com"})).await;
    let dpo = |sub: &str| keys().mint(sub, "dsar:manage", 600, None).unwrap();
    let d = submit(&app, &dpo("dpo-1"), json!({"type": "erasure", "subject": {"email": "e@example.com"}})).await;
    let id = d["id"].as_str().unwrap();
    let process = |sub: &'static str| {
        let path = format!("/v1/dsar/{id}/process");
        let t = dpo(sub);
        let app = &app;
        async move { app.post(&path, &t, json!({})).await }
    };
    let approve = |sub: &'static str| {
        let path = format!("/v1/dsar/{id}/approve");
        let t = dpo(sub);
        let app = &app;
        async move { app.post(&path, &t, json!({})).await }
    };
    let r = process("dpo-1").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["detail"].as_str().unwrap().contains("approve"), "{}", r.body);
    assert_eq!(approve("dpo-1").await.status, StatusCode::CONFLICT, "the submitter cannot approve its own");
    let r = approve("dpo-2").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["approved_by"], "dpo-2");
    assert_eq!(approve("dpo-3").await.status, StatusCode::CONFLICT, "approved once");
    assert_eq!(process("dpo-2").await.status, StatusCode::CONFLICT, "the approver cannot also process");
    let r = process("dpo-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "completed");

    // Other rights need no approval; an approval of one is refused.
    let a = submit(&app, &dpo("dpo-1"), json!({"type": "access", "subject": {"email": "x@example.com"}})).await;
    let aid = a["id"].as_str().unwrap();
    assert_eq!(
        app.post(&format!("/v1/dsar/{aid}/approve"), &dpo("dpo-2"), json!({})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(app.post(&format!("/v1/dsar/{aid}/process"), &dpo("dpo-1"), json!({})).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn verification_links_are_rate_limited_by_address() {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.public_rate_per_min = 2;
    let app = TestApp::with_state(db, clientele::state::AppState::new(cfg, keys())).await;
    let t = "B".repeat(43);
    let peer = |ip: &str| {
        actix_web::test::TestRequest::post()
            .uri(&format!("/v1/dsar/verify/{t}"))
            .peer_addr(format!("{ip}:40000").parse().unwrap())
            .to_request()
    };
    assert_eq!(app.raw(peer("203.0.113.9")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.raw(peer("203.0.113.9")).await.status, StatusCode::NOT_FOUND);
    let r = app.raw(peer("203.0.113.9")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.raw(peer("198.51.100.4")).await.status, StatusCode::NOT_FOUND, "another address has its own bucket");
}
