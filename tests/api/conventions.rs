//! API.md §3 conventions: problems, media types, sizes, idempotency, request ids, caching, CORS.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use serde_json::json;

use crate::helpers::{TestApp, admin, token};

#[actix_web::test]
async fn malformed_json_is_400_and_wrong_media_type_415() {
    let app = TestApp::new().await;
    let req = TestRequest::post()
        .uri("/v1/clients")
        .insert_header(("authorization", format!("Bearer {}", admin())))
        .insert_header(("content-type", "application/json"))
        .set_payload("{\"name\": ")
        .to_request();
    let r = app.raw(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("content-type").unwrap(), "application/problem+json");
    assert_eq!(r.body["title"], "Malformed request");
    let req = TestRequest::post()
        .uri("/v1/clients")
        .insert_header(("authorization", format!("Bearer {}", admin())))
        .insert_header(("content-type", "text/plain"))
        .set_payload("name=x")
        .to_request();
    assert_eq!(app.raw(req).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app.post("/v1/clients", &admin(), json!([1, 2])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn body_over_one_mib_is_413() {
    let app = TestApp::new().await;
    let big = json!({"name": "x", "custom_fields": {"blob": "a".repeat(1 << 20)}});
    let r = app.post("/v1/clients", &admin(), big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["status"], 413);
}

#[actix_web::test]
async fn unknown_route_and_bad_id_are_404_problems() {
    let app = TestApp::new().await;
    let r = app.get("/v1/nothing-here", &admin()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("content-type").unwrap(), "application/problem+json");
    let r = app.get("/v1/clients/not-a-uuid", &admin()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["instance"], "/v1/clients/not-a-uuid");
}

#[actix_web::test]
async fn request_id_is_echoed_or_made_and_answers_are_not_cached() {
    let app = TestApp::new().await;
    let r = app.send(Method::GET, "/v1/clients", Some(&admin()), None, &[("x-request-id", "abc-123")]).await;
    assert_eq!(r.header("x-request-id").unwrap(), "abc-123");
    assert_eq!(r.header("cache-control").unwrap(), "no-store");
    let r = app.get("/v1/clients/00000000-0000-0000-0000-000000000000", &admin()).await;
    let made = r.header("x-request-id").unwrap();
    assert_eq!(r.body["request_id"], made.as_str(), "the problem quotes the request id");
    let r = app.send(Method::GET, "/healthz", None, None, &[("x-request-id", "bad id with spaces")]).await;
    assert_ne!(r.header("x-request-id").unwrap(), "bad id with spaces");
}

#[actix_web::test]
async fn idempotency_key_replays_refuses_other_bodies_and_is_per_subject() {
    let app = TestApp::new().await;
    let t = admin();
    let body = json!({"name": "Once SAS"});
    let first = app.send(Method::POST, "/v1/clients", Some(&t), Some(&body), &[("idempotency-key", "k-1")]).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.send(Method::POST, "/v1/clients", Some(&t), Some(&body), &[("idempotency-key", "k-1")]).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    let list = app.get("/v1/clients", &t).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "created once");
    let other = app
        .send(Method::POST, "/v1/clients", Some(&t), Some(&json!({"name": "Twice"})), &[("idempotency-key", "k-1")])
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another subject has its own key space.
    let someone = clientele::auth::JwtKeys::from_secret(crate::helpers::SECRET, "clientele", "clientele")
        .unwrap()
        .mint("someone-else", "admin", 600, None)
        .unwrap();
    let theirs =
        app.send(Method::POST, "/v1/clients", Some(&someone), Some(&body), &[("idempotency-key", "k-1")]).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.body["id"], first.body["id"]);
    // A validation failure is remembered too (same answer on retry).
    let bad = json!({"name": ""});
    let r1 = app.send(Method::POST, "/v1/clients", Some(&t), Some(&bad), &[("idempotency-key", "k-2")]).await;
    let r2 = app.send(Method::POST, "/v1/clients", Some(&t), Some(&bad), &[("idempotency-key", "k-2")]).await;
    assert_eq!((r1.status, r2.status), (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::UNPROCESSABLE_ENTITY));
}

#[actix_web::test]
async fn idempotency_key_in_progress_is_409() {
    let app = TestApp::new().await;
    let t = token("admin");
    use diesel::prelude::*;
    let mut conn = app.db.conn();
    diesel::sql_query("INSERT INTO idempotency_keys (subject, key, request_hash) VALUES ('tester', 'busy', '\\x00')")
        .execute(&mut conn)
        .unwrap();
    let r = app
        .send(Method::POST, "/v1/clients", Some(&t), Some(&json!({"name": "X"})), &[("idempotency-key", "busy")])
        .await;
    // Stored hash differs from this body: 422; an identical in-flight request would be 409.
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"/v1/clients?\n{\"name\":\"X\"}");
    diesel::sql_query("UPDATE idempotency_keys SET request_hash = $1 WHERE key = 'busy'")
        .bind::<diesel::sql_types::Bytea, _>(h.finalize().to_vec())
        .execute(&mut conn)
        .unwrap();
    let r = app
        .send(Method::POST, "/v1/clients", Some(&t), Some(&json!({"name": "X"})), &[("idempotency-key", "busy")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[actix_web::test]
async fn cors_answers_only_configured_origins() {
    let app = TestApp::new().await;
    let r = app.send(Method::GET, "/v1/clients", Some(&admin()), None, &[("origin", "https://crm.example.com")]).await;
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("https://crm.example.com"));
    let r = app.send(Method::GET, "/v1/clients", Some(&admin()), None, &[("origin", "https://evil.example")]).await;
    assert!(r.header("access-control-allow-origin").is_none());
    // The rate-limit headers are readable by the page.
    let r = app.send(Method::GET, "/v1/clients", Some(&admin()), None, &[("origin", "https://crm.example.com")]).await;
    let exposed = r.header("access-control-expose-headers").unwrap_or_default().to_lowercase();
    for h in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "etag"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    // A refused preflight says so: a 403 problem, not "malformed request".
    let preflight = |origin: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ]
    };
    let r = app.send(Method::OPTIONS, "/v1/clients", None, None, &preflight("https://evil.example")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    assert_eq!(r.body["type"], "/problems/cors-refused");
    let r = app.send(Method::OPTIONS, "/v1/clients", None, None, &preflight("https://crm.example.com")).await;
    assert!(r.status.is_success(), "{}", r.status);
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::new().await;
    for (path, token) in [("/v1/clients", Some(admin())), ("/v1/clients", None), ("/healthz", None), ("/nope", None)] {
        let r = app.send(Method::GET, path, token.as_deref(), None, &[]).await;
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    // The docs pages: their own assets only, never framed, cached; and no call to swagger.io's validator.
    let r = app.send(Method::GET, "/docs/", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("http"),
        "{csp}"
    );
    let init = app.send(Method::GET, "/docs/swagger-initializer.js", None, None, &[]).await;
    assert_eq!(init.status, StatusCode::OK);
    let js = String::from_utf8_lossy(&init.raw);
    assert!(js.contains("\"validatorUrl\": \"none\""), "{js}");
    assert!(init.header("cache-control").unwrap().contains("max-age"));
}

#[actix_web::test]
async fn nul_characters_are_refused_at_the_edge_not_by_postgres() {
    let app = TestApp::new().await;
    let t = admin();
    // Found by Schemathesis: GET /v1/clients?tag=%00 was a 500.
    let r = app.get("/v1/clients?tag=a%00b", &t).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), vec!["tag"]);
    let r = app.post("/v1/clients", &t, json!({"name": "A\u{0}B", "tags": ["x\u{0}"]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["name", "tags"]);
    let r = app
        .put(
            "/v1/orders/external/shop/x%00y",
            &t,
            json!({"status": "paid", "currency": "EUR", "total_cents": 1, "client_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.patch("/v1/purposes/a%00b", &t, json!({"description": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let control = clientele::auth::JwtKeys::from_secret(crate::helpers::SECRET, "clientele", "clientele")
        .unwrap()
        .mint("evil\u{0}sub", "admin", 60, None)
        .unwrap();
    assert_eq!(app.get("/v1/clients", &control).await.status, StatusCode::UNAUTHORIZED);
}
