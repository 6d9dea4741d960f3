//! What Schemathesis found (issue 15), each as a test that failed before its fix.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin};

/// The largest f64 is stored by Postgres as a 309-digit jsonb numeric; read
/// back, it must parse as the same number (it was a 500: "Invalid Json").
#[actix_web::test]
async fn the_largest_float_in_custom_fields_round_trips() {
    let app = TestApp::new().await;
    let t = admin();
    for n in [f64::MAX, -f64::MAX, f64::MIN_POSITIVE, 5e-324, 1.0000000000000002, 0.1 + 0.2] {
        let r = app.post("/v1/clients", &t, json!({"name": "Big", "custom_fields": {"a": n}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.body);
        assert_eq!(r.body["custom_fields"]["a"].as_f64(), Some(n), "{}", r.body);
        let id = r.body["id"].as_str().unwrap();
        let got = app.get(&format!("/v1/clients/{id}"), &t).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(got.body["custom_fields"], r.body["custom_fields"]);
        assert_eq!(got.body["custom_fields"]["a"].as_f64(), Some(n));
    }
}

/// A number beyond what the server can hold is refused as a failing field,
/// never a 500.
#[actix_web::test]
async fn a_number_out_of_range_is_a_422() {
    let app = TestApp::new().await;
    let req = TestRequest::post()
        .uri("/v1/clients")
        .insert_header(("authorization", format!("Bearer {}", admin())))
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"name": "Huge", "custom_fields": {"a": 1e400}}"#)
        .to_request();
    let r = app.raw(req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.header("content-type").unwrap(), "application/problem+json");
    assert_eq!(r.body["errors"][0]["code"], "number_out_of_range", "{}", r.body);
}
