//! The binary: `serve` (database creation, migrations, logs, SIGTERM), `token create`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{SECRET, db::server_url, keys};

const BIN: &str = env!("CARGO_BIN_EXE_clientele");

fn http(addr: &str, request: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serve_creates_the_database_logs_no_personal_data_and_drains_on_sigterm() {
    let name = format!("clientele_serve_{}", uuid::Uuid::now_v7().simple());
    let mut url = url::Url::parse(&server_url()).unwrap();
    url.set_path(&format!("/{name}"));
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", url.as_str())
        .env("CLIENTELE_BIND", &addr)
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .env("CLIENTELE_SUPPRESSION_KEY", crate::helpers::SUPPRESSION_KEY)
        .env("CLIENTELE_AUDIT_SIGNING_KEY", crate::helpers::AUDIT_SIGNING_KEY)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let ready = loop {
        if let Some(a) = http(&addr, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            && a.starts_with("HTTP/1.1 200")
        {
            break true;
        }
        if started.elapsed() > Duration::from_secs(30) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let token = keys().mint("cli-test", "admin", 600, None).unwrap();
    let body = r#"{"email":"secret.person@example.com","first_name":"Zébulon","phone":"+33699887766"}"#;
    let created = http(
        &addr,
        &format!(
            "POST /v1/contacts?email=secret.person@example.com HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap_or_default();
    // A request still arriving when SIGTERM comes must complete.
    let late = r#"{"name":"Late SAS"}"#;
    let mut inflight = TcpStream::connect(&addr).unwrap();
    inflight.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        inflight,
        "POST /v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        late.len(),
        &late[..5]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    inflight.write_all(&late.as_bytes()[5..]).unwrap();
    let mut late_answer = String::new();
    let _ = inflight.read_to_string(&mut late_answer);
    let status = child.wait().unwrap();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    // Drop the database the server created.
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    use diesel::{Connection, connection::SimpleConnection};
    let mut admin = diesel::PgConnection::establish(admin_url.as_str()).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();

    assert!(ready, "serve never became ready; logs:\n{logs}");
    // The unknown query parameter makes this a 422; what matters is that it was logged safely.
    assert!(created.starts_with("HTTP/1.1 "), "{created}");
    assert!(status.success(), "exit status {status:?}; logs:\n{logs}");
    assert!(late_answer.starts_with("HTTP/1.1 201"), "in-flight request finished: {late_answer}");
    assert!(logs.contains("\"message\":\"request\""), "JSON request logs: {logs}");
    assert!(logs.contains("created database"));
    for secret in ["secret.person", "Zébulon", "33699887766", token.as_str(), SECRET] {
        assert!(!logs.contains(secret), "logs leak `{secret}`:\n{logs}");
    }
}

#[test]
fn serve_without_a_key_refuses_to_start() {
    let out = Command::new(BIN)
        .arg("serve")
        .env_remove("CLIENTELE_JWT_SECRET")
        .env_remove("CLIENTELE_JWT_PUBLIC_KEY_FILE")
        .env("CLIENTELE_BIND", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no token key configured"));
}

#[test]
fn token_create_prints_a_verifiable_token() {
    let out = Command::new(BIN)
        .args(["token", "create", "--sub", "shop-plugin", "--scope", "orders:write contacts:read", "--ttl", "2h"])
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let claims = keys().verify(token.trim()).unwrap();
    assert_eq!(claims.sub, "shop-plugin");
    assert_eq!(claims.scope.as_deref(), Some("orders:write contacts:read"));
    assert!((claims.exp - claims.iat - 7200).abs() <= 1);
    assert!(claims.jti.is_some());
    let bad = Command::new(BIN)
        .args(["token", "create", "--sub", "x", "--scope", "everything"])
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
