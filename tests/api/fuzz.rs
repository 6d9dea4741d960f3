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

/// A path the API has, asked with a method it does not take: 405 with
/// `Allow` naming the methods it does take (RFC 9110 §15.5.6), as a problem.
#[actix_web::test]
async fn undeclared_methods_on_known_paths_are_405_with_allow() {
    let app = TestApp::new().await;
    let t = admin();
    let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    for (method, path, allow) in [
        (Method::TRACE, "/graphql".to_owned(), "GET, POST"),
        (Method::PUT, "/v1/clients".to_owned(), "GET, POST"),
        (Method::POST, format!("/v1/clients/{id}"), "GET, PATCH, DELETE"),
        (Method::DELETE, "/v1/orders/batch".to_owned(), "POST"),
        (Method::GET, "/v1/orders/external/shopify/1".to_owned(), "PUT"),
        (Method::OPTIONS, "/healthz".to_owned(), "GET"),
    ] {
        let r = app.send(method.clone(), &path, Some(&t), None, &[]).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {}", r.body);
        assert_eq!(r.header("allow").as_deref(), Some(allow), "{method} {path}");
        assert_eq!(r.header("content-type").unwrap(), "application/problem+json");
        assert_eq!(r.body["status"], 405);
        assert_eq!(r.body["instance"], Value::String(path.clone()));
    }
    // Without a token too: the document is public, the answer reveals nothing more.
    let r = app.send(Method::PUT, "/v1/contacts", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // Paths the API does not have stay 404.
    for path in ["/v1/nothing", "/v1/clients/", "/graphql/x"] {
        let r = app.send(Method::PUT, path, Some(&t), None, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.header("allow").is_none());
    }
}
