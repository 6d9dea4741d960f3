//! A database per test, cloned from a template migrated once per run.

use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};

/// Server URL (any database on it) from `CLIENTELE_TEST_DATABASE_URL`.
pub fn server_url() -> String {
    std::env::var("CLIENTELE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn url_for(db: &str) -> String {
    let mut url = url::Url::parse(&server_url()).expect("valid CLIENTELE_TEST_DATABASE_URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

fn admin() -> PgConnection {
    PgConnection::establish(&url_for("postgres")).expect("Postgres is reachable (see README: Running the tests)")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The template's name: a hash of the migrations, so a changed migration
/// makes a new template.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut hasher = Sha256::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<_> = walk(std::path::Path::new(dir));
        files.sort();
        for f in files {
            hasher.update(f.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(&f).expect("readable migration"));
        }
        format!("clientele_tpl_{}", &hex::encode(hasher.finalize())[..16])
    })
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("migrations dir").flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

fn exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Count>(conn)
        .expect("query pg_database")
        .n
        > 0
}

/// Creates the template once per migration set; concurrent test processes
/// wait on an advisory lock.
fn ensure_template() -> &'static str {
    let name = template_name();
    let mut conn = admin();
    if exists(&mut conn, name) {
        return name;
    }
    conn.batch_execute("SELECT pg_advisory_lock(77001)").expect("lock");
    if !exists(&mut conn, name) {
        let tmp = format!("{name}_build");
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {tmp} WITH (FORCE)")).expect("drop stale build");
        conn.batch_execute(&format!("CREATE DATABASE {tmp}")).expect("create");
        {
            let mut db = PgConnection::establish(&url_for(&tmp)).expect("connect template");
            clientele::db::migrate(&mut db).expect("migrations apply");
        }
        conn.batch_execute(&format!("ALTER DATABASE {tmp} RENAME TO {name}")).expect("rename");
        conn.batch_execute(&format!("UPDATE pg_database SET datistemplate = true WHERE datname = '{name}'")).ok();
    }
    conn.batch_execute("SELECT pg_advisory_unlock(77001)").expect("unlock");
    name
}

/// A database of its own for one test, dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Clones the migrated template.
    pub fn new() -> Self {
        let template = ensure_template();
        let name = format!("clientele_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = admin();
        let mut attempts = 0;
        loop {
            match conn.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")) {
                Ok(()) => break,
                // "source database is being accessed by other users": retry briefly.
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("cannot clone the template: {e}"),
            }
        }
        TestDb { url: url_for(&name), name }
    }

    /// A direct connection, for assertions on stored rows.
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&url_for("postgres")) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
