//! TLS to Postgres (API.md §11): the local server gets a certificate from a
//! CA made here, and the service connects with `sslmode=require` and
//! `verify-full` (`CLIENTELE_DATABASE_CA_FILE`); a certificate from another
//! CA is refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::helpers::{TestApp, TestDb, config, keys};

/// Where the test CA and the server's certificate live: beside the cluster,
/// so the files outlive reboots as long as the configuration pointing at them.
const DIR: &str = "/var/lib/postgresql/clientele-test-tls";

fn openssl(args: &[&str], dir: &Path) {
    let ok = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(ok.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&ok.stderr));
}

/// Makes a CA and a certificate for 127.0.0.1/localhost signed by it.
fn make_ca(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let subj = format!("/CN={name}");
    openssl(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
            "-subj", &subj,
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        dir,
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "3650",
            "-extfile",
            "san.ext",
        ],
        dir,
    );
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

fn show(conn: &mut PgConnection, name: &str) -> String {
    diesel::sql_query(format!("SELECT current_setting('{name}') AS v")).get_result::<Setting>(conn).unwrap().v
}

/// The CA that signed the local server's certificate, turning TLS on with
/// it (once per machine: later runs find it in place).
fn server_ca() -> &'static Path {
    static CA: OnceLock<PathBuf> = OnceLock::new();
    CA.get_or_init(|| {
        let dir = PathBuf::from(DIR);
        let cert = dir.join("server.crt");
        let mut admin =
            PgConnection::establish(&format!("{}?sslmode=disable", crate::helpers::db::server_url())).unwrap();
        admin.batch_execute("SELECT pg_advisory_lock(77002)").unwrap();
        let ours = show(&mut admin, "ssl") == "on" && show(&mut admin, "ssl_cert_file") == cert.to_string_lossy();
        if !ours || !cert.exists() {
            make_ca(&dir, "Clientele test CA");
            // The server reads the key as its own user, which must own it alone.
            let _ = Command::new("chown").args(["-R", "postgres:postgres", DIR]).status();
            let _ = Command::new("chmod").args(["600", &dir.join("server.key").to_string_lossy()]).status();
            // One statement at a time: ALTER SYSTEM refuses a transaction block.
            for sql in [
                format!("ALTER SYSTEM SET ssl_cert_file = '{}'", cert.display()),
                format!("ALTER SYSTEM SET ssl_key_file = '{}'", dir.join("server.key").display()),
                "ALTER SYSTEM SET ssl = on".into(),
                "SELECT pg_reload_conf()".into(),
            ] {
                admin.batch_execute(&sql).unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        admin.batch_execute("SELECT pg_advisory_unlock(77002)").unwrap();
        dir.join("ca.crt")
    })
}

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
}

async fn over_tls(state: &clientele::state::AppState) -> Result<bool, clientele::error::AppError> {
    clientele::db::run(&state.pool, |c| {
        Ok(diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").get_result::<Ssl>(c)?.ssl)
    })
    .await
}

#[actix_web::test]
async fn the_service_talks_to_postgres_over_tls_and_checks_its_certificate() {
    let ca = server_ca().to_string_lossy().into_owned();
    let db = TestDb::new();
    let state = |url: String| {
        let mut cfg = config(&url);
        cfg.pool_timeout = std::time::Duration::from_millis(2000);
        clientele::state::AppState::new(cfg, keys())
    };

    // sslmode=require: encrypted, whoever signed the certificate.
    assert!(over_tls(&state(format!("{}?sslmode=require", db.url))).await.unwrap(), "sslmode=require");

    // verify-full with our CA, as CLIENTELE_DATABASE_CA_FILE sets it: certificate and host checked.
    let url = clientele::config::database_url_with_ca(&db.url, &ca).unwrap();
    assert!(url.contains("sslmode=verify-full") && url.contains("sslrootcert="), "{url}");
    let verified = state(url);
    assert!(over_tls(&verified).await.unwrap());
    let app = TestApp::with_state(db, verified).await;
    assert_eq!(app.get("/readyz", "").await.status, StatusCode::OK);
    let created = crate::clients::create_client(&app, serde_json::json!({"name": "Chiffré SAS"})).await;
    assert!(created["id"].is_string());

    // A CA that did not sign the server's certificate: no connection.
    let other = std::env::temp_dir().join(format!("clientele-other-ca-{}", uuid::Uuid::now_v7().simple()));
    make_ca(&other, "Someone else");
    let wrong = clientele::config::database_url_with_ca(&app.db.url, &other.join("ca.crt").to_string_lossy()).unwrap();
    let refused = over_tls(&state(wrong)).await;
    assert!(matches!(refused, Err(clientele::error::AppError::Unavailable(_))), "{refused:?}");
    let _ = std::fs::remove_dir_all(other);
    assert!(clientele::config::database_url_with_ca(&app.db.url, "/nonexistent/ca.pem").is_err());
}
