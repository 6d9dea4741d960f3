//! Issue 12 and API.md §11: two `serve` processes on one database, both
//! taking writes. A poller of either misses nothing and sees nothing twice,
//! the audit sealer seals each entry once, each webhook delivery happens once.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::receiver::Receiver;
use crate::helpers::{AUDIT_SIGNING_KEY, SECRET, SUPPRESSION_KEY, db::server_url, keys};

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str) -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("CLIENTELE_BIND", format!("127.0.0.1:{port}"))
        .env("CLIENTELE_JWT_SECRET", SECRET)
        .env("CLIENTELE_SUPPRESSION_KEY", SUPPRESSION_KEY)
        .env("CLIENTELE_AUDIT_SIGNING_KEY", AUDIT_SIGNING_KEY)
        .env("CLIENTELE_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("CLIENTELE_RATE_LIMIT", "1000000")
        .env("CLIENTELE_RATE_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Replica { child, base: format!("http://127.0.0.1:{port}") };
    let started = Instant::now();
    while ureq::get(&format!("{}/readyz", r.base)).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "replica never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

fn call(agent: &ureq::Agent, method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let req = agent.request(method, url).set("Authorization", &format!("Bearer {token}"));
    let res = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(&b.to_string()),
        None => req.call(),
    };
    let res = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = res.status();
    (status, serde_json::from_str(&res.into_string().unwrap_or_default()).unwrap_or(Value::Null))
}

#[test]
fn two_replicas_lose_nothing_and_do_nothing_twice() {
    let name = format!("clientele_replicas_{}", uuid::Uuid::now_v7().simple());
    let mut url = url::Url::parse(&server_url()).unwrap();
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let replicas = [start(&url), start(&url)];
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let token = keys().mint("replica-test", "admin", 600, None).unwrap();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();

    let rx = Receiver::start(0, None);
    let (s, _) = call(
        &agent,
        "POST",
        &format!("{}/v1/webhooks", bases[0]),
        &token,
        Some(json!({"url": rx.url(), "events": ["contact.created"]})),
    );
    assert_eq!(s, 201);

    // Eight writers, half on each replica, for four seconds; a poller on each.
    let created = Arc::new(Mutex::new(Vec::<String>::new()));
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (base, token, agent, created) = (bases[w % 2].clone(), token.clone(), agent.clone(), created.clone());
        writers.push(std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(4);
            let mut n = 0;
            while Instant::now() < until {
                let body = json!({"email": format!("w{w}-{n}@example.com")});
                let (s, b) = call(&agent, "POST", &format!("{base}/v1/contacts"), &token, Some(body));
                assert_eq!(s, 201, "{b}");
                created.lock().unwrap().push(b["id"].as_str().unwrap().to_owned());
                n += 1;
            }
        }));
    }
    let mut pollers = Vec::new();
    for base in bases.clone() {
        let (token, agent, writing, created) = (token.clone(), agent.clone(), writing.clone(), created.clone());
        pollers.push(std::thread::spawn(move || {
            let mut seen: Vec<String> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut done_at: Option<Instant> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("{base}/v1/events?type=contact.created&limit=200&after={c}"),
                    None => format!("{base}/v1/events?type=contact.created&limit=200"),
                };
                let (s, page) = call(&agent, "GET", &path, &token, None);
                assert_eq!(s, 200, "{page}");
                let data = page["data"].as_array().unwrap();
                seen.extend(data.iter().map(|e| e["resource_id"].as_str().unwrap().to_owned()));
                cursor = page["next_cursor"].as_str().map(str::to_owned);
                if !writing.load(std::sync::atomic::Ordering::SeqCst) {
                    let done = *done_at.get_or_insert_with(Instant::now);
                    if seen.len() >= created.lock().unwrap().len() || done.elapsed() > Duration::from_secs(20) {
                        return seen;
                    }
                }
                if data.len() < 200 {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }));
    }
    for w in writers {
        w.join().unwrap();
    }
    writing.store(false, std::sync::atomic::Ordering::SeqCst);
    let created: Vec<String> = created.lock().unwrap().clone();
    assert!(created.len() > 100, "too few writes to mean anything: {}", created.len());
    let expected: HashSet<&String> = created.iter().collect();
    for (i, p) in pollers.into_iter().enumerate() {
        let seen = p.join().unwrap();
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "poller {i} saw an event twice");
        let missed = expected.difference(&unique).count();
        assert_eq!(missed, 0, "poller {i} missed {missed} of {} committed events", created.len());
    }

    // The sealer ran once at a time: every entry sealed once, one chain.
    let mut conn = PgConnection::establish(&url).unwrap();
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |conn: &mut PgConnection, sql: &str| diesel::sql_query(sql).get_result::<N>(conn).unwrap().n;
    let started = Instant::now();
    while count(&mut conn, "SELECT count(*) AS n FROM audit_pending") > 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the sealer did not catch up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (s, v) = call(&agent, "GET", &format!("{}/v1/audit/verify", bases[1]), &token, None);
    assert_eq!(s, 200);
    assert_eq!(v["ok"], true, "{v}");
    let audited = count(&mut conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'contact.created'");
    assert_eq!(audited as usize, created.len(), "each write sealed once");

    // Each delivery happened once.
    let started = Instant::now();
    while count(&mut conn, "SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'succeeded'") > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "deliveries did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for r in rx.received() {
        *per_event.entry(r.header("clientele-event-id").unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_event.len(), created.len(), "one delivery per event");
    // Delivery is at least once: an attempt that timed out on a loaded machine
    // is retried, and the receiver may have had the first one. What must never
    // happen is two replicas sending the same lease: every extra copy needs a
    // failed attempt on record.
    let extra: usize = per_event.values().map(|n| n - 1).sum();
    let failed = count(&mut conn, "SELECT count(*) AS n FROM webhook_attempts WHERE error IS NOT NULL") as usize;
    assert!(extra <= failed, "an event was delivered twice without a failed attempt ({extra} extra, {failed} failed)");

    drop(replicas);
    drop(conn);
    let mut admin_url = url::Url::parse(&url).unwrap();
    admin_url.set_path("/postgres");
    let mut admin = PgConnection::establish(admin_url.as_str()).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
}
