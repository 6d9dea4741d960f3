//! Health, readiness, metrics, docs, the OpenAPI snapshot, a real socket.

use std::io::{Read, Write};

use actix_web::http::{Method, StatusCode};

use crate::helpers::{TestApp, TestDb, admin, config, keys};
use clientele::state::AppState;

#[actix_web::test]
async fn health_ready_metrics_and_docs_answer() {
    let app = TestApp::new().await;
    let r = app.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    let r = app.send(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    // A request first, so the route has a sample.
    app.get("/v1/clients", &admin()).await;
    let r = app.send(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = String::from_utf8(r.raw).unwrap();
    assert!(text.contains("http_requests_total{method=\"GET\",route=\"/v1/clients\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections{state=\"max\"} 4"));
    let r = app.send(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["info"]["title"], "Clientele");
    let r = app.send(Method::GET, "/docs/", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.raw).contains("swagger"), "Swagger UI is served from the binary");
}

#[actix_web::test]
async fn committed_openapi_matches_the_binary() {
    let generated = serde_json::to_string_pretty(&clientele::openapi()).unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
        .expect("openapi/openapi.json is committed");
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[actix_web::test]
async fn database_down_gives_503_with_retry_after_and_health_stays_up() {
    let db = TestDb::new();
    // Nothing listens on port 9: connections are refused at once.
    let mut cfg = config("postgres://postgres@127.0.0.1:9/nowhere");
    cfg.pool_timeout = std::time::Duration::from_millis(300);
    let app = TestApp::with_state(db, AppState::new(cfg, keys())).await;
    let started = std::time::Instant::now();
    let r = app.send(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    let r = app.get("/v1/clients", &admin()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.body["status"], 503);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "no hang");
    let r = app.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// One test on a real socket: HTTP/1.1 through the real server.
#[actix_web::test]
async fn real_socket_round_trip() {
    let db = TestDb::new();
    let state = AppState::new(config(&db.url), keys());
    let server =
        actix_web::HttpServer::new(move || clientele::build_app(state.clone())).workers(1).bind("127.0.0.1:0").unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let token = admin();
    let answer = actix_web::web::block(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let body = r#"{"name":"Socket SAS"}"#;
        write!(
            s,
            "POST /v1/clients HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: sock-1\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-request-id: sock-1"));
    assert!(answer.contains("\"name\":\"Socket SAS\""));
    handle.stop(true).await;
}
