//! Issue 12: the order of record. The feed and sync tokens never pass a
//! change that commits later; the audit trail is sealed in that order without
//! making writers wait on each other, and signed checkpoints prove it later.

use std::time::Duration;

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin, token};
use clientele::auth::{Actor, Scope};
use clientele::services::{audit, events};

/// Follows `/v1/events` from `cursor` to its current end, appending event ids.
async fn poll(app: &TestApp, cursor: &mut Option<String>, seen: &mut Vec<String>) {
    loop {
        let path = match cursor {
            Some(c) => format!("/v1/events?limit=200&after={c}"),
            None => "/v1/events?limit=200".to_owned(),
        };
        let r = app.get(&path, &admin()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let page = r.body["data"].as_array().unwrap().clone();
        seen.extend(page.iter().map(|e| e["resource_id"].as_str().unwrap().to_owned()));
        *cursor = Some(r.body["next_cursor"].as_str().unwrap().to_owned());
        if page.len() < 200 {
            return;
        }
    }
}

#[actix_web::test]
async fn a_feed_poller_never_passes_an_event_that_commits_later() {
    let app = TestApp::new().await;
    // Transaction A numbers its event first and stays open...
    let mut a = app.db.conn();
    a.batch_execute("BEGIN").unwrap();
    events::emit(&mut a, "contact.updated", "contact", "written-first-committed-last", vec![], None).unwrap();
    // ...while B numbers its event after A's and commits first.
    let b = crate::contacts::create_contact(&app, json!({"email": "second@example.com"})).await;
    let b = b["id"].as_str().unwrap().to_owned();
    let (mut cursor, mut seen) = (None, Vec::new());
    for _ in 0..5 {
        poll(&app, &mut cursor, &mut seen).await;
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    a.batch_execute("COMMIT").unwrap();
    for _ in 0..200 {
        poll(&app, &mut cursor, &mut seen).await;
        if seen.len() >= 2 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen,
        ["written-first-committed-last".to_owned(), b],
        "every committed event, once, in the order of record"
    );
}

#[actix_web::test]
async fn the_audit_trail_does_not_make_writers_wait_on_each_other() {
    let app = TestApp::new().await;
    let mut a = app.db.conn();
    a.batch_execute("BEGIN").unwrap();
    let actor = Actor::new("long-writer", &[Scope::Admin], None);
    audit::record(&mut a, &actor, "contact.updated", "contact", "x", vec!["job_title".into()]).unwrap();
    // A second audited write completes while the first is still open.
    let t = admin();
    let write = app.post("/v1/clients", &t, json!({"name": "Not blocked"}));
    let r = actix_web::rt::time::timeout(Duration::from_secs(3), write)
        .await
        .expect("the write waited on the open transaction");
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The open transaction holds sealing back (its entry comes first in the
    // order of record), never the writers.
    a.batch_execute("COMMIT").unwrap();
    app.seal().await;
    let entries = app.get("/v1/audit", &admin()).await.body["data"].as_array().unwrap().clone();
    let actions: Vec<(&str, i64)> =
        entries.iter().map(|e| (e["actor"].as_str().unwrap(), e["seq"].as_i64().unwrap())).collect();
    assert_eq!(actions, [("long-writer", 1), ("tester", 2)]);
}

#[actix_web::test]
async fn sealing_chains_signs_checkpoints_and_proves_the_trail_extends_one() {
    let app = TestApp::new().await;
    let t = admin();
    for i in 0..3 {
        crate::clients::create_client(&app, json!({"name": format!("C{i}")})).await;
    }
    assert_eq!(app.get("/v1/audit/verify", &t).await.body, json!({"ok": true, "entries": 0, "unsealed": 3}));
    assert_eq!(app.seal().await, 3);
    assert_eq!(app.get("/v1/audit/verify", &t).await.body, json!({"ok": true, "entries": 3, "unsealed": 0}));

    // The checkpoint, its signature and the public key agree.
    let cps = app.get("/v1/audit/checkpoints", &token("audit:read")).await;
    assert_eq!(cps.status, StatusCode::OK, "{}", cps.body);
    let cp = cps.body["data"][0].clone();
    assert_eq!(cp["seq"], 3);
    let key = app.get("/v1/audit/public-key", &t).await.body;
    assert_eq!(key["alg"], "Ed25519");
    let signature = base64_decode(cp["signature"].as_str().unwrap());
    let public = base64_decode(key["key"].as_str().unwrap());
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
    let text = format!("clientele-audit:3:{}", cp["hash"].as_str().unwrap());
    public
        .verify_strict(text.as_bytes(), &ed25519_dalek::Signature::from_slice(&signature).unwrap())
        .expect("the checkpoint is signed by the published key");
    let head = app.get("/v1/audit?limit=200", &t).await.body["data"][2].clone();
    assert_eq!(head["hash"], cp["hash"]);
    // The checkpoint event is in the feed for audit readers.
    app.settle().await;
    let feed = app.get("/v1/events?type=audit.checkpoint", &token("audit:read")).await;
    assert_eq!(feed.body["data"][0]["data"]["seq"], 3, "{}", feed.body);

    // Kept outside, the checkpoint proves later that the trail still extends it.
    crate::clients::create_client(&app, json!({"name": "After"})).await;
    app.seal().await;
    let proof = app.post("/v1/audit/verify", &t, cp.clone()).await;
    assert_eq!(proof.status, StatusCode::OK, "{}", proof.body);
    assert_eq!(proof.body, json!({"ok": true, "entries": 4, "unsealed": 0}));
    let mut forged = cp.clone();
    forged["hash"] = json!("00".repeat(32));
    let r = app.post("/v1/audit/verify", &t, forged).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a signature that does not match is refused");
    assert_eq!(r.error_fields(), ["signature"]);
    let r = app.post("/v1/audit/verify", &t, json!({"seq": 0, "bogus": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields().len(), 3, "seq, hash and the unknown field: {}", r.body);

    // Someone with the database rewrites history, head and checkpoints included:
    // only the checkpoint held outside tells.
    let mut conn = app.db.conn();
    conn.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
         DELETE FROM audit_log WHERE seq >= 2; DELETE FROM audit_checkpoints;
         UPDATE audit_head SET seq = 1, hash = (SELECT hash FROM audit_log WHERE seq = 1);",
    )
    .unwrap();
    assert_eq!(app.get("/v1/audit/verify", &t).await.body["ok"], true, "consistent from the inside");
    let proof = app.post("/v1/audit/verify", &t, cp).await.body;
    assert_eq!((proof["ok"].clone(), proof["broken_at"].clone()), (json!(false), json!(3)), "{proof}");
}

#[actix_web::test]
async fn verify_catches_a_rewritten_entry_even_with_the_head_moved_along() {
    let app = TestApp::new().await;
    for i in 0..2 {
        crate::clients::create_client(&app, json!({"name": format!("C{i}")})).await;
    }
    app.seal().await;
    // Rewrite entry 2's hash and move the head along with it.
    let mut conn = app.db.conn();
    conn.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
         UPDATE audit_log SET hash = '\\x00' || substring(hash from 2) WHERE seq = 2;
         UPDATE audit_head SET hash = (SELECT hash FROM audit_log WHERE seq = 2);",
    )
    .unwrap();
    let v = app.get("/v1/audit/verify", &admin()).await.body;
    assert_eq!(v["ok"], false);
    assert_eq!(v["broken_at"], 2);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Follows a sync from `token` (or from scratch) to its last page.
pub async fn sync(app: &TestApp, resource: &str, token: Option<&str>) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut path = match token {
        Some(t) => format!("/v1/sync/{resource}?limit=2&token={t}"),
        None => format!("/v1/sync/{resource}?limit=2"),
    };
    loop {
        let r = app.get(&path, &admin()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        items.extend(r.body["data"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => {
                assert!(r.body["sync_token"].is_null());
                path = format!("/v1/sync/{resource}?limit=2&after={c}");
            }
            None => return (items, r.body["sync_token"].as_str().unwrap().to_owned()),
        }
    }
}

#[actix_web::test]
async fn sync_gives_every_row_then_changes_and_tombstones() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = crate::contacts::create_contact(&app, json!({"email": format!("s{i}@example.com")})).await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    app.settle().await;
    let (all, t1) = sync(&app, "contacts", None).await;
    let got: Vec<&str> = all.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>(), "every row, by id");
    assert_eq!(all[0]["email"], "s0@example.com", "rows in their API shape");

    let (none, t2) = sync(&app, "contacts", Some(&t1)).await;
    assert!(none.is_empty(), "nothing changed since the full read: {none:?}");

    app.patch(&format!("/v1/contacts/{}", ids[1]), &admin(), json!({"job_title": "CFO"})).await;
    app.patch(&format!("/v1/contacts/{}", ids[1]), &admin(), json!({"job_title": "CEO"})).await;
    assert_eq!(app.delete(&format!("/v1/contacts/{}", ids[2]), &admin()).await.status, StatusCode::NO_CONTENT);
    let r = app.post("/v1/dsar", &admin(), json!({"type": "erasure", "subject": {"contact_id": ids[3]}})).await;
    let dsar = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&format!("/v1/dsar/{dsar}/process"), &admin(), json!({})).await.status, StatusCode::OK);
    let added = crate::contacts::create_contact(&app, json!({"email": "new@example.com"})).await;
    app.settle().await;
    let (changes, t3) = sync(&app, "contacts", Some(&t2)).await;
    let by_id = |id: &str| changes.iter().filter(|c| c["id"] == id).cloned().collect::<Vec<_>>();
    assert_eq!(by_id(&ids[1]).len(), 1, "a row changed twice comes once: {changes:?}");
    assert_eq!(by_id(&ids[1])[0]["job_title"], "CEO", "in its current shape");
    assert_eq!(by_id(&ids[2]), [json!({"id": ids[2], "deleted": true, "reason": "deleted", "merged_into": null})]);
    assert_eq!(by_id(&ids[3]), [json!({"id": ids[3], "deleted": true, "reason": "erased", "merged_into": null})]);
    assert_eq!(by_id(added["id"].as_str().unwrap()).len(), 1);
    assert!(by_id(&ids[0]).is_empty() && by_id(&ids[4]).is_empty(), "unchanged rows stay out");
    assert!(!serde_json::to_string(&changes).unwrap().contains("s3@example.com"), "no data of the erased");

    // Tokens are per resource, and expire with the change history.
    let r = app.get(&format!("/v1/sync/orders?token={t3}"), &admin()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&format!("/v1/sync/contacts?token={t3}"), &token("orders:read")).await.status,
        StatusCode::FORBIDDEN
    );
    let mut conn = app.db.conn();
    clientele::services::events::purge(&mut conn, 0).unwrap();
    let r = app.get(&format!("/v1/sync/contacts?token={t1}"), &admin()).await;
    assert_eq!(r.status, StatusCode::GONE, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
}

#[actix_web::test]
async fn a_sync_token_never_skips_a_change_that_commits_later() {
    let app = TestApp::new().await;
    let first = crate::contacts::create_contact(&app, json!({"email": "first@example.com"})).await;
    let first = first["id"].as_str().unwrap().to_owned();
    app.settle().await;
    let (_, token) = sync(&app, "contacts", None).await;
    // A changes `first` and stays open; B creates another contact and commits.
    let mut a = app.db.conn();
    a.batch_execute("BEGIN").unwrap();
    diesel::sql_query("UPDATE contacts SET job_title = 'Late', version = version + 1 WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&first)
        .execute(&mut a)
        .unwrap();
    events::emit(&mut a, "contact.updated", "contact", &first, vec!["job_title".into()], None).unwrap();
    crate::contacts::create_contact(&app, json!({"email": "second@example.com"})).await;
    let (early, token_b) = sync(&app, "contacts", Some(&token)).await;
    assert!(early.is_empty(), "nothing is given past a change still running: {early:?}");
    a.batch_execute("COMMIT").unwrap();
    app.settle().await;
    let (late, _) = sync(&app, "contacts", Some(&token_b)).await;
    let got: Vec<(&str, &Value)> = late.iter().map(|c| (c["email"].as_str().unwrap(), &c["job_title"])).collect();
    assert_eq!(got, [("first@example.com", &json!("Late")), ("second@example.com", &Value::Null)]);
}

#[actix_web::test]
async fn metrics_show_how_long_the_oldest_transaction_holds_the_feed_back() {
    let app = TestApp::new().await;
    let mut a = app.db.conn();
    a.batch_execute("BEGIN; SELECT pg_current_xact_id();").unwrap();
    crate::clients::create_client(&app, json!({"name": "Waiting to be sealed"})).await;
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let lag = clientele::record::sealer::lag(&mut app.db.conn()).unwrap();
    assert!(lag.horizon_seconds >= 1.0, "{lag:?}");
    assert!(lag.unsealed >= 1 && lag.seal_seconds >= 1.0, "{lag:?}");
    app.state.metrics.set_record_lag(&lag);
    let text =
        String::from_utf8(app.send(actix_web::http::Method::GET, "/metrics", None, None, &[]).await.raw).unwrap();
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {text}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert!(value("record_horizon_lag_seconds") >= 1.0);
    assert!(value("audit_seal_lag_seconds") >= 1.0);
    assert!(value("audit_unsealed_entries") >= 1.0);
    a.batch_execute("COMMIT").unwrap();
}
