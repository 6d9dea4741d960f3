//! The segment table of issue 19 (`bench/run.sh --segments [--scale F]`):
//! first-page latency of `POST /v1/{contacts,clients}/search`, and of the
//! list filters the issue timed, and of `POST .../count`, one request at a
//! time on one keep-alive connection (latency, not throughput), every
//! single-field filter plus the combinations of the issue and a
//! 10-condition AND/OR segment over contacts and their client.

use std::time::Instant;

use serde_json::{Value, json};

use crate::http::Http;

/// Requests per measurement (after 3 warm-up ones).
const SAMPLES: usize = 40;

fn cond(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

/// `(name, resource, filter)`; a resource of `GET` is a list path instead.
fn cases() -> Vec<(&'static str, &'static str, Value)> {
    let all = |c: Vec<Value>| json!({"all": c});
    vec![
        ("contacts: status = customer", "contacts", all(vec![cond("status", "eq", json!("customer"))])),
        ("contacts: audience = consumer", "contacts", all(vec![cond("audience", "eq", json!("consumer"))])),
        ("contacts: tag vip", "contacts", all(vec![cond("tags", "contains", json!("vip"))])),
        ("contacts: q prefix `dub`", "contacts", all(vec![cond("q", "prefix", json!("dub"))])),
        ("contacts: email =", "contacts", all(vec![cond("email", "eq", json!("louis.dubois.1@example.com"))])),
        ("contacts: source = import", "contacts", all(vec![cond("source", "eq", json!("import"))])),
        (
            "contacts: consent partner_sharing (no one)",
            "contacts",
            all(vec![cond("consent", "granted", json!("partner_sharing"))]),
        ),
        ("contacts: consent newsletter", "contacts", all(vec![cond("consent", "granted", json!("newsletter"))])),
        (
            "contacts: withdrawn email_marketing",
            "contacts",
            all(vec![cond("consent", "withdrawn", json!("email_marketing"))]),
        ),
        (
            "contacts: spent 12m ≥ 10¹² (no one)",
            "contacts",
            all(vec![cond("stats.spent_last_12m_cents", "gte", json!(999_999_999_999i64))]),
        ),
        (
            "contacts: spent 12m ≥ 1,000 €",
            "contacts",
            all(vec![cond("stats.spent_last_12m_cents", "gte", json!(100_000))]),
        ),
        ("contacts: orders ≥ 5", "contacts", all(vec![cond("stats.orders_count", "gte", json!(5))])),
        (
            "contacts: last order after 2026-10-01",
            "contacts",
            all(vec![cond("stats.last_order_at", "after", json!("2026-10-01T00:00:00Z"))]),
        ),
        (
            "contacts: created after 2025-06-01",
            "contacts",
            all(vec![cond("created_at", "after", json!("2025-06-01T00:00:00Z"))]),
        ),
        ("contacts: client.sector = food", "contacts", all(vec![cond("client.sector", "eq", json!("food"))])),
        (
            "contacts: client.employee_count ≥ 4990",
            "contacts",
            all(vec![cond("client.employee_count", "gte", json!(4990))]),
        ),
        (
            "contacts: newsletter ∧ vip ∧ customer",
            "contacts",
            all(vec![
                cond("consent", "granted", json!("newsletter")),
                cond("tags", "contains", json!("vip")),
                cond("status", "eq", json!("customer")),
            ]),
        ),
        (
            "contacts: 10 conditions, AND/OR, with client",
            "contacts",
            json!({"all": [
                cond("status", "in", json!(["customer", "former_customer"])),
                {"any": [cond("client.sector", "eq", json!("retail")), cond("client.naf_code", "prefix", json!("62"))]},
                {"any": [cond("consent", "granted", json!("newsletter")), cond("audience", "eq", json!("professional"))]},
                cond("consent", "withdrawn", json!("email_marketing")),
                {"any": [cond("stats.spent_last_12m_cents", "gte", json!(50_000)), cond("tags", "contains", json!("vip"))]},
                cond("client.employee_count", "gte", json!(100)),
                cond("stats.orders_count", "gte", json!(1)),
            ]}),
        ),
        (
            "clients: spent 12m ≥ 10¹² (no one)",
            "clients",
            all(vec![cond("stats.spent_last_12m_cents", "gte", json!(999_999_999_999i64))]),
        ),
        ("clients: sector = food", "clients", all(vec![cond("sector", "eq", json!("food"))])),
        ("clients: naf prefix 62", "clients", all(vec![cond("naf_code", "prefix", json!("62"))])),
        ("clients: employees ≥ 4990", "clients", all(vec![cond("employee_count", "gte", json!(4990))])),
        ("clients: acquisition = event", "clients", all(vec![cond("acquisition_channel", "eq", json!("event"))])),
        ("clients: tag key_account", "clients", all(vec![cond("tags", "contains", json!("key_account"))])),
        (
            "clients: last order before 2024-01-01",
            "clients",
            all(vec![cond("stats.last_order_at", "before", json!("2024-01-01T00:00:00Z"))]),
        ),
        ("GET /v1/contacts?consent=partner_sharing", "GET", json!("/v1/contacts?consent=partner_sharing&limit=50")),
        (
            "GET /v1/contacts?consent=newsletter&tag=vip&status=customer",
            "GET",
            json!("/v1/contacts?consent=newsletter&tag=vip&status=customer&limit=50"),
        ),
        (
            "GET /v1/clients?spent_last_12m_gte=999999999999",
            "GET",
            json!("/v1/clients?spent_last_12m_gte=999999999999&limit=50"),
        ),
        (
            "GET /v1/orders?status=paid&ordered_after=2026-11-01",
            "GET",
            json!("/v1/orders?status=paid&ordered_after=2026-11-01T00:00:00Z&limit=50"),
        ),
    ]
}

/// p50 and p99 in ms of `SAMPLES` calls.
fn time(http: &mut Http, method: &str, path: &str, body: Option<&[u8]>) -> (f64, f64, u16) {
    let mut status = 0;
    for _ in 0..3 {
        status = http.call(method, path, body).expect("request").0;
    }
    let mut ms = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let (s, _) = http.call(method, path, body).expect("request");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        status = status.max(s);
    }
    ms.sort_by(f64::total_cmp);
    (ms[SAMPLES / 2], ms[(SAMPLES * 99).div_ceil(100) - 1], status)
}

/// Runs every case; returns the markdown table.
pub fn run(addr: &str, token: &str) -> String {
    let mut http = Http::connect(addr, token);
    let mut out = String::from(
        "| segment | first page p50 | first page p99 | count p50 | count p99 | count |\n|---|---|---|---|---|---|\n",
    );
    let mut missed = Vec::new();
    for (name, resource, filter) in cases() {
        let (page, count, n) = if resource == "GET" {
            let path = filter.as_str().expect("a path");
            let p = time(&mut http, "GET", path, None);
            (p, None, String::from("-"))
        } else {
            let body = serde_json::to_vec(&json!({"filter": filter, "limit": 50})).expect("json");
            let p = time(&mut http, "POST", &format!("/v1/{resource}/search"), Some(&body));
            let cbody = serde_json::to_vec(&json!({"filter": filter})).expect("json");
            let c = time(&mut http, "POST", &format!("/v1/{resource}/count"), Some(&cbody));
            let (_, answer) = http.call("POST", &format!("/v1/{resource}/count"), Some(&cbody)).expect("count");
            let n = serde_json::from_slice::<Value>(&answer).ok().and_then(|v| v["count"].as_i64()).unwrap_or(-1);
            (p, Some(c), n.to_string())
        };
        assert!(page.2 < 300, "{name}: status {}", page.2);
        let bar = if name.contains("10 conditions") { 50.0 } else { 20.0 };
        if page.1 > bar {
            missed.push(format!("{name}: first page p99 {:.1} ms > {bar} ms", page.1));
        }
        if let Some(c) = count
            && c.1 > 200.0
        {
            missed.push(format!("{name}: count p99 {:.1} ms > 200 ms", c.1));
        }
        let cell = |c: Option<(f64, f64, u16)>, i: usize| {
            c.map_or("-".to_owned(), |c| format!("{:.1} ms", if i == 0 { c.0 } else { c.1 }))
        };
        let line = format!(
            "| {name} | {:.1} ms | {:.1} ms | {} | {} | {n} |\n",
            page.0,
            page.1,
            cell(count, 0),
            cell(count, 1)
        );
        eprint!("{line}");
        out.push_str(&line);
    }
    out.push_str(if missed.is_empty() {
        "\nAll targets met (first page p99 ≤ 20 ms, 50 ms for the 10-condition segment; count p99 ≤ 200 ms).\n"
    } else {
        "\nTargets missed:\n"
    });
    for m in missed {
        out.push_str(&format!("- {m}\n"));
    }
    out
}
