//! Issue 3: consents, data-subject requests, erasure, audit, register, retention.

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin, token};

fn grant(purpose: &str) -> Value {
    json!({"purpose": purpose, "status": "granted", "channel": "web_form", "collected_at": "2026-06-01T10:00:00Z",
           "proof": {"method": "checkbox", "wording": "Yes, send me the newsletter", "wording_version": "v3",
                     "ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "form_url": "https://shop.example/signup"}})
}

async fn contact(app: &TestApp, body: Value) -> String {
    crate::contacts::create_contact(app, body).await["id"].as_str().unwrap().to_owned()
}

async fn submit(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/v1/dsar", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn process(app: &TestApp, id: &str) -> Value {
    let r = app.post(&format!("/v1/dsar/{id}/process"), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    r.body
}

#[actix_web::test]
async fn consent_ledger_demands_proof_and_drives_segments() {
    let app = TestApp::new().await;
    let t = admin();
    let id = contact(&app, json!({"email": "c@example.com"})).await;
    let path = format!("/v1/contacts/{id}/consents");

    let r = app.post(&path, &t, json!({"purpose": "newsletter", "status": "granted"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a grant without proof is refused");
    let fields = r.error_fields();
    for f in ["collected_at", "channel", "proof"] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }
    let mut no_wording = grant("newsletter");
    no_wording["proof"].as_object_mut().unwrap().remove("wording");
    assert_eq!(app.post(&path, &t, no_wording).await.error_fields(), vec!["proof.wording"]);
    for method in ["pre_checked", "terms_acceptance"] {
        let mut g = grant("newsletter");
        g["proof"]["method"] = json!(method);
        let r = app.post(&path, &t, g).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["errors"][0]["code"], "not_consent");
    }
    assert_eq!(app.post(&path, &t, grant("no_such_purpose")).await.error_fields(), vec!["purpose"]);

    let r = app.post(&path, &t, grant("newsletter")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["proof"]["wording_version"], "v3");
    app.post(&path, &t, grant("sms_marketing")).await;
    let segment = app.get("/v1/contacts?consent=newsletter", &t).await;
    assert_eq!(segment.body["data"].as_array().unwrap().len(), 1);

    // Withdrawal is one call, and leaves the segment.
    let r = app.post(&path, &t, json!({"purpose": "newsletter", "status": "withdrawn"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.get("/v1/contacts?consent=newsletter", &t).await.body["data"].as_array().unwrap().len(), 0);
    assert_eq!(app.get("/v1/contacts?consent=sms_marketing", &t).await.body["data"].as_array().unwrap().len(), 1);
    let current = app.get(&path, &t).await.body;
    let states: Vec<(String, String)> = current["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["purpose"].as_str().unwrap().into(), e["status"].as_str().unwrap().into()))
        .collect();
    assert_eq!(states, [("newsletter".into(), "withdrawn".into()), ("sms_marketing".into(), "granted".into())]);
    assert_eq!(app.get(&format!("{path}/history"), &t).await.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(app.get(&path, &token("contacts:read")).await.status, StatusCode::FORBIDDEN);

    // The ledger is append-only in the database too.
    let mut conn = app.db.conn();
    let err = diesel::sql_query("UPDATE consent_events SET status = 'granted'").execute(&mut conn);
    assert!(err.is_err(), "consent events cannot be updated");
}

#[actix_web::test]
async fn purposes_are_seeded_and_editable_with_register_write() {
    let app = TestApp::new().await;
    let r = app.get("/v1/purposes", &token("register:read")).await;
    let keys: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    for k in ["email_marketing", "newsletter", "partner_sharing", "phone_prospecting", "profiling", "sms_marketing"] {
        assert!(keys.contains(&k), "{k}");
    }
    let body = json!({"key": "webinars", "description": "Webinar invitations", "lawful_basis": "consent", "retention_days": 730});
    assert_eq!(app.post("/v1/purposes", &token("register:read"), body.clone()).await.status, StatusCode::FORBIDDEN);
    let r = app.post("/v1/purposes", &token("register:write"), body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.post("/v1/purposes", &token("register:write"), body).await.status, StatusCode::CONFLICT);
    let r = app.patch("/v1/purposes/webinars", &token("register:write"), json!({"retention_days": 365})).await;
    assert_eq!(r.body["retention_days"], 365);
    assert_eq!(r.body["version"], 2);
    let r = app.patch("/v1/purposes/webinars", &token("register:write"), json!({"key": "other"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn due_dates_follow_the_calendar() {
    use chrono::{TimeZone, Utc};
    use clientele::services::dsar::one_month_after;
    let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).unwrap();
    assert_eq!(one_month_after(at(2026, 1, 15)), at(2026, 2, 15));
    assert_eq!(one_month_after(at(2026, 1, 31)), at(2026, 2, 28));
    assert_eq!(one_month_after(at(2028, 1, 31)), at(2028, 2, 29));
    assert_eq!(one_month_after(at(2026, 12, 31)), at(2027, 1, 31));
}

#[actix_web::test]
async fn lifecycle_extend_once_reject_with_notice_and_closed_requests_stay_closed() {
    let app = TestApp::new().await;
    let d = submit(&app, &admin(), json!({"type": "access", "subject": {"email": "nobody@example.com"}})).await;
    assert_eq!(d["status"], "received");
    assert_eq!(d["requester"], "tester");
    let received = chrono::DateTime::parse_from_rfc3339(d["received_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(d["due_at"].as_str().unwrap()).unwrap();
    assert!((28..=31).contains(&(due - received).num_days()));
    let id = d["id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/v1/dsar/{id}/extend"), &admin(), json!({})).await.error_fields(), vec!["reason"]);
    let r = app.post(&format!("/v1/dsar/{id}/extend"), &admin(), json!({"reason": "complex request"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let extended = chrono::DateTime::parse_from_rfc3339(r.body["due_at"].as_str().unwrap()).unwrap();
    assert!((89..=92).contains(&(extended - received).num_days()));
    let r = app.post(&format!("/v1/dsar/{id}/extend"), &admin(), json!({"reason": "again"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "only once");

    let other = submit(&app, &admin(), json!({"type": "erasure", "subject": {"email": "x@example.com"}})).await;
    let oid = other["id"].as_str().unwrap();
    let r = app.post(&format!("/v1/dsar/{oid}/reject"), &admin(), json!({"reason": "identity not verified"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "rejected");
    assert!(r.body["complaint_notice"].as_str().unwrap().contains("supervisory authority"));
    assert_eq!(app.post(&format!("/v1/dsar/{oid}/process"), &admin(), json!({})).await.status, StatusCode::CONFLICT);

    let missing = app.post("/v1/dsar", &admin(), json!({})).await;
    assert!(missing.error_fields().contains(&"type".to_owned()), "the API's field name, not the Rust one");
    let bad = app.post("/v1/dsar", &admin(), json!({"type": "erasure", "subject": {}})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app.post("/v1/dsar", &admin(), json!({"type": "rectification", "subject": {"email": "a@example.com"}, "changes": {"email": "nope", "shoe_size": 42}})).await;
    let fields = bad.error_fields();
    assert!(fields.contains(&"changes.shoe_size".to_owned()), "{fields:?}");
}

#[actix_web::test]
async fn unknown_subject_completes_with_no_data_held() {
    let app = TestApp::new().await;
    let d = submit(&app, &admin(), json!({"type": "access", "subject": {"email": "ghost@example.com"}})).await;
    let done = process(&app, d["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["data_held"], false);
    let export = app.get(&format!("/v1/dsar/{}/export", d["id"].as_str().unwrap()), &admin()).await;
    assert_eq!(export.body["data_held"], false);
}

#[actix_web::test]
async fn submitter_sees_only_its_own_status_and_never_exports() {
    let app = TestApp::new().await;
    let shop_a = clientele::auth::JwtKeys::from_secret(crate::helpers::SECRET, "clientele", "clientele").unwrap();
    let a = shop_a.mint("shop-a", "dsar:submit", 600, None).unwrap();
    let b = shop_a.mint("shop-b", "dsar:submit", 600, None).unwrap();
    contact(&app, json!({"email": "subject@example.com", "last_name": "Subject"})).await;
    let mine = submit(
        &app,
        &a,
        json!({"type": "access", "subject": {"email": "subject@example.com"}, "requested_by": "Shop A support"}),
    )
    .await;
    assert_eq!(mine["subject"]["email"], "subject@example.com", "the 201 answer echoes what was sent");
    let id = mine["id"].as_str().unwrap();
    let r = app.get(&format!("/v1/dsar/{id}"), &a).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("subject").is_none() && r.body.get("requested_by").is_none());
    assert_eq!(app.get(&format!("/v1/dsar/{id}"), &b).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/dsar", &b).await.body["data"].as_array().unwrap().len(), 0);
    assert_eq!(app.get("/v1/dsar", &a).await.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&format!("/v1/dsar/{id}"), &a).await.body["status"], "identity_unverified");
    crate::identity::verify_by_link(&app, id).await;
    assert_eq!(app.get(&format!("/v1/dsar/{id}"), &a).await.body["status"], "received");
    process(&app, id).await;
    let r = app.get(&format!("/v1/dsar/{id}"), &a).await;
    assert_eq!(r.body["status"], "completed");
    assert!(r.body.get("result").is_none(), "no personal data, not even counts");
    assert_eq!(app.get(&format!("/v1/dsar/{id}/export"), &a).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post(&format!("/v1/dsar/{id}/process"), &a, json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/v1/dsar/{id}/export"), &admin()).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn access_and_portability_exports_hold_the_subject_only() {
    let app = TestApp::new().await;
    let t = admin();
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let cid = client["id"].as_str().unwrap();
    let id = contact(&app, json!({"email": "me@example.com", "last_name": "Me", "client_id": cid})).await;
    contact(&app, json!({"email": "colleague@example.com", "last_name": "Colleague", "client_id": cid})).await;
    app.post(&format!("/v1/contacts/{id}/consents"), &t, grant("newsletter")).await;
    app.post(
        &format!("/v1/contacts/{id}/interactions"),
        &t,
        json!({"kind": "call", "direction": "inbound", "summary": "asked"}),
    )
    .await;
    app.post(
        "/v1/orders",
        &t,
        json!({"contact_id": id, "status": "paid", "currency": "EUR", "total_cents": 1200,
        "lines": [{"name": "Mug", "quantity": 1, "unit_price_cents": 1200}]}),
    )
    .await;

    let d = submit(&app, &t, json!({"type": "access", "subject": {"contact_id": id}})).await;
    let did = d["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/dsar/{did}/export"), &t).await.status, StatusCode::CONFLICT, "process first");
    let done = process(&app, did).await;
    assert_eq!(done["result"]["data_held"], true);
    let r = app.get(&format!("/v1/dsar/{did}/export"), &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let doc = &r.body;
    assert_eq!(doc["contact"]["email"], "me@example.com");
    assert_eq!(doc["client"]["name"], "Acme");
    assert_eq!(doc["orders"][0]["total_cents"], 1200);
    assert_eq!(doc["consents"]["current"][0]["purpose"], "newsletter");
    assert_eq!(doc["interactions"][0]["summary"], "asked");
    assert_eq!(doc["requests"][0]["type"], "access");
    assert!(doc["processing"]["purposes"].as_array().unwrap().len() >= 6);
    assert!(!doc["processing"]["activities"][0]["recipients"].as_array().unwrap().is_empty());
    assert!(!r.raw.windows(9).any(|w| w == b"colleague"), "Art. 15(4): nobody else's data");

    // The ZIP has an operation of its own, which the result names;
    // `?format=csv` (deprecated) answers the same archive.
    assert_eq!(done["result"]["export_zip"], format!("/v1/dsar/{did}/export.zip"));
    let r = app.get(&format!("/v1/dsar/{did}/export.zip"), &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type").as_deref(), Some("application/zip"));
    assert_eq!(r.header("content-disposition"), Some(format!("attachment; filename=\"dsar-{did}.zip\"")));
    let legacy = app.get(&format!("/v1/dsar/{did}/export?format=csv"), &t).await;
    assert_eq!(legacy.header("content-type").as_deref(), Some("application/zip"));
    let names_of = |raw: Vec<u8>| {
        let zip = zip::ZipArchive::new(std::io::Cursor::new(raw)).unwrap();
        zip.file_names().map(str::to_owned).collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(names_of(legacy.raw), names_of(r.raw.clone()));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.raw)).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for f in ["contact.csv", "orders.csv", "order_lines.csv", "consents.csv", "interactions.csv", "requests.csv"] {
        assert!(names.contains(&f.to_owned()), "{f} in {names:?}");
    }
    let mut contact_csv = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("contact.csv").unwrap(), &mut contact_csv).unwrap();
    assert!(contact_csv.contains("me@example.com"));

    let p = submit(&app, &t, json!({"type": "portability", "subject": {"email": "ME@example.com"}})).await;
    process(&app, p["id"].as_str().unwrap()).await;
    let r = app.get(&format!("/v1/dsar/{}/export", p["id"].as_str().unwrap()), &t).await;
    assert_eq!(r.body["contact"]["last_name"], "Me");
    assert!(r.body["contact"].get("stats").is_none(), "what the person provided, not derived data");
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 1);
    let audit = app.get("/v1/audit?action=dsar.exported", &t).await;
    assert_eq!(audit.body["data"].as_array().unwrap().len(), 4, "every export is audited");
}

#[actix_web::test]
async fn rectification_restriction_and_objection() {
    let app = TestApp::new().await;
    let t = admin();
    let id = contact(&app, json!({"email": "r@example.com", "last_name": "Smiht"})).await;
    app.post(&format!("/v1/contacts/{id}/consents"), &t, grant("newsletter")).await;
    app.post(&format!("/v1/contacts/{id}/consents"), &t, grant("profiling")).await;

    let d = submit(
        &app,
        &t,
        json!({"type": "rectification", "subject": {"contact_id": id}, "changes": {"last_name": "Smith"}}),
    )
    .await;
    let done = process(&app, d["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["rectified_fields"], json!(["last_name"]));
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &t).await.body["last_name"], "Smith");
    let bad =
        submit(&app, &t, json!({"type": "rectification", "subject": {"contact_id": id}, "changes": {"phone": "12"}}))
            .await;
    let r = app.post(&format!("/v1/dsar/{}/process", bad["id"].as_str().unwrap()), &t, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "same validation as PATCH");
    assert_eq!(r.error_fields(), vec!["phone"]);

    let d = submit(&app, &t, json!({"type": "restriction", "subject": {"contact_id": id}})).await;
    process(&app, d["id"].as_str().unwrap()).await;
    let c = app.get(&format!("/v1/contacts/{id}"), &t).await.body;
    assert_eq!(c["restricted"], true);
    assert_eq!(
        app.patch(&format!("/v1/contacts/{id}"), &t, json!({"job_title": "x"})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.get("/v1/contacts?consent=newsletter", &t).await.body["data"].as_array().unwrap().len(),
        0,
        "left the segment"
    );

    let other = contact(&app, json!({"email": "o@example.com"})).await;
    app.post(&format!("/v1/contacts/{other}/consents"), &t, grant("newsletter")).await;
    app.post(&format!("/v1/contacts/{other}/consents"), &t, grant("email_marketing")).await;
    let d = submit(&app, &t, json!({"type": "objection", "subject": {"email": "o@example.com"}})).await;
    let done = process(&app, d["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["withdrawn"], json!(["email_marketing", "newsletter"]));
    assert_eq!(done["result"]["suppressed"], true);
    let r = app.post("/v1/suppression/check", &token("contacts:read"), json!({"email": " O@Example.com "})).await;
    assert_eq!(r.body["suppressed"], true);
    let r = app.post("/v1/suppression/check", &token("contacts:read"), json!({"email": "fresh@example.com"})).await;
    assert_eq!(r.body["suppressed"], false);
    assert_eq!(app.get("/v1/contacts?consent=newsletter", &t).await.body["data"].as_array().unwrap().len(), 0);
}

/// The tables with a row whose columns, as text (bytea decoded), contain `needle`.
fn scan(conn: &mut PgConnection, needle: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        c: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        ty: String,
    }
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT c.table_name::text AS t, c.column_name::text AS c, c.data_type::text AS ty \
         FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' ORDER BY 1, 2",
    )
    .load(conn)
    .unwrap();
    assert!(cols.len() > 50, "every column of every table is scanned");
    let mut hits: Vec<String> = Vec::new();
    for Col { t, c, ty } in cols {
        let expr = if ty == "bytea" { format!("encode(\"{c}\", 'escape')") } else { format!("\"{c}\"::text") };
        let n: N = diesel::sql_query(format!("SELECT count(*) AS n FROM \"{t}\" WHERE {expr} ILIKE '%' || $1 || '%'"))
            .bind::<diesel::sql_types::Text, _>(needle)
            .get_result(conn)
            .unwrap_or_else(|e| panic!("scan of {t}.{c}: {e}"));
        if n.n > 0 {
            hits.push(format!("{t}.{c}"));
        }
    }
    hits
}

#[actix_web::test]
async fn erasure_leaves_no_trace_keeps_orders_and_suppresses_the_email() {
    let logs = crate::helpers::capture_logs();
    let app = TestApp::new().await;
    let t = admin();
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let cid = client["id"].as_str().unwrap();
    let (email, first, last, phone) = ("erase.me@example.com", "Gwendolyn", "Quatermass", "+33655501234");
    // Created with an Idempotency-Key: its stored answer holds the email too.
    let r = app
        .send(
            Method::POST,
            "/v1/contacts",
            Some(&t),
            Some(&json!({"email": email, "first_name": first, "last_name": last, "phone": phone, "client_id": cid,
                         "custom_fields": {"note": "Quatermass likes tea"}})),
            &[("idempotency-key", "erase-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/contacts/{id}/consents"), &t, grant("newsletter")).await;
    app.post(
        &format!("/v1/contacts/{id}/interactions"),
        &t,
        json!({"kind": "note", "direction": "inbound", "summary": "Gwendolyn called"}),
    )
    .await;
    for n in 0..3 {
        let r = app
            .post(
                "/v1/orders",
                &t,
                json!({"contact_id": id, "status": "paid", "currency": "EUR", "total_cents": 1000 + n}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    submit(&app, &t, json!({"type": "access", "subject": {"email": email}, "requested_by": "Gwendolyn Quatermass", "note": "call +33655501234"})).await;
    // A shop relays a request: the person follows the link (its token must never reach the logs).
    let relayed = submit(&app, &token("dsar:submit"), json!({"type": "access", "subject": {"email": email}})).await;
    let link = crate::identity::link_token(&app, relayed["id"].as_str().unwrap()).await;
    crate::identity::verify_by_link(&app, relayed["id"].as_str().unwrap()).await;
    let mut conn = app.db.conn();
    let before = scan(&mut conn, email);
    for place in ["contacts.email", "idempotency_keys.response_body", "dsar_requests.subject_email"] {
        assert!(before.contains(&place.to_owned()), "the scan sees {place} before erasure: {before:?}");
    }
    assert!(scan(&mut conn, "Quatermass").contains(&"dsar_requests.requested_by".to_owned()));

    let d =
        submit(&app, &t, json!({"type": "erasure", "subject": {"email": email}, "requested_by": "Gwendolyn herself"}))
            .await;
    let done = process(&app, d["id"].as_str().unwrap()).await;
    let result = &done["result"];
    assert_eq!(result["deleted"]["contacts"], 1);
    assert_eq!(result["deleted"]["consent_events"], 1);
    assert_eq!(result["deleted"]["interactions"], 1);
    assert_eq!(result["deleted"]["idempotency_keys"], 1);
    assert_eq!(result["anonymised"]["orders"], 3);
    assert_eq!(result["suppressed"], true);
    assert!(result["retained"][0]["why"].as_str().unwrap().contains("accounting"));

    assert!(!logs.lock().unwrap().windows(link.len()).any(|w| w == link.as_bytes()), "a link's token in the logs");
    for needle in [email, first, last, phone, "33655501234"] {
        assert_eq!(scan(&mut conn, needle), Vec::<String>::new(), "`{needle}` survives erasure");
        assert!(!logs.lock().unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()), "`{needle}` in the logs");
    }
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &t).await.status, StatusCode::NOT_FOUND);
    let c = app.get(&format!("/v1/clients/{cid}"), &t).await.body;
    assert_eq!(c["stats"]["orders_count"], 3, "orders are still counted for the company");
    let orders = app.get(&format!("/v1/clients/{cid}/orders"), &t).await.body;
    assert!(orders["data"].as_array().unwrap().iter().all(|o| o["contact_id"].is_null()));

    let again = app.post("/v1/contacts", &t, json!({"email": "Erase.Me@example.com", "last_name": "X"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "an erased email does not come back as a prospect");
    assert_eq!(again.body["errors"][0]["code"], "suppressed");
    let as_customer =
        app.post("/v1/contacts", &t, json!({"email": email, "lawful_basis": "contract", "status": "customer"})).await;
    assert_eq!(as_customer.status, StatusCode::CREATED, "a purchase may bring the person back");
    let audit = app.get(&format!("/v1/audit?action=contact.erased&resource_id={id}"), &t).await;
    assert_eq!(audit.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/audit/verify", &t).await.body["ok"], true);
}

#[actix_web::test]
async fn every_pii_column_has_an_erasure_rule() {
    let app = TestApp::new().await;
    let mut conn = app.db.conn();
    let pii = clientele::services::erasure::pii_columns(&mut conn).unwrap();
    assert!(pii["contacts"].contains(&"email".to_owned()));
    assert!(pii.contains_key("dsar_requests") && pii.contains_key("consent_events"));
    assert_eq!(clientele::services::erasure::uncovered_tables(&mut conn).unwrap(), Vec::<String>::new());
    // A new personal column in a table no rule covers makes erasure fail loudly.
    diesel::sql_query("CREATE TABLE notes (id uuid PRIMARY KEY, body text)").execute(&mut conn).unwrap();
    diesel::sql_query("COMMENT ON COLUMN notes.body IS 'pii'").execute(&mut conn).unwrap();
    assert_eq!(clientele::services::erasure::uncovered_tables(&mut conn).unwrap(), vec!["notes".to_owned()]);
    let id = contact(&app, json!({"email": "z@example.com"})).await;
    let d = submit(&app, &admin(), json!({"type": "erasure", "subject": {"contact_id": id}})).await;
    let r = app.post(&format!("/v1/dsar/{}/process", d["id"].as_str().unwrap()), &admin(), json!({})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.raw.windows(5).any(|w| w == b"notes"), "a 500 carries no internals");
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &admin()).await.status, StatusCode::OK, "nothing half-erased");
}

#[actix_web::test]
async fn audit_records_names_not_values_and_verify_catches_tampering() {
    let app = TestApp::new().await;
    let t = admin();
    let id = contact(&app, json!({"email": "a@example.com", "last_name": "Auditée"})).await;
    app.patch(&format!("/v1/contacts/{id}"), &t, json!({"email": "b@example.com", "job_title": "CFO"})).await;
    let r = app.send(Method::GET, &format!("/v1/audit?resource_id={id}"), Some(&t), None, &[]).await;
    let entries = r.body["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "contact.created");
    assert_eq!(entries[1]["action"], "contact.updated");
    assert_eq!(entries[1]["fields"], json!(["email", "job_title"]));
    assert_eq!(entries[1]["actor"], "tester");
    assert!(entries[1]["request_id"].is_string());
    assert!(!r.raw.windows(13).any(|w| w == b"b@example.com"), "values never reach the audit trail");
    assert_eq!(entries[1]["sealed"], false, "not sealed before the sealer runs");
    assert_eq!(app.get("/v1/audit", &token("contacts:read")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.seal().await, 2);
    let page = app.get("/v1/audit?limit=1", &t).await;
    let next = page.body["next_cursor"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/audit?limit=1&after={next}"), &t).await.body["data"][0]["action"],
        "contact.updated"
    );

    for _ in 0..3 {
        crate::clients::create_client(&app, json!({"name": "X"})).await;
    }
    let v = app.get("/v1/audit/verify", &t).await.body;
    assert_eq!(v, json!({"ok": true, "entries": 2, "unsealed": 3}));
    app.seal().await;
    let v = app.get("/v1/audit/verify", &t).await.body;
    assert_eq!(v, json!({"ok": true, "entries": 5, "unsealed": 0}));
    let mut conn = app.db.conn();
    assert!(
        diesel::sql_query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2").execute(&mut conn).is_err(),
        "append-only"
    );
    diesel::sql_query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only").execute(&mut conn).unwrap();
    diesel::sql_query("UPDATE audit_log SET fields = '[]' WHERE seq = 2").execute(&mut conn).unwrap();
    let v = app.get("/v1/audit/verify", &t).await.body;
    assert_eq!(
        (v["ok"].clone(), v["broken_at"].clone(), v["reason"].clone()),
        (json!(false), json!(2), json!("entry altered"))
    );
    diesel::sql_query("DELETE FROM audit_log WHERE seq = 2").execute(&mut conn).unwrap();
    assert_eq!(app.get("/v1/audit/verify", &t).await.body["broken_at"], 2);
}

#[actix_web::test]
async fn verify_notices_a_deleted_last_entry() {
    let app = TestApp::new().await;
    crate::clients::create_client(&app, json!({"name": "A"})).await;
    crate::clients::create_client(&app, json!({"name": "B"})).await;
    app.seal().await;
    let mut conn = app.db.conn();
    diesel::sql_query("DELETE FROM audit_log WHERE seq = 2").execute(&mut conn).unwrap();
    let v = app.get("/v1/audit/verify", &admin()).await.body;
    assert_eq!(v["ok"], false);
    assert_eq!(v["reason"], "entries missing at the end of the chain");
}

#[actix_web::test]
async fn register_is_seeded_and_editable() {
    let app = TestApp::new().await;
    let r = app.get("/v1/register", &token("register:read")).await;
    assert_eq!(r.status, StatusCode::OK);
    let acts = r.body["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 3);
    for k in [
        "name",
        "purposes",
        "lawful_basis",
        "data_subjects",
        "data_categories",
        "recipients",
        "retention",
        "transfers",
        "security_measures",
    ] {
        assert!(!acts[0][k].is_null(), "{k}");
    }
    let id = acts[0]["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/v1/register/activities/{id}"), &token("register:read"), json!({"transfers": "US (SCCs)"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .patch(&format!("/v1/register/activities/{id}"), &token("register:write"), json!({"transfers": "US (SCCs)"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["transfers"], "US (SCCs)");
    assert_eq!(r.body["version"], 2);
    let r = app
        .post(
            "/v1/register/activities",
            &token("register:write"),
            json!({"name": "Events", "lawful_basis": "consent", "retention": "1 year"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[actix_web::test]
async fn retention_dry_run_erases_nothing_and_a_run_erases_what_is_due() {
    let app = TestApp::new().await;
    let t = admin();
    let policies = app.get("/v1/retention/policies", &token("register:read")).await.body;
    let prospect = policies["data"].as_array().unwrap().iter().find(|p| p["status"] == "prospect").unwrap().clone();
    assert_eq!(prospect["days"], 1095);
    let old = contact(&app, json!({"email": "old@example.com", "last_interaction_at": "2021-01-01T00:00:00Z"})).await;
    let recent =
        contact(&app, json!({"email": "recent@example.com", "last_interaction_at": "2026-01-01T00:00:00Z"})).await;
    let customer = contact(
        &app,
        json!({"email": "c@example.com", "status": "customer", "last_interaction_at": "2015-01-01T00:00:00Z"}),
    )
    .await;

    let r = app.post("/v1/retention/run?dry_run=true", &token("retention:run"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let due: Vec<&str> = r.body["due"].as_array().unwrap().iter().map(|d| d["contact_id"].as_str().unwrap()).collect();
    assert_eq!(due, [old.as_str()]);
    assert_eq!(r.body["erased"], 0);
    assert_eq!(app.get(&format!("/v1/contacts/{old}"), &t).await.status, StatusCode::OK, "a dry run erases nothing");
    assert_eq!(
        app.post("/v1/retention/run?dry_run=false", &token("register:write"), json!({})).await.status,
        StatusCode::FORBIDDEN
    );

    let r = app.post("/v1/retention/run?dry_run=false", &token("retention:run"), json!({})).await;
    assert_eq!(r.body["erased"], 1);
    assert_eq!(app.get(&format!("/v1/contacts/{old}"), &t).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/v1/contacts/{recent}"), &t).await.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/v1/contacts/{customer}"), &t).await.status, StatusCode::OK, "customers are kept");
    assert_eq!(
        app.get(&format!("/v1/audit?action=contact.erased&resource_id={old}"), &t).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let r = app
        .put(
            "/v1/retention/policies",
            &token("register:write"),
            json!({"policies": [{"status": "prospect", "days": 30}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.post("/v1/retention/run", &token("retention:run"), json!({})).await;
    assert_eq!(r.body["dry_run"], true, "dry run by default");
    assert_eq!(r.body["due"].as_array().unwrap().len(), 1, "recent is now past 30 days");
}

#[actix_web::test]
async fn the_background_sweep_erases_what_is_due() {
    let db = crate::helpers::TestDb::new();
    let mut cfg = crate::helpers::config(&db.url);
    cfg.retention_sweep = Some(std::time::Duration::from_millis(200));
    let state = clientele::state::AppState::new(cfg, crate::helpers::keys());
    let app = TestApp::with_state(db, state.clone()).await;
    let old = contact(&app, json!({"email": "sweep@example.com", "last_interaction_at": "2020-01-01T00:00:00Z"})).await;
    clientele::jobs::spawn(&state);
    let mut gone = false;
    for _ in 0..50 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        if app.get(&format!("/v1/contacts/{old}"), &admin()).await.status == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
    }
    assert!(gone, "the sweep erased the contact");
    let audit = app.get("/v1/audit?actor=retention-sweep&action=contact.erased", &admin()).await;
    assert_eq!(audit.body["data"].as_array().unwrap().len(), 1);
}
