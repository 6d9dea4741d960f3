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

/// A merge patch with a key that is no field is refused even when its value
/// is null (merging would drop it silently), and a patch that fails
/// validation is a 422 whatever its `If-Match`: 412 is for a valid change
/// aimed at another version.
#[actix_web::test]
async fn merge_patches_refuse_unknown_null_keys_and_validate_before_if_match() {
    let app = TestApp::new().await;
    let t = admin();
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let contact = crate::contacts::create_contact(&app, json!({"email": "ada@example.com"})).await;
    let r = app
        .put(
            "/v1/orders/external/shop/1",
            &t,
            json!({"contact_id": contact["id"], "status": "paid", "currency": "EUR", "total_cents": 100,
                "lines": [{"sku": "A", "name": "Thing", "quantity": 1, "unit_price_cents": 100}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let order = r.body;
    for path in [
        format!("/v1/clients/{}", client["id"].as_str().unwrap()),
        format!("/v1/contacts/{}", contact["id"].as_str().unwrap()),
        format!("/v1/orders/{}", order["id"].as_str().unwrap()),
    ] {
        let version = app.get(&path, &t).await.body["version"].clone();
        for patch in [json!({"": null}), json!({"nope": null, "stats": null})] {
            let r = app.patch(&path, &t, patch.clone()).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {patch}: {}", r.body);
            assert_eq!(r.body["errors"][0]["code"], "unknown_field", "{}", r.body);
        }
        // A bad body on a stale version: the body is judged first.
        let bad = app
            .send(Method::PATCH, &path, Some(&t), Some(&json!({"tags": 5, "status": 7})), &[("if-match", "\"99\"")])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", bad.body);
        // A valid body on a stale version: 412.
        let stale = app.send(Method::PATCH, &path, Some(&t), Some(&json!({})), &[("if-match", "\"99\"")]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{path}: {}", stale.body);
        assert_eq!(app.get(&path, &t).await.body["version"], version, "{path} unchanged");
    }
}

/// The upsert checks the body as sent before the path fills in `source` and
/// `external_id`: a value of the wrong type is a failing field.
#[actix_web::test]
async fn upsert_refuses_a_source_of_the_wrong_type() {
    let app = TestApp::new().await;
    let t = admin();
    let contact = crate::contacts::create_contact(&app, json!({"email": "bob@example.com"})).await;
    for (field, value) in [("source", json!(5)), ("external_id", json!(["1"])), ("source", json!({}))] {
        let mut body =
            json!({"contact_id": contact["id"], "status": "paid", "currency": "EUR", "total_cents": 0, "lines": []});
        body[field] = value.clone();
        let r = app.put("/v1/orders/external/shop/2", &t, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}: {}", r.body);
        assert_eq!(r.error_fields(), vec![field.to_owned()], "{}", r.body);
    }
    let r = app.get("/v1/orders?source=shop", &t).await;
    assert_eq!(r.body["data"], json!([]), "nothing written");
}

/// GraphQL variables are an object; an array is not a GraphQL request (400),
/// not a 200 with an error.
#[actix_web::test]
async fn graphql_variables_must_be_an_object() {
    let app = TestApp::new().await;
    let body = json!({"query": "{ purposes { key } }", "variables": [null, null]});
    let r = app.send(Method::POST, "/graphql", Some(&admin()), Some(&body), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let body = json!({"query": "{ purposes { key } }", "variables": {}});
    let r = app.send(Method::POST, "/graphql", Some(&admin()), Some(&body), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A malformed `If-Match` is a 422 naming the header (the document gives its
/// grammar); an empty one too.
#[actix_web::test]
async fn a_malformed_if_match_is_a_422() {
    let app = TestApp::new().await;
    let t = admin();
    let client = crate::clients::create_client(&app, json!({"name": "Acme"})).await;
    let path = format!("/v1/clients/{}", client["id"].as_str().unwrap());
    for bad in ["g", "null", "1", ""] {
        let r = app.send(Method::PATCH, &path, Some(&t), Some(&json!({})), &[("if-match", bad)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", r.body);
        assert_eq!(r.error_fields(), vec!["If-Match".to_owned()]);
    }
    let r =
        app.send(Method::PATCH, &path, Some(&t), Some(&json!({"name": "B"})), &[("if-match", "W/\"1\", \"1\"")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Deleting an order that is gone (deleted before, or never there) is a 404,
/// as documented, never a 422; a read after the deletion is a 404 too.
#[actix_web::test]
async fn deleting_a_deleted_order_is_a_404() {
    let app = TestApp::new().await;
    let t = admin();
    let contact = crate::contacts::create_contact(&app, json!({"email": "eve@example.com"})).await;
    let body = json!({"contact_id": contact["id"], "status": "paid", "currency": "EUR", "total_cents": 0, "lines": []});
    let r = app.post("/v1/orders", &t, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = format!("/v1/orders/{}", r.body["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, &t).await.status, StatusCode::NO_CONTENT);
    for _ in 0..2 {
        let r = app.delete(&path, &t).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    assert_eq!(app.get(&path, &t).await.status, StatusCode::NOT_FOUND);
    let doc = clientele::openapi();
    assert!(doc["paths"]["/v1/orders/{id}"]["delete"]["responses"].get("404").is_some(), "404 is documented");
}

/// A client name of blanks only (tabs, no-break spaces) is a failing field
/// named `name`, not a database constraint leaking its name.
#[actix_web::test]
async fn a_blank_client_name_is_refused_at_the_edge() {
    let app = TestApp::new().await;
    for name in ["\t", " \u{a0} "] {
        let r = app.post("/v1/clients", &admin(), json!({"name": name})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.error_fields(), vec!["name".to_owned()], "{}", r.body);
    }
}
