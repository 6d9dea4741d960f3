//! Issue 16: reaching people lawfully. May-I-contact checks per channel and
//! audience, one-click unsubscribe, provenance and Art. 14 notices, and the
//! free-text guard.

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, admin, config, keys, token};

fn grant(purpose: &str) -> Value {
    json!({"purpose": purpose, "status": "granted", "channel": "web_form", "collected_at": "2026-06-01T10:00:00Z",
           "proof": {"method": "checkbox", "wording": "Yes, call me and write to me", "wording_version": "v1"}})
}

async fn contact(app: &TestApp, body: Value) -> String {
    crate::contacts::create_contact(app, body).await["id"].as_str().unwrap().to_owned()
}

/// `(allowed, blocked reasons)` of one call, as `(id or address, reason)`.
async fn check(app: &TestApp, channel: &str, purpose: &str, recipients: Value, extra: Value) -> Value {
    let mut body = json!({"channel": channel, "purpose": purpose, "recipients": recipients});
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let r = app.post("/v1/reachability/check", &token("contacts:read"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// The reason a single recipient is blocked, or "allowed".
async fn verdict(app: &TestApp, channel: &str, purpose: &str, recipient: Value) -> String {
    let out = check(app, channel, purpose, json!([recipient]), json!({})).await;
    match out["blocked"].as_array().unwrap().first() {
        Some(b) => b["reason"].as_str().unwrap().to_owned(),
        None => {
            assert_eq!(out["allowed"].as_array().unwrap().len(), 1, "{out}");
            "allowed".into()
        }
    }
}

#[actix_web::test]
async fn consumers_need_consent_professionals_need_no_objection() {
    let app = TestApp::new().await;
    let company = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let consumer = contact(&app, json!({"email": "c@example.com", "phone": "+33612345678"})).await;
    let pro =
        contact(&app, json!({"email": "p@acme.example", "phone": "+33612345679", "client_id": company["id"]})).await;
    let r = app.get(&format!("/v1/contacts/{pro}"), &admin()).await;
    assert_eq!(r.body["audience"], "professional", "default with a client");
    assert_eq!(app.get(&format!("/v1/contacts/{consumer}"), &admin()).await.body["audience"], "consumer");

    for channel in ["email", "sms", "phone"] {
        assert_eq!(
            verdict(&app, channel, "newsletter", json!({"contact_id": consumer})).await,
            "no_consent",
            "{channel}"
        );
    }
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": pro})).await, "allowed");
    assert_eq!(verdict(&app, "email", "newsletter", json!({"email": "P@Acme.Example"})).await, "allowed", "by email");
    assert_eq!(verdict(&app, "phone", "newsletter", json!({"phone": "+33612345679"})).await, "allowed", "by phone");

    // A grant lets the consumer be written to; a withdrawal stops it.
    app.post(&format!("/v1/contacts/{consumer}/consents"), &admin(), grant("newsletter")).await;
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": consumer})).await, "allowed");
    let w = json!({"purpose": "newsletter", "status": "withdrawn"});
    app.post(&format!("/v1/contacts/{consumer}/consents"), &admin(), w.clone()).await;
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": consumer})).await, "withdrawn");

    // A professional who withdraws, or objects, is blocked too.
    app.post(&format!("/v1/contacts/{pro}/consents"), &admin(), w).await;
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": pro})).await, "withdrawn");
    let other = contact(&app, json!({"email": "o@acme.example", "client_id": company["id"]})).await;
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": other})).await, "allowed");
    let d = app.post("/v1/dsar", &admin(), json!({"type": "objection", "subject": {"contact_id": other}})).await;
    let r = app.post(&format!("/v1/dsar/{}/process", d.body["id"].as_str().unwrap()), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(verdict(&app, "email", "newsletter", json!({"email": "o@acme.example"})).await, "objection");
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": other})).await, "suppressed");

    // Unknown people, and a purpose nobody declared.
    assert_eq!(verdict(&app, "email", "newsletter", json!({"email": "nobody@example.com"})).await, "unknown");
    let r = app
        .post(
            "/v1/reachability/check",
            &admin(),
            json!({"channel": "email", "purpose": "nope", "recipients": [{"email": "a@b.fr"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["purpose"]);
    let r = app
        .post("/v1/reachability/check", &admin(), json!({"channel": "email", "purpose": "newsletter", "recipients": [{"email": "a@b.fr", "phone": "+33612345678"}, {"email": "bad"}]}))
        .await;
    assert_eq!(r.error_fields(), ["recipients[0]", "recipients[1].email"], "{}", r.body);
}

#[actix_web::test]
async fn a_consumer_may_be_phoned_within_a_contract_in_progress_only() {
    let app = TestApp::new().await;
    let recent = contact(&app, json!({"phone": "+33611111111", "last_name": "Recent"})).await;
    let old = contact(&app, json!({"phone": "+33622222222", "last_name": "Old"})).await;
    let refunded = contact(&app, json!({"phone": "+33633333333", "last_name": "Refunded"})).await;
    let order = |who: &str, status: &str, days: i64| {
        json!({"contact_id": who, "status": status, "currency": "EUR", "total_cents": 1000,
               "ordered_at": (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339()})
    };
    for (who, status, days) in [(&recent, "paid", 20), (&old, "paid", 400), (&refunded, "refunded", 5)] {
        let r = app.post("/v1/orders", &admin(), order(who, status, days)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    assert_eq!(verdict(&app, "phone", "newsletter", json!({"contact_id": recent})).await, "allowed");
    assert_eq!(verdict(&app, "phone", "newsletter", json!({"contact_id": old})).await, "no_consent", "past the window");
    assert_eq!(verdict(&app, "phone", "newsletter", json!({"contact_id": refunded})).await, "no_consent");
    // The contract is no reason to write: email still needs consent, and it has no address.
    assert_eq!(verdict(&app, "sms", "newsletter", json!({"contact_id": recent})).await, "no_consent");
    assert_eq!(
        verdict(&app, "email", "newsletter", json!({"contact_id": recent})).await,
        "unknown",
        "no email on file"
    );
}

#[actix_web::test]
async fn suppressed_and_restricted_people_are_never_allowed() {
    let app = TestApp::new().await;
    let restricted = contact(&app, json!({"email": "r@example.com"})).await;
    app.post(&format!("/v1/contacts/{restricted}/consents"), &admin(), grant("newsletter")).await;
    let d = app.post("/v1/dsar", &admin(), json!({"type": "restriction", "subject": {"contact_id": restricted}})).await;
    app.post(&format!("/v1/dsar/{}/process", d.body["id"].as_str().unwrap()), &admin(), json!({})).await;
    for channel in ["email", "phone"] {
        assert_eq!(verdict(&app, channel, "newsletter", json!({"contact_id": restricted})).await, "restricted");
    }
    let erased = contact(&app, json!({"email": "gone@example.com"})).await;
    app.post(&format!("/v1/contacts/{erased}/consents"), &admin(), grant("newsletter")).await;
    let d = app.post("/v1/dsar", &admin(), json!({"type": "erasure", "subject": {"contact_id": erased}})).await;
    app.post(&format!("/v1/dsar/{}/process", d.body["id"].as_str().unwrap()), &admin(), json!({})).await;
    assert_eq!(verdict(&app, "email", "newsletter", json!({"email": "gone@example.com"})).await, "suppressed");

    // A thousand in one call, in the order asked.
    let many: Vec<Value> = (0..1000).map(|i| json!({"email": format!("x{i}@example.com")})).collect();
    let out = check(&app, "email", "newsletter", Value::from(many), json!({})).await;
    let blocked = out["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 1000);
    assert_eq!(blocked[999]["recipient"]["email"], "x999@example.com");
    let too_many: Vec<Value> = (0..1001).map(|i| json!({"email": format!("x{i}@example.com")})).collect();
    let r = app
        .post(
            "/v1/reachability/check",
            &admin(),
            json!({"channel": "email", "purpose": "newsletter", "recipients": too_many}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn links(app: &TestApp, recipients: Value) -> crate::helpers::Res {
    app.post("/v1/unsubscribe-links", &token("consents:write"), json!({"recipients": recipients})).await
}

#[actix_web::test]
async fn one_click_unsubscribe_withdraws_once_and_a_get_changes_nothing() {
    let app = TestApp::new().await;
    let id = contact(&app, json!({"email": "u@example.com"})).await;
    app.post(&format!("/v1/contacts/{id}/consents"), &admin(), grant("newsletter")).await;
    let r = links(&app, json!([{"contact_id": id, "purpose": "newsletter"}])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = &r.body["data"][0];
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://privacy.example.com/u/"), "{url}");
    assert_eq!(link["headers"]["List-Unsubscribe"], format!("<{url}>"));
    assert_eq!(link["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    assert!(!url.contains(&id) && !url.contains("u@example.com"), "no personal data in the URL");
    let again = links(&app, json!([{"contact_id": id, "purpose": "newsletter"}])).await;
    assert_eq!(again.body["data"][0]["url"], url, "idempotent");
    let path = url.trim_start_matches("https://privacy.example.com").to_owned();
    let hashes: Vec<Vec<u8>> = {
        use clientele::db::schema::unsubscribe_links::dsl;
        dsl::unsubscribe_links.select(dsl::token_hash).load(&mut app.db.conn()).unwrap()
    };
    let token_part = path.rsplit('/').next().unwrap();
    assert!(hashes.len() == 1 && hashes[0] != token_part.as_bytes(), "stored hashed");

    // A mail scanner fetches the link: nothing changes.
    let page = app.send(Method::GET, &path, None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.raw).contains("<form method=\"post\">"));
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": id})).await, "allowed");

    // The mailbox provider POSTs the one-click body (RFC 8058).
    let one_click = |p: &str| {
        actix_web::test::TestRequest::post()
            .uri(p)
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("user-agent", "Gmail one-click"))
            .set_payload("List-Unsubscribe=One-Click")
            .to_request()
    };
    let r = app.raw(one_click(&path)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": id})).await, "withdrawn");
    let history = app.get(&format!("/v1/contacts/{id}/consents/history"), &admin()).await.body;
    let events = history["data"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{history}");
    assert_eq!(events[1]["status"], "withdrawn");
    assert_eq!(events[1]["channel"], "email");
    assert_eq!(events[1]["proof"]["method"], "one_click");
    assert_eq!(events[1]["proof"]["user_agent"], "Gmail one-click");
    let second = app.raw(one_click(&path)).await;
    assert_eq!((second.status, &second.raw), (r.status, &r.raw), "the same answer");
    let history = app.get(&format!("/v1/contacts/{id}/consents/history"), &admin()).await.body;
    assert_eq!(history["data"].as_array().unwrap().len(), 2, "a second POST changes nothing");
    app.settle().await;
    let feed = app.get("/v1/events?type=consent.withdrawn", &admin()).await.body;
    assert_eq!(feed["data"].as_array().unwrap().len(), 1, "{feed}");
    let audit = app.get(&format!("/v1/audit?action=consent.withdrawn&resource_id={id}"), &admin()).await.body;
    assert_eq!(audit["data"][0]["actor"], "data-subject:one-click", "{audit}");

    // Unknown tokens: the same page, nothing else.
    let unknown = app.raw(one_click(&format!("/u/{}", "Z".repeat(43)))).await;
    assert_eq!((unknown.status, &unknown.raw), (r.status, &r.raw));
    let garbage = app.raw(one_click("/u/not-a-token")).await;
    assert_eq!(garbage.status, StatusCode::OK);

    // Erasure removes the person's links.
    let d = app.post("/v1/dsar", &admin(), json!({"type": "erasure", "subject": {"contact_id": id}})).await;
    app.post(&format!("/v1/dsar/{}/process", d.body["id"].as_str().unwrap()), &admin(), json!({})).await;
    let left: i64 = {
        use clientele::db::schema::unsubscribe_links::dsl;
        dsl::unsubscribe_links.count().get_result(&mut app.db.conn()).unwrap()
    };
    assert_eq!(left, 0);
    let after = app.raw(one_click(&path)).await;
    assert_eq!((after.status, &after.raw), (r.status, &r.raw));

    let r = links(&app, json!([{"contact_id": uuid::Uuid::now_v7(), "purpose": "nope"}])).await;
    assert_eq!(r.error_fields(), ["recipients[0].contact_id", "recipients[0].purpose"]);
}

#[actix_web::test]
async fn a_bought_contact_is_blocked_until_its_notice_is_recorded() {
    let app = TestApp::new().await;
    let acquired = "2026-11-15T09:00:00Z";
    let bought = contact(
        &app,
        json!({"email": "lead@example.com", "client_id": crate::clients::create_client(&app, json!({"name": "B"})).await["id"],
               "provenance": {"source_type": "purchase", "vendor": {"name": "Leads SAS", "siren": "732829320"},
                              "acquired_at": acquired, "vendor_proof_ref": "contract-2026-17"}}),
    )
    .await;
    let c = app.get(&format!("/v1/contacts/{bought}"), &admin()).await.body;
    assert_eq!(c["provenance"]["vendor"]["name"], "Leads SAS");
    assert_eq!(c["art14_notice_due_at"], "2026-12-15T09:00:00Z", "a month after acquisition");
    assert!(c["art14_notice_sent_at"].is_null());
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": bought})).await, "art14_notice_pending");
    let out = check(&app, "email", "newsletter", json!([{"contact_id": bought}]), json!({"with_notice": true})).await;
    assert_eq!(out["allowed"].as_array().unwrap().len(), 1, "a message that carries the notice: {out}");

    let due = app.get("/v1/notices/due", &token("contacts:read")).await;
    assert_eq!(due.body["data"].as_array().unwrap().len(), 1, "{}", due.body);
    assert_eq!(due.body["data"][0]["contact_id"], bought);
    assert_eq!(due.body["data"][0]["provenance"]["source_type"], "purchase");

    let r = app
        .post(
            &format!("/v1/contacts/{bought}/notices"),
            &token("contacts:write"),
            json!({"channel": "email", "template_version": "art14-v2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(verdict(&app, "email", "newsletter", json!({"contact_id": bought})).await, "allowed");
    assert_eq!(app.get("/v1/notices/due", &admin()).await.body["data"].as_array().unwrap().len(), 0);

    // A vendor is named; a contact from a form owes nothing.
    let r = app
        .post("/v1/contacts", &admin(), json!({"email": "x@example.com", "provenance": {"source_type": "partner"}}))
        .await;
    assert_eq!(r.error_fields(), ["provenance.vendor"]);
    let own = contact(&app, json!({"email": "form@example.com", "provenance": {"source_type": "form"}})).await;
    assert!(app.get(&format!("/v1/contacts/{own}"), &admin()).await.body["art14_notice_due_at"].is_null());

    // The person cannot rewrite where the data came from; their access export says it.
    let r = app
        .post("/v1/dsar", &admin(), json!({"type": "rectification", "subject": {"contact_id": bought}, "changes": {"provenance": {"source_type": "form"}}}))
        .await;
    assert_eq!(r.error_fields(), ["changes.provenance"]);
    let d = app.post("/v1/dsar", &admin(), json!({"type": "access", "subject": {"contact_id": bought}})).await;
    let did = d.body["id"].as_str().unwrap();
    app.post(&format!("/v1/dsar/{did}/process"), &admin(), json!({})).await;
    let export = app.get(&format!("/v1/dsar/{did}/export"), &admin()).await.body;
    assert_eq!(export["source"]["provenance"]["vendor"]["name"], "Leads SAS", "Art. 15(1)(g)");
}

const REFUSED: &[(&str, &str)] = &[
    ("health", "Patient sous chimiothérapie, rappeler après l'hôpital de jour"),
    ("health", "Elle est enceinte, livraison à reporter"),
    ("health", "He is diabetic and asked for sugar-free samples"),
    ("health", "Customer had a heart attack last month"),
    ("religion", "Client musulman, ne pas appeler pendant le ramadan"),
    ("religion", "Jewish customer, prefers kosher catering"),
    ("religion", "Catholique pratiquant, éviter le dimanche"),
    ("offences", "A un casier judiciaire"),
    ("trade_union", "Délégué syndical CGT dans son entreprise"),
    ("political_opinion", "Votes for the far right"),
    ("sex_life", "Son mari et lui sont homosexuels"),
];

fn nir() -> String {
    let n: u64 = 2_840_375_120_015;
    format!("2 84 03 75 120 015 {:02}", 97 - n % 97)
}

#[actix_web::test]
async fn the_guard_refuses_special_data_in_both_languages_and_passes_ordinary_notes() {
    let app = TestApp::new().await;
    let id = contact(&app, json!({"email": "g@example.com"})).await;
    let path = format!("/v1/contacts/{id}/interactions");
    let note = |summary: &str| json!({"kind": "call", "direction": "outbound", "summary": summary});
    let nir = nir();
    let mut cases: Vec<(&str, String)> = REFUSED.iter().map(|(c, t)| (*c, t.to_string())).collect();
    cases.push(("nir", format!("Numéro de sécu {nir}")));
    for (category, text) in &cases {
        let r = app.post(&path, &admin(), note(text)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{text}: {}", r.body);
        assert_eq!(r.body["errors"][0]["field"], "summary");
        assert_eq!(r.body["errors"][0]["code"], "sensitive_data");
        let msg = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains(category), "{text}: {msg}");
        assert!(!r.body.to_string().contains(text.as_str()), "the text is never echoed");
    }
    // The same guard on custom fields (clients and contacts) and order lines, in batches too.
    let r = app
        .post(
            "/v1/contacts",
            &admin(),
            json!({"email": "h@example.com", "custom_fields": {"note": "sclérose en plaques"}}),
        )
        .await;
    assert_eq!(r.error_fields(), ["custom_fields.note"]);
    let r = app
        .post(
            "/v1/clients",
            &admin(),
            json!({"name": "X", "custom_fields": {"contact": "syndiqué FO, trade union rep"}}),
        )
        .await;
    assert_eq!(r.error_fields(), ["custom_fields.contact"]);
    let order = json!({"contact_id": id, "status": "paid", "currency": "EUR", "total_cents": 100,
                       "lines": [{"name": "Tensiomètre", "quantity": 1, "unit_price_cents": 100}, {"name": "Insuline pour M. X", "quantity": 1, "unit_price_cents": 0}]});
    let r = app.post("/v1/orders", &admin(), order.clone()).await;
    assert_eq!(r.error_fields(), ["lines[1].name"], "{}", r.body);
    let r = app.post("/v1/orders/batch", &admin(), json!({"orders": [order]})).await;
    assert!(r.body.to_string().contains("sensitive_data"), "{}", r.body);

    // The corpus of ordinary sales notes passes.
    let corpus = include_str!("ordinary_notes.txt");
    for line in corpus.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let r = app.post(&path, &admin(), note(line)).await;
        assert_eq!(r.status, StatusCode::CREATED, "a false positive on {line:?}: {}", r.body);
    }
}

#[actix_web::test]
async fn in_flag_mode_special_text_is_kept_and_listed_for_review() {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.sensitive_text = clientele::services::sensitive::Mode::Flag;
    let app = TestApp::with_state(db, clientele::state::AppState::new(cfg, keys())).await;
    let id = contact(&app, json!({"email": "f@example.com", "custom_fields": {"remark": "client catholique"}})).await;
    let r = app
        .post(
            &format!("/v1/contacts/{id}/interactions"),
            &admin(),
            json!({"kind": "call", "direction": "outbound", "summary": "Sortie d'hôpital, hospitalisé 3 jours"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let interaction = r.body["id"].as_str().unwrap().to_owned();
    let flags = app.get("/v1/review/sensitive", &token("audit:read")).await;
    assert_eq!(flags.status, StatusCode::OK);
    let got: Vec<(String, String, String)> = flags.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["resource_id"].as_str().unwrap().into(),
                f["field"].as_str().unwrap().into(),
                f["category"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (id.clone(), "custom_fields.remark".into(), "religion".into()),
            (interaction, "summary".into(), "health".into())
        ]
    );
    assert!(!flags.body.to_string().contains("catholique"), "never the text");
}
