//! `/v1/imports`: import jobs, their worker, their counts and errors file.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Res, TestApp, admin, token};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(&mut app.db.conn()).unwrap().n
}

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.db.conn()).unwrap();
}

/// Posts a file to `/v1/imports?{query}`.
async fn upload(app: &TestApp, t: &str, query: &str, content_type: &str, body: &str, extra: &[(&str, &str)]) -> Res {
    let mut req = TestRequest::default()
        .method(Method::POST)
        .uri(&format!("/v1/imports?{query}"))
        .insert_header(("authorization", format!("Bearer {t}")))
        .insert_header(("content-type", content_type))
        .set_payload(body.as_bytes().to_vec());
    for (k, v) in extra {
        req = req.insert_header((*k, *v));
    }
    app.raw(req.to_request()).await
}

/// Queues an import, runs the worker to the end; the job as then answered.
async fn import(app: &TestApp, query: &str, content_type: &str, body: &str) -> Value {
    let t = admin();
    let r = upload(app, &t, query, content_type, body, &[]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "queued");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location").as_deref(), Some(format!("/v1/imports/{id}").as_str()));
    let ran = clientele::services::imports::run_next(&app.state).await.unwrap();
    assert_eq!(ran.map(|u| u.to_string()).as_deref(), Some(id.as_str()));
    let r = app.get(&format!("/v1/imports/{id}"), &t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn errors_file(app: &TestApp, id: &str) -> String {
    let r = app.get(&format!("/v1/imports/{id}/errors"), &token("imports:run")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.raw));
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    String::from_utf8(r.raw).unwrap()
}

fn suppress(app: &TestApp, email: &str) {
    let e = clientele::domain::Email::parse(email).unwrap();
    let mac = app.state.suppression.hmac(&e);
    clientele::services::suppression::add(&mut app.db.conn(), &mac, clientele::services::suppression::Reason::Erasure)
        .unwrap();
}

#[actix_web::test]
async fn a_csv_of_good_invalid_and_suppressed_rows_is_counted_and_its_errors_name_the_lines() {
    let app = TestApp::new().await;
    suppress(&app, "gone@example.com");
    let existing = crate::contacts::create_contact(&app, json!({"email": "ana@example.com", "last_name": "Old"})).await;
    // `;`, a BOM, a quoted cell with the delimiter and a newline, tags as `a|b`.
    let csv = "\u{feff}email;last_name;first_name;tags;custom_fields\n\
               ANA@example.com;New;Ana;vip|b2b;\n\
               bo@example.com;Bo;\"Jean;\nPierre\";;{\"shoe_size\": 42}\n\
               not-an-email;X;;;\n\
               gone@example.com;Gone;;;\n\
               ;;;;\n\
               cy@example.com;Cy;;;{\"note\": \"suivi pour son cancer du sein\"}\n\
               ANA@example.com;New;Ana;vip|b2b;\n";
    let job = import(&app, "resource=contacts", "text/csv; charset=utf-8", csv).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["rows_total"], 6, "the blank row is not a row: {job}");
    assert_eq!(job["rows_done"], 6);
    assert_eq!(job["created"], 1, "{job}");
    assert_eq!(job["updated"], 1, "ana matched by email, case-insensitively: {job}");
    assert_eq!(job["unchanged"], 1, "ana again, already as the row says: {job}");
    assert_eq!(job["failed"], 2, "{job}");
    assert_eq!(job["skipped"], 1, "the suppressed email: {job}");
    assert_eq!(job["match_on"], "email");

    let ana = app.get(&format!("/v1/contacts/{}", existing["id"].as_str().unwrap()), &admin()).await;
    assert_eq!(ana.body["last_name"], "New");
    assert_eq!(ana.body["tags"], json!(["vip", "b2b"]));
    let r = app.get("/v1/contacts?email=bo@example.com", &admin()).await;
    let bo = &r.body["data"][0];
    assert_eq!(bo["first_name"], "Jean;\nPierre");
    assert_eq!(bo["custom_fields"]["shoe_size"], 42);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts WHERE lower(email) LIKE 'gone%'"), 0);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts"), 2);
    // Every write went through the API's events.
    assert_eq!(count(&app, "SELECT count(*) AS n FROM events WHERE type = 'contact.created'"), 2);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM events WHERE type = 'contact.updated'"), 1);

    let id = job["id"].as_str().unwrap();
    let file = errors_file(&app, id).await;
    let mut lines = file.lines();
    assert_eq!(lines.next(), Some("line,field,code,message"));
    let rest: Vec<&str> = lines.collect();
    // Line 1 is the header; bo's quoted newline makes cy line 8.
    assert!(rest[0].starts_with("5,email,invalid_format,"), "{file}");
    assert!(rest.iter().any(|l| l.starts_with("8,custom_fields.note,sensitive_data,")), "{file}");
    assert!(!file.contains("not-an-email") && !file.contains("cancer"), "no submitted value in the errors file");
    // No row is kept once processed.
    assert_eq!(count(&app, &format!("SELECT count(*) AS n FROM import_rows WHERE job_id = '{id}'")), 0);
    for action in ["import.requested", "import.completed", "contact.created", "contact.updated"] {
        let sql = format!(
            "SELECT count(*) AS n FROM (SELECT action FROM audit_pending UNION ALL SELECT action FROM audit_log) a \
             WHERE action = '{action}'"
        );
        assert!(count(&app, &sql) >= 1, "{action} is audited");
    }
}

#[actix_web::test]
async fn an_import_survives_a_worker_that_dies_mid_way_without_double_rows() {
    let app = TestApp::new().await;
    let n = 1_200usize;
    let mut csv = String::from("email,last_name\n");
    for i in 0..n {
        csv.push_str(&format!("p{i}@example.com,Person {i}\n"));
    }
    let r = upload(&app, &admin(), "resource=contacts", "text/csv", &csv, &[]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(r.body["rows_total"], n);

    // A worker claims it and commits one chunk, then dies (its process is gone).
    use clientele::services::imports::{self, Step};
    let mut conn = app.db.conn();
    let (claimed, first) = imports::claim(&mut conn, chrono::Utc::now()).unwrap().unwrap();
    assert_eq!((claimed, first), (id, 1));
    assert_eq!(imports::step(&mut conn, &app.state.suppression, id, first).unwrap(), Step::More);
    let done = imports::CONTACTS_CHUNK;
    let r = app.get(&format!("/v1/imports/{id}"), &admin()).await;
    assert_eq!((r.body["status"].as_str(), r.body["rows_done"].as_i64()), (Some("running"), Some(done)));
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts"), done);

    // While its heartbeat is fresh, nobody takes it over.
    assert!(imports::run_next(&app.state).await.unwrap().is_none());
    // Once stale, the next worker (a restarted server) resumes at the first unprocessed row.
    exec(&app, &format!("UPDATE import_jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = '{id}'"));
    let ran = imports::run_next(&app.state).await.unwrap();
    assert_eq!(ran, Some(id));
    let r = app.get(&format!("/v1/imports/{id}"), &admin()).await;
    assert_eq!(r.body["status"], "completed", "{}", r.body);
    assert_eq!(r.body["rows_done"], n);
    assert_eq!(r.body["created"], n, "{}", r.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts"), n as i64, "every row once");
    assert_eq!(count(&app, "SELECT count(DISTINCT lower(email)) AS n FROM contacts"), n as i64);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM events WHERE type = 'contact.created'"), n as i64);

    // The dead worker wakes up: its attempt is fenced off and writes nothing.
    assert_eq!(imports::step(&mut conn, &app.state.suppression, id, first).unwrap(), Step::Lost);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts"), n as i64);
}

#[actix_web::test]
async fn ndjson_orders_clients_and_consents_import_and_match() {
    let app = TestApp::new().await;
    let t = admin();
    // Clients by SIREN: the second line updates the first's company.
    let job = import(
        &app,
        "resource=clients",
        "application/x-ndjson",
        "{\"name\": \"Acme\", \"siren\": \"732829320\"}\n\n{\"name\": \"Acme SA\", \"siren\": \"732829320\", \"employee_count\": 40}\n[1]\n{oops\n",
    )
    .await;
    assert_eq!((job["created"].as_i64(), job["updated"].as_i64(), job["failed"].as_i64()), (Some(1), Some(1), Some(2)));
    assert_eq!(job["rows_total"], 4);
    let file = errors_file(&app, job["id"].as_str().unwrap()).await;
    assert!(file.contains("\n4,,invalid_type,") && file.contains("\n5,,invalid_json,"), "{file}");
    let r = app.get("/v1/clients?limit=10", &t).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["name"], "Acme SA");
    assert_eq!(r.body["data"][0]["employee_count"], 40);

    // Orders by (source, external_id), with their lines: the replay is unchanged.
    let order = json!({"source": "shop", "external_id": "1001", "status": "paid", "currency": "EUR",
        "total_cents": 1000, "ordered_at": "2026-03-01T10:00:00Z",
        "lines": [{"sku": "A1", "name": "Widget", "quantity": 2, "unit_price_cents": 500}],
        "customer": {"email": "buyer@example.com", "last_name": "Buyer"}});
    let body = format!("{order}\n{order}\n");
    let job = import(&app, "resource=orders", "application/x-ndjson", &body).await;
    assert_eq!((job["created"].as_i64(), job["unchanged"].as_i64()), (Some(1), Some(1)), "{job}");
    let r = app.get("/v1/orders?limit=10", &t).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["lines"][0]["quantity"], 2);

    // Consents by email, in CSV with nested proof columns.
    let csv = "email,purpose,status,channel,collected_at,proof.method,proof.wording\n\
               buyer@example.com,newsletter,granted,web_form,2026-01-01T00:00:00Z,checkbox,Yes please\n\
               nobody@example.com,newsletter,granted,web_form,2026-01-01T00:00:00Z,checkbox,Yes\n";
    let job = import(&app, "resource=consents", "text/csv", csv).await;
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64()), (Some(1), Some(1)), "{job}");
    assert!(errors_file(&app, job["id"].as_str().unwrap()).await.contains("\n3,email,not_found,"));
    assert_eq!(count(&app, "SELECT count(*) AS n FROM consent_events WHERE purpose = 'newsletter'"), 1);
}

#[actix_web::test]
async fn a_dry_run_counts_without_writing_and_provenance_is_stamped() {
    let app = TestApp::new().await;
    let csv = "email,last_name\na@example.com,A\nb@example.com,B\nbad,C\n";
    let job = import(&app, "resource=contacts&dry_run=true", "text/csv", csv).await;
    assert_eq!(job["dry_run"], true);
    assert_eq!((job["created"].as_i64(), job["failed"].as_i64()), (Some(2), Some(1)), "{job}");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts"), 0, "a dry run writes nothing");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM events WHERE type LIKE 'contact.%'"), 0);

    let p = r#"{"source_type":"purchase","vendor":{"name":"Fichiers SA","siren":"732829320"},"acquired_at":"2026-11-01T00:00:00Z"}"#;
    let q = format!(
        "resource=contacts&provenance={}",
        url::form_urlencoded::byte_serialize(p.as_bytes()).collect::<String>()
    );
    let job = import(&app, &q, "text/csv", csv).await;
    assert_eq!(job["created"], 2, "{job}");
    let r = app.get("/v1/contacts?email=a@example.com", &admin()).await;
    let a = &r.body["data"][0];
    assert_eq!(a["provenance"]["source_type"], "purchase", "{a}");
    assert_eq!(a["provenance"]["vendor"]["name"], "Fichiers SA");
    assert!(a["art14_notice_due_at"].is_string(), "bought data owes a notice: {a}");
}

#[actix_web::test]
async fn import_requests_are_validated_need_their_scopes_and_can_be_cancelled() {
    let app = TestApp::new().await;
    let t = admin();
    let csv = "email,last_name\na@example.com,A\n";
    // Scopes: imports:run and the resource's write scope.
    let r = upload(&app, &token("contacts:write"), "resource=contacts", "text/csv", csv, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = upload(&app, &token("imports:run"), "resource=contacts", "text/csv", csv, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = upload(&app, &token("imports:run contacts:write"), "resource=contacts", "text/csv", csv, &[]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let queued = r.body["id"].as_str().unwrap().to_owned();

    for (query, field) in [
        ("", "resource"),
        ("resource=people", "resource"),
        ("resource=contacts&match_on=siren", "match_on"),
        ("resource=orders&provenance=%7B%7D", "provenance"),
        ("resource=contacts&provenance=nope", "provenance"),
        ("resource=contacts&provenance=%7B%22source_type%22%3A%22purchase%22%7D", "provenance.vendor"),
        ("resource=contacts&colour=red", "colour"),
    ] {
        let r = upload(&app, &t, query, "text/csv", csv, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.body);
        assert!(r.error_fields().contains(&field.to_owned()), "{query}: {}", r.body);
    }
    let r = upload(&app, &t, "resource=contacts", "application/json", "{}", &[]).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
    let r = upload(&app, &t, "resource=contacts", "text/csv", "email,colour\na@example.com,red\n", &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_fields(), vec!["header[1]".to_owned()], "{}", r.body);
    let r = upload(&app, &t, "resource=contacts", "text/csv", "", &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM import_jobs"), 1, "a refused upload leaves no job");

    // The same Idempotency-Key and file: the first job; another file: 422.
    let key = [("idempotency-key", "import-1")];
    let first = upload(&app, &t, "resource=contacts", "text/csv", csv, &key).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = upload(&app, &t, "resource=contacts", "text/csv", csv, &key).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    let other = upload(&app, &t, "resource=contacts", "text/csv", "email,last_name\nb@example.com,B\n", &key).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.body);

    // Cancel: a queued job stops with its rows dropped; again is the same; a completed one is 409.
    let r = app.post(&format!("/v1/imports/{queued}/cancel"), &t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(count(&app, &format!("SELECT count(*) AS n FROM import_rows WHERE job_id = '{queued}'")), 0);
    let r = app.post(&format!("/v1/imports/{queued}/cancel"), &t, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    while clientele::services::imports::run_next(&app.state).await.unwrap().is_some() {}
    let done = first.body["id"].as_str().unwrap();
    let r = app.get(&format!("/v1/imports/{done}"), &t).await;
    assert_eq!(r.body["status"], "completed", "{}", r.body);
    let r = app.post(&format!("/v1/imports/{done}/cancel"), &t, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "not_cancellable", "{}", r.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM contacts"), 1, "the cancelled job wrote nothing");
    let r = app.get(&format!("/v1/imports/{}", uuid::Uuid::now_v7()), &t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn new_contacts_written_together_get_the_answers_of_the_api() {
    let app = TestApp::new().await;
    let acme = crate::clients::create_client(&app, json!({"name": "Acme"})).await["id"].as_str().unwrap().to_owned();
    let nobody = uuid::Uuid::now_v7();
    let csv = format!(
        "email,last_name,client_id,status,lawful_basis\n\
         a@example.com,A,{acme},,\n\
         b@example.com,B,{nobody},,\n\
         c@example.com,C,,customer,contract\n\
         a@example.com,A2,{acme},,\n\
         ,Phoneless,,,\n"
    );
    suppress(&app, "c@example.com");
    let job = import(&app, "resource=contacts", "text/csv", &csv).await;
    // a: created; b: its client does not exist; c: suppressed but a customer
    // under contract may come back; a again: matched, updated; a last name alone: created.
    assert_eq!(
        (job["created"].as_i64(), job["updated"].as_i64(), job["failed"].as_i64(), job["skipped"].as_i64()),
        (Some(3), Some(1), Some(1), Some(0)),
        "{job}"
    );
    let file = errors_file(&app, job["id"].as_str().unwrap()).await;
    assert!(file.contains("\n3,client_id,not_found,"), "{file}");
    let r = app.get("/v1/contacts?email=a@example.com", &admin()).await;
    assert_eq!(r.body["data"][0]["last_name"], "A2");
    assert_eq!(r.body["data"][0]["client_id"], acme.as_str());
    assert_eq!(r.body["data"][0]["audience"], "professional", "the default of a contact with a client");
    // One event and one audit entry per write, as the API writes them.
    assert_eq!(count(&app, "SELECT count(*) AS n FROM events WHERE type = 'contact.created'"), 3);
    let created = count(
        &app,
        "SELECT count(*) AS n FROM (SELECT action FROM audit_pending UNION ALL SELECT action FROM audit_log) a \
         WHERE action = 'contact.created'",
    );
    assert_eq!(created, 3);
}
