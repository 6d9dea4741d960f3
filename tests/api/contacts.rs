//! `/v1/contacts` and interactions.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin};

pub async fn create_contact(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/contacts", &admin(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

#[actix_web::test]
async fn contact_fields_validation_and_unique_email() {
    let app = TestApp::new().await;
    let t = admin();
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let c = create_contact(
        &app,
        json!({"client_id": client["id"], "first_name": "Jeanne", "last_name": "Martin", "email": "Jeanne.Martin@Example.com",
               "phone": "+33 6 12 34 56 78", "job_title": "CTO", "birth_date": "1980-02-29", "lawful_basis": "contract",
               "source": "salon", "tags": ["lead"]}),
    )
    .await;
    assert_eq!(c["phone"], "+33612345678");
    assert_eq!(c["status"], "prospect");
    assert_eq!(c["restricted"], false);
    assert_eq!(c["email"], "Jeanne.Martin@Example.com");
    let r = app.post("/v1/contacts", &t, json!({"email": "jeanne.martin@example.COM", "last_name": "Dup"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "emails are unique case-insensitively");
    assert_eq!(r.error_fields(), vec!["email"]);

    let r = app
        .post(
            "/v1/contacts",
            &t,
            json!({"email": "not-an-email", "phone": "0612", "birth_date": "2999-01-01", "lawful_basis": "whim",
                   "restricted": true, "client_id": "not-a-uuid"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = r.error_fields();
    for f in ["email", "phone", "birth_date", "lawful_basis", "restricted", "client_id"] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }
    assert!(!r.raw.windows(12).any(|w| w == b"not-an-email"), "problems never echo values");
    let r = app.post("/v1/contacts", &t, json!({"first_name": "Only"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.post("/v1/contacts", &t, json!({"last_name": "X", "client_id": uuid::Uuid::now_v7()})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown client");
    assert_eq!(r.error_fields(), vec!["client_id"]);

    let list = app.get(&format!("/v1/clients/{}/contacts", client["id"].as_str().unwrap()), &t).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let by_email = app.get("/v1/contacts?email=JEANNE.martin@example.com", &t).await;
    assert_eq!(by_email.body["data"][0]["id"], c["id"]);
    let by_q = app.get("/v1/contacts?q=mar", &t).await;
    assert_eq!(by_q.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/contacts?tag=lead&status=prospect", &t).await.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/contacts?tag=nope", &t).await.body["data"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn only_inbound_interactions_move_the_retention_clock() {
    let app = TestApp::new().await;
    let t = admin();
    let c = create_contact(&app, json!({"email": "p@example.com"})).await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/v1/contacts/{id}/interactions");
    let r = app.post(&path, &t, json!({"kind": "email", "direction": "outbound", "occurred_at": "2026-01-10T10:00:00Z", "summary": "newsletter"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &t).await.body["last_interaction_at"], Value::Null);
    let r = app
        .post(&path, &t, json!({"kind": "call", "direction": "inbound", "occurred_at": "2026-02-01T09:30:00Z"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["created_by"], "tester");
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &t).await.body["last_interaction_at"], "2026-02-01T09:30:00Z");
    // An older inbound interaction does not move it back.
    app.post(&path, &t, json!({"kind": "meeting", "direction": "inbound", "occurred_at": "2025-05-01T09:30:00Z"}))
        .await;
    assert_eq!(app.get(&format!("/v1/contacts/{id}"), &t).await.body["last_interaction_at"], "2026-02-01T09:30:00Z");

    let r = app.post(&path, &t, json!({"kind": "fax", "summary": "x".repeat(2001)})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = r.error_fields();
    for f in ["kind", "direction", "summary"] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }
    let list = app.get(&format!("{path}?limit=2"), &t).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
    let next = list.body["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("{path}?limit=2&after={next}"), &t).await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let missing = app
        .post(
            &format!("/v1/contacts/{}/interactions", uuid::Uuid::now_v7()),
            &t,
            json!({"kind": "call", "direction": "inbound"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn restricted_contact_refuses_writes() {
    let app = TestApp::new().await;
    let t = admin();
    let c = create_contact(&app, json!({"email": "r@example.com"})).await;
    let id = c["id"].as_str().unwrap();
    let mut conn = app.db.conn();
    use diesel::prelude::*;
    diesel::sql_query(format!("UPDATE contacts SET restricted = true WHERE id = '{id}'")).execute(&mut conn).unwrap();
    let r = app.patch(&format!("/v1/contacts/{id}"), &t, json!({"first_name": "X"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r =
        app.post(&format!("/v1/contacts/{id}/interactions"), &t, json!({"kind": "call", "direction": "inbound"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(app.delete(&format!("/v1/contacts/{id}"), &t).await.status, StatusCode::CONFLICT);
}
