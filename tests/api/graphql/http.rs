//! `/graphql` over HTTP on the real app: tokens, body limits, GraphiQL.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use serde_json::json;

use crate::helpers::{TestApp, admin, token};

#[actix_web::test]
async fn post_runs_the_schema_as_the_token() {
    let app = TestApp::new().await;
    super::seed_client(&app, "Acme", 1).await;
    let body = json!({"query": "query Q($n: Int) { clients(first: $n) { nodes { name } } orders { nodes { id } } }",
        "operationName": "Q", "variables": {"n": 5}});
    let r = app.post("/graphql", &token("clients:read"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.body["data"]["clients"]["nodes"][0]["name"], "Acme");
    assert_eq!(r.body["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let r = app
        .post("/graphql", &admin(), json!({"query": "mutation { createClient(input: {name: \"Http SAS\"}) { name } }"}))
        .await;
    assert_eq!(r.body["data"]["createClient"]["name"], "Http SAS", "{}", r.body);
}

#[actix_web::test]
async fn no_or_bad_token_is_a_401_before_anything_runs() {
    let app = TestApp::new().await;
    let mutation = json!({"query": "mutation { createClient(input: {name: \"Sneaky\"}) { id } }"});
    let r = app.send(Method::POST, "/graphql", None, Some(&mutation), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(r.body["instance"], "/graphql");
    let r = app.post("/graphql", "not.a.token", mutation.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
    // Not even a malformed body is looked at first.
    let req = TestRequest::post().uri("/graphql").insert_header(("content-type", "application/json")).set_payload("{");
    assert_eq!(app.raw(req.to_request()).await.status, StatusCode::UNAUTHORIZED);
    let list = app.get("/v1/clients", &admin()).await;
    assert_eq!(list.body["data"], json!([]), "nothing was written");
}

#[actix_web::test]
async fn bodies_are_bounded_and_must_be_json_requests() {
    let app = TestApp::new().await;
    let t = admin();
    let huge = json!({"query": format!("{{ clients {{ nodes {{ id }} }} }} #{}", "x".repeat(1 << 20))});
    let r = app.post("/graphql", &t, huge).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without Content-Length (as when chunked): still cut at 1 MiB while reading.
    let mut req = TestRequest::post()
        .uri("/graphql")
        .insert_header(("authorization", format!("Bearer {t}")))
        .insert_header(("content-type", "application/json"))
        .set_payload(vec![b' '; (1 << 20) + 1])
        .to_request();
    req.headers_mut().remove("content-length");
    assert_eq!(app.raw(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);

    let req = TestRequest::post()
        .uri("/graphql")
        .insert_header(("authorization", format!("Bearer {t}")))
        .insert_header(("content-type", "text/plain"))
        .set_payload("{\"query\":\"{ clients { nodes { id } } }\"}");
    assert_eq!(app.raw(req.to_request()).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "no CSRF by simple form");
    let r = app.post("/graphql", &t, json!({"variables": {}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app.send(Method::POST, "/graphql", Some(&t), Some(&json!([{"query": "{ __typename }"}])), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "batches are refused");

    let r = app.post("/graphql", &t, json!({"query": "{ clients { nodes { id } "})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED", "{}", r.body);
}

#[actix_web::test]
async fn get_serves_graphiql_without_a_token() {
    let app = TestApp::new().await;
    let r = app.send(Method::GET, "/graphql", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let csp = r.header("content-security-policy").unwrap();
    let html = String::from_utf8(r.raw).unwrap();
    assert!(html.contains("graphiql") && html.contains("/graphql"));
    // Nothing leaves the machine: every asset the page names is ours, and served.
    assert!(!csp.contains("http"), "{csp}");
    let mut assets = 0;
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let url = part.split('"').next().unwrap();
            assert!(url.starts_with("/graphql/assets/"), "{url} is not served by the binary");
            let a = app.send(Method::GET, url, None, None, &[]).await;
            assert_eq!(a.status, StatusCode::OK, "{url}");
            assert!(a.header("cache-control").unwrap().contains("max-age"), "{url}");
            let body = String::from_utf8_lossy(&a.raw);
            assert!(!body.contains("unpkg.com") && !body.contains("cdn.jsdelivr"), "{url} fetches from a CDN");
            assets += 1;
        }
    }
    assert_eq!(assets, 5, "{html}");
    let react = app.send(Method::GET, "/graphql/assets/react.production.min.js", None, None, &[]).await;
    assert!(String::from_utf8_lossy(&react.raw).contains("production.min.js"), "a production build");
    let init = String::from_utf8(app.send(Method::GET, "/graphql/assets/init.js", None, None, &[]).await.raw).unwrap();
    assert!(init.contains("shouldPersistHeaders: false"), "the token is never kept by the browser");
    assert_eq!(app.send(Method::GET, "/graphql/assets/nope.js", None, None, &[]).await.status, StatusCode::NOT_FOUND);
    let doc = clientele::openapi();
    assert!(doc["paths"].get("/graphql").is_some(), "documented in the OpenAPI document");
}
