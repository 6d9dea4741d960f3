//! `/v1/exports`: export jobs, their worker and their files.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

/// Two clients, four contacts (one restricted, one without a client), two
/// orders with lines and a consent event.
async fn seed(app: &TestApp) -> String {
    let t = admin();
    let acme = crate::clients::create_client(app, json!({"name": "Acme", "tags": ["vip"]})).await;
    crate::clients::create_client(app, json!({"name": "Globex"})).await;
    let cid = acme["id"].as_str().unwrap();
    let mut restricted = String::new();
    for (i, email) in ["ana@example.com", "bo@example.com", "cy@example.com"].iter().enumerate() {
        let c = crate::contacts::create_contact(
            app,
            json!({"email": email, "last_name": format!("N{i}"), "client_id": cid, "tags": ["a", "b"],
                   "custom_fields": {"shoe_size": 42, "note": "line one\nline \"two\", with a comma"}}),
        )
        .await;
        restricted = c["id"].as_str().unwrap().to_owned();
    }
    crate::contacts::create_contact(app, json!({"last_name": "Solo"})).await;
    exec(app, &format!("UPDATE contacts SET restricted = true WHERE id = '{restricted}'"));
    for ext in ["1001", "1002"] {
        let r = app
            .post(
                "/v1/orders",
                &t,
                json!({"source": "shop", "external_id": ext, "status": "paid", "currency": "EUR", "total_cents": 1000,
                       "ordered_at": "2026-03-01T10:00:00Z",
                       "lines": [{"sku": "A1", "name": "Widget", "quantity": 2, "unit_price_cents": 500}],
                       "customer": {"email": "ana@example.com"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = app
        .post(
            &format!("/v1/contacts/{restricted}/consents"),
            &t,
            json!({"purpose": "newsletter", "status": "withdrawn"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    restricted
}

/// Queues an export and runs the worker once; the job as then answered.
async fn export(app: &TestApp, body: Value) -> Value {
    let t = token("exports:run");
    let r = app.post("/v1/exports", &t, body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "queued");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location").as_deref(), Some(format!("/v1/exports/{id}").as_str()));
    let ran = clientele::services::exports::run_next(&app.state).await.unwrap();
    assert_eq!(ran.map(|u| u.to_string()).as_deref(), Some(id.as_str()));
    let r = app.get(&format!("/v1/exports/{id}"), &t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "completed", "{}", r.body);
    r.body
}

/// Downloads a file and checks it against the job's record of it.
async fn download(app: &TestApp, file: &Value, media_type: &str) -> Res {
    let r = app.get(file["url"].as_str().unwrap(), &token("exports:run")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.raw));
    assert!(r.header("content-type").unwrap().starts_with(media_type));
    let sha = hex::encode(Sha256::digest(&r.raw));
    assert_eq!(sha, file["sha256"].as_str().unwrap(), "the file served is the file recorded");
    assert_eq!(r.header("etag"), Some(format!("\"{sha}\"")));
    assert_eq!(r.raw.len() as i64, file["bytes"].as_i64().unwrap());
    r
}

#[actix_web::test]
async fn ndjson_export_holds_every_row_as_the_api_answers_it() {
    let app = TestApp::new().await;
    let restricted = seed(&app).await;
    let job = export(&app, json!({"resources": ["clients", "contacts"]})).await;
    let files = job["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{job}");
    let tables = [
        ("clients", count(&app, "SELECT count(*) AS n FROM clients")),
        ("contacts", count(&app, "SELECT count(*) AS n FROM contacts")),
    ];
    for (file, (resource, n)) in files.iter().zip(tables) {
        assert_eq!(file["resource"], resource);
        assert_eq!(file["rows"].as_i64(), Some(n), "{resource}");
        assert_eq!(job["rows"][resource].as_i64(), Some(n), "{job}");
        let r = download(&app, file, "application/x-ndjson").await;
        let rows: Vec<Value> =
            String::from_utf8(r.raw).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len() as i64, n);
        // Each row is what GET answers for it.
        for row in &rows {
            let id = row["id"].as_str().unwrap();
            let got = app.get(&format!("/v1/{resource}/{id}"), &admin()).await;
            assert_eq!(&got.body, row, "{resource} {id}");
        }
        if resource == "contacts" {
            let flagged: Vec<&str> =
                rows.iter().filter(|r| r["restricted"] == true).map(|r| r["id"].as_str().unwrap()).collect();
            assert_eq!(flagged, [restricted.as_str()], "the restricted contact is in the export, flagged");
        }
    }
    assert_eq!(job["rows_done"].as_i64(), Some(tables[0].1 + tables[1].1));
    assert!(job["expires_at"].is_string());
    // A mass disclosure, audited: asked, completed, each download.
    let audited = |action: &str| {
        count(
            &app,
            &format!(
                "SELECT count(*) AS n FROM (SELECT action FROM audit_pending UNION ALL SELECT action FROM audit_log) a \
                 WHERE action = '{action}'"
            ),
        )
    };
    assert_eq!(audited("export.requested"), 1);
    assert_eq!(audited("export.completed"), 1);
    assert_eq!(audited("export.downloaded"), 2);
    // Listed, and nothing more to do for the worker.
    let r = app.get("/v1/exports", &token("exports:run")).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.body);
    assert!(clientele::services::exports::run_next(&app.state).await.unwrap().is_none());
}

#[actix_web::test]
async fn csv_export_has_a_header_and_nested_values_as_json() {
    let app = TestApp::new().await;
    let restricted = seed(&app).await;
    let job = export(&app, json!({"resources": ["contacts", "orders", "consents", "clients"], "format": "csv"})).await;
    let files = job["files"].as_array().unwrap();
    assert_eq!(files.iter().map(|f| f["n"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4]);
    for file in files {
        let resource = file["resource"].as_str().unwrap();
        let table = if resource == "consents" { "consent_events" } else { resource };
        let n = count(&app, &format!("SELECT count(*) AS n FROM {table}"));
        assert_eq!(file["rows"].as_i64(), Some(n), "{resource}");
        let r = download(&app, file, "text/csv").await;
        let mut reader = csv::Reader::from_reader(r.raw.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header[0], "id");
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len() as i64, n, "{resource}");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{resource}: no {name}"));
        match resource {
            "contacts" => {
                let row = records.iter().find(|r| r[col("id")] == *restricted).unwrap();
                assert_eq!(&row[col("restricted")], "true");
                let tags: Value = serde_json::from_str(&row[col("tags")]).unwrap();
                assert_eq!(tags, json!(["a", "b"]));
                let custom: Value = serde_json::from_str(&row[col("custom_fields")]).unwrap();
                assert_eq!(custom["note"], "line one\nline \"two\", with a comma");
                assert_eq!(records.iter().filter(|r| &r[col("restricted")] == "true").count(), 1);
            }
            "orders" => {
                let lines: Value = serde_json::from_str(&records[0][col("lines")]).unwrap();
                assert_eq!(lines[0]["sku"], "A1");
            }
            "consents" => assert_eq!(&records[0][col("status")], "withdrawn"),
            _ => {}
        }
    }
}

#[actix_web::test]
async fn export_requests_are_validated_and_need_their_scope() {
    let app = TestApp::new().await;
    let t = token("exports:run");
    for (body, field, code) in [
        (json!({"resources": ["contacts", "people"]}), "resources[1]", "invalid_type"),
        (json!({"resources": []}), "resources", "length"),
        (json!({"resources": ["contacts", "orders", "contacts"]}), "resources[2]", "duplicate"),
        (json!({"resources": ["contacts"], "format": "xlsx"}), "format", "invalid_type"),
        (json!({"format": "csv"}), "resources", "required"),
        (json!({"resources": ["contacts"], "where": "x"}), "where", "unknown_field"),
    ] {
        let r = app.post("/v1/exports", &t, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.body);
        assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
        assert_eq!(r.error_fields(), [field], "{body}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], code, "{body}: {}", r.body);
    }
    assert_eq!(count(&app, "SELECT count(*) AS n FROM export_jobs"), 0);
    // Reading every resource is not enough: an export is a scope of its own.
    let reader = token("clients:read contacts:read orders:read consents:read");
    let r = app.post("/v1/exports", &reader, json!({"resources": ["contacts"]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let job = export(&app, json!({"resources": ["clients"]})).await;
    let id = job["id"].as_str().unwrap();
    for path in [format!("/v1/exports/{id}"), format!("/v1/exports/{id}/files/1"), "/v1/exports".into()] {
        assert_eq!(app.get(&path, &reader).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = app.get(&format!("/v1/exports/{id}/files/2"), &t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_job_left_running_by_a_dead_worker_is_done_again() {
    let app = TestApp::new().await;
    seed(&app).await;
    let t = token("exports:run");
    let first = export(&app, json!({"resources": ["contacts"]})).await;
    let id = first["id"].as_str().unwrap().to_owned();
    let root = app.state.config.export_dir.clone();
    // As a worker that died mid-way leaves it: running, a stale heartbeat,
    // a partial file on disk, no completion.
    exec(
        &app,
        &format!(
            "UPDATE export_jobs SET status = 'running', finished_at = NULL, expires_at = NULL, \
             heartbeat_at = now() - interval '1 hour', rows_done = 1 WHERE id = '{id}'"
        ),
    );
    std::fs::write(root.join(&id).join("1").join("0001-contacts.ndjson"), b"{\"partial\":").unwrap();
    // A live worker's job (fresh heartbeat) is not taken.
    exec(&app, &format!("UPDATE export_jobs SET heartbeat_at = now() WHERE id = '{id}'"));
    assert!(clientele::services::exports::run_next(&app.state).await.unwrap().is_none());
    assert_eq!(app.get(&format!("/v1/exports/{id}"), &t).await.body["status"], "running");
    exec(&app, &format!("UPDATE export_jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = '{id}'"));
    let ran = clientele::services::exports::run_next(&app.state).await.unwrap();
    assert_eq!(ran.map(|u| u.to_string()), Some(id.clone()));
    let job = app.get(&format!("/v1/exports/{id}"), &t).await.body;
    assert_eq!(job["status"], "completed", "{job}");
    let file = &job["files"][0];
    assert_eq!(file["rows"].as_i64(), Some(count(&app, "SELECT count(*) AS n FROM contacts")));
    let r = download(&app, file, "application/x-ndjson").await;
    assert_eq!(String::from_utf8(r.raw).unwrap().lines().count() as i64, file["rows"].as_i64().unwrap());
    assert!(!root.join(&id).join("1").exists(), "the dead attempt's files are gone");
    assert_eq!(count(&app, &format!("SELECT attempt::bigint AS n FROM export_jobs WHERE id = '{id}'")), 2);
}

#[actix_web::test]
async fn files_are_deleted_seven_days_after_completion() {
    let app = TestApp::new().await;
    seed(&app).await;
    let t = token("exports:run");
    let job = export(&app, json!({"resources": ["clients", "orders"], "format": "csv"})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let root = app.state.config.export_dir.clone();
    assert!(root.join(&id).exists());
    let sweep = |days: i64| {
        let now = chrono::Utc::now() + chrono::Duration::days(days);
        clientele::services::exports::sweep(&mut app.db.conn(), &root, now).unwrap()
    };
    assert_eq!(sweep(6), 0, "kept 7 days");
    assert_eq!(app.get(&format!("/v1/exports/{id}/files/1"), &t).await.status, StatusCode::OK);
    assert_eq!(sweep(8), 1);
    assert!(!root.join(&id).exists(), "the files are deleted");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM export_files"), 0);
    for path in [format!("/v1/exports/{id}"), format!("/v1/exports/{id}/files/1")] {
        let r = app.get(&path, &t).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    }
}

#[actix_web::test]
async fn an_erasure_expires_the_exports_made_before_it() {
    let app = TestApp::new().await;
    seed(&app).await;
    let t = token("exports:run");
    let job = export(&app, json!({"resources": ["contacts"]})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let root = app.state.config.export_dir.clone();
    let subject = count(&app, "SELECT count(*) AS n FROM contacts");
    assert!(subject > 0);
    let c = crate::contacts::create_contact(&app, json!({"email": "gone@example.com", "last_name": "Gone"})).await;
    let d = app
        .post("/v1/dsar", &crate::helpers::admin(), json!({"type": "erasure", "subject": {"contact_id": c["id"]}}))
        .await;
    let done = app
        .post(&format!("/v1/dsar/{}/process", d.body["id"].as_str().unwrap()), &crate::helpers::admin(), json!({}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["result"]["deleted"]["export_jobs"], 1, "{}", done.body);
    assert_eq!(app.get(&format!("/v1/exports/{id}/files/1"), &t).await.status, StatusCode::NOT_FOUND);
    let swept = clientele::services::exports::sweep(&mut app.db.conn(), &root, chrono::Utc::now()).unwrap();
    assert_eq!(swept, 1);
    assert!(!root.join(&id).exists(), "the files that may hold the person are deleted");
}

#[actix_web::test]
async fn a_deleted_export_is_gone_with_its_files() {
    let app = TestApp::new().await;
    seed(&app).await;
    let t = token("exports:run");
    let job = export(&app, json!({"resources": ["contacts"]})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let root = app.state.config.export_dir.clone();
    let r = app.delete(&format!("/v1/exports/{id}"), &t).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(!root.join(&id).exists());
    assert_eq!(app.get(&format!("/v1/exports/{id}/files/1"), &t).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/v1/exports/{id}"), &t).await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_worker_that_lost_its_job_can_no_longer_write_it() {
    use clientele::models::export as model;
    let app = TestApp::new().await;
    let r = app.post("/v1/exports", &token("exports:run"), json!({"resources": ["clients"]})).await;
    let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let mut conn = app.db.conn();
    let now = chrono::Utc::now();
    let first = model::claim(&mut conn, now, now - chrono::Duration::seconds(60)).unwrap().unwrap();
    assert_eq!((first.id, first.attempt), (id, 1));
    // Claimed by nobody else while its heartbeat is fresh.
    assert!(model::claim(&mut conn, now, now - chrono::Duration::seconds(60)).unwrap().is_none());
    // Stale: another worker takes it over, as attempt 2.
    let later = now + chrono::Duration::seconds(120);
    let second = model::claim(&mut conn, later, later - chrono::Duration::seconds(60)).unwrap().unwrap();
    assert_eq!(second.attempt, 2);
    // The first worker wakes up: its heartbeat and its completion are refused.
    let counts = json!({});
    assert!(!model::heartbeat(&mut conn, id, 1, later, &counts, 0).unwrap());
    assert!(!model::finish(&mut conn, id, 1, "completed", later, later, None).unwrap());
    assert!(model::heartbeat(&mut conn, id, 2, later, &counts, 0).unwrap());
    assert!(model::finish(&mut conn, id, 2, "completed", later, later, None).unwrap());
}
