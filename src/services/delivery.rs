//! The delivery worker: leases due deliveries (`FOR UPDATE SKIP LOCKED`, so
//! replicas never take the same one), POSTs them signed, and records the
//! attempt. Per webhook, events go out one at a time in order; failures retry
//! with exponential backoff and jitter (honouring `Retry-After`) for 3 days,
//! after which the delivery fails and a webhook failing that long is disabled.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::webhooks::{forbidden_ip, never_ip};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// How long a worker holds a leased delivery.
const LEASE_SECS: i64 = 60;
/// How long deliveries are retried, and webhooks may fail before being disabled.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(3);
/// Per request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `Clientele-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The HTTP agent of deliveries: no redirects, 10 s timeout, and (unless
/// private networks are allowed) a resolver that refuses private addresses,
/// so a DNS answer changed after the subscription was checked cannot reach them.
pub fn agent(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .redirects(0)
        .user_agent("Clientele-Webhooks/1")
        .resolver(move |netloc: &str| -> io::Result<Vec<SocketAddr>> {
            let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
            if addrs.iter().any(|a| never_ip(a.ip()) || (!allow_private && forbidden_ip(a.ip()))) {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, "private address refused"));
            }
            Ok(addrs)
        })
        .build()
}

#[derive(QueryableByName, Clone)]
struct Lease {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    webhook_id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Timestamptz)]
    occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    resource_id: String,
    #[diesel(sql_type = Jsonb)]
    changed_fields: serde_json::Value,
    #[diesel(sql_type = Nullable<Jsonb>)]
    data: Option<serde_json::Value>,
}

/// Leases up to `limit` due deliveries: the first pending one of each webhook
/// in the order of record, among those below the horizon (see
/// [`crate::record`]), so a delivery that commits late is never overtaken by
/// one that followed it.
fn lease(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<Lease>> {
    diesel::sql_query(format!(
        "WITH heads AS (
           SELECT DISTINCT ON (webhook_id) id FROM webhook_deliveries
           WHERE status = 'pending' AND event_tx < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY webhook_id, event_tx, event_seq),
         due AS (
           SELECT d.id FROM webhook_deliveries d JOIN heads h ON h.id = d.id
           WHERE d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
           ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED),
         leased AS (
           UPDATE webhook_deliveries d SET locked_until = now() + interval '{LEASE_SECS} seconds',
             attempts = d.attempts + 1, updated_at = now()
           FROM due WHERE d.id = due.id RETURNING d.*)
         SELECT l.id, l.webhook_id, w.url, w.secret, l.created_at, e.id AS event_id, e.type AS event_type,
                e.occurred_at, e.resource_id, e.changed_fields, e.data
         FROM leased l JOIN webhooks w ON w.id = l.webhook_id JOIN events e ON e.id = l.event_id
         WHERE w.enabled"
    ))
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// What one attempt gave.
#[derive(Clone)]
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<u64>,
    elapsed: Duration,
}

fn post(agent: &ureq::Agent, lease: &Lease) -> Attempt {
    let body = serde_json::to_vec(&serde_json::json!({
        "id": lease.event_id,
        "type": lease.event_type,
        "occurred_at": lease.occurred_at,
        "resource_id": lease.resource_id,
        "changed_fields": lease.changed_fields,
        "data": lease.data,
    }))
    .unwrap_or_default();
    let t = Utc::now().timestamp();
    let started = Instant::now();
    let result = agent
        .post(&lease.url)
        .set("Content-Type", "application/json")
        .set("Clientele-Event-Id", &lease.event_id.to_string())
        .set("Clientele-Signature", &signature(&lease.secret, t, &body))
        .send_bytes(&body);
    let elapsed = started.elapsed();
    let retry_after = |r: &ureq::Response| r.header("Retry-After").and_then(|v| v.trim().parse::<u64>().ok());
    match result {
        Ok(r) if (200..300).contains(&r.status()) => {
            Attempt { status: Some(r.status()), error: None, retry_after: None, elapsed }
        }
        Ok(r) => {
            Attempt { status: Some(r.status()), error: Some("not a 2xx answer".into()), retry_after: None, elapsed }
        }
        Err(ureq::Error::Status(code, r)) => {
            let honour = matches!(code, 429 | 503);
            Attempt {
                status: Some(code),
                error: Some(format!("HTTP {code}")),
                retry_after: if honour { retry_after(&r) } else { None },
                elapsed,
            }
        }
        Err(ureq::Error::Transport(t)) => {
            Attempt { status: None, error: Some(t.kind().to_string()), retry_after: None, elapsed }
        }
    }
}

/// Delay before attempt `n + 1`: 10 s doubling, capped at 6 h, ±20 % jitter.
fn backoff(attempts: i32) -> Duration {
    let base = 10f64 * 2f64.powi((attempts - 1).clamp(0, 20));
    let capped = base.min(6.0 * 3600.0);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let jitter = 0.8 + 0.4 * (u16::from_le_bytes(b) as f64 / u16::MAX as f64);
    Duration::from_secs_f64(capped * jitter)
}

fn record(conn: &mut PgConnection, lease: &Lease, a: &Attempt) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::sql_query(
            "INSERT INTO webhook_attempts (delivery_id, status_code, error, duration_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind::<SqlUuid, _>(lease.id)
        .bind::<Nullable<diesel::sql_types::Integer>, _>(a.status.map(i32::from))
        .bind::<Nullable<Text>, _>(a.error.clone())
        .bind::<diesel::sql_types::Integer, _>(a.elapsed.as_millis().min(i32::MAX as u128) as i32)
        .execute(conn)?;
        if a.error.is_none() {
            diesel::sql_query(
                "UPDATE webhook_deliveries SET status = 'succeeded', locked_until = NULL, last_status_code = $2, \
                 last_error = NULL, updated_at = now() WHERE id = $1",
            )
            .bind::<SqlUuid, _>(lease.id)
            .bind::<Nullable<diesel::sql_types::Integer>, _>(a.status.map(i32::from))
            .execute(conn)?;
            diesel::sql_query("UPDATE webhooks SET failing_since = NULL WHERE id = $1")
                .bind::<SqlUuid, _>(lease.webhook_id)
                .execute(conn)?;
            return Ok(());
        }
        let attempts: i32 = diesel::sql_query("SELECT attempts AS n FROM webhook_deliveries WHERE id = $1")
            .bind::<SqlUuid, _>(lease.id)
            .get_result::<N>(conn)?
            .n;
        let delay = a.retry_after.map(|s| Duration::from_secs(s.min(3600))).unwrap_or_else(|| backoff(attempts));
        let give_up = Utc::now() - lease.created_at > GIVE_UP_AFTER;
        diesel::sql_query(
            "UPDATE webhook_deliveries SET status = CASE WHEN $2 THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = now() + make_interval(secs => $3), locked_until = NULL, \
             last_status_code = $4, last_error = $5, updated_at = now() WHERE id = $1",
        )
        .bind::<SqlUuid, _>(lease.id)
        .bind::<diesel::sql_types::Bool, _>(give_up)
        .bind::<diesel::sql_types::Double, _>(delay.as_secs_f64())
        .bind::<Nullable<diesel::sql_types::Integer>, _>(a.status.map(i32::from))
        .bind::<Nullable<Text>, _>(a.error.clone())
        .execute(conn)?;
        diesel::sql_query(
            "UPDATE webhooks SET failing_since = coalesce(failing_since, now()), \
               enabled = enabled AND coalesce(failing_since, now()) > now() - interval '3 days', \
               disabled_reason = CASE WHEN coalesce(failing_since, now()) <= now() - interval '3 days' \
                 THEN 'deliveries failed for 3 days' ELSE disabled_reason END \
             WHERE id = $1",
        )
        .bind::<SqlUuid, _>(lease.webhook_id)
        .execute(conn)?;
        Ok(())
    })
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    n: i32,
}

/// One pass: leases up to `batch` due deliveries, sends them concurrently on
/// the blocking pool, records each attempt. Returns how many succeeded.
pub async fn tick(state: &AppState, batch: i64) -> Result<usize, AppError> {
    let leases = db::run(&state.pool, move |c| Ok(lease(c, batch)?)).await?;
    let sends = leases.into_iter().map(|lease| {
        let agent = state.http.clone();
        let pool = state.pool.clone();
        async move {
            let l = lease.clone();
            let attempt = actix_web::web::block(move || post(&agent, &l)).await.map_err(AppError::from)?;
            let ok = attempt.error.is_none();
            // The receiver has it: an attempt not recorded would be sent
            // again when the lease runs out, a copy with nothing on record.
            // A busy pool or a dropped connection is waited out instead.
            let mut tries = 0u64;
            loop {
                let (l, a) = (lease.clone(), attempt.clone());
                match db::run(&pool, move |c| Ok(record(c, &l, &a)?)).await {
                    Ok(()) => break,
                    Err(AppError::Unavailable(_) | AppError::Contention(_)) if tries < 20 => {
                        tries += 1;
                        actix_web::rt::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok::<bool, AppError>(ok)
        }
    });
    let results = futures_util::future::join_all(sends).await;
    Ok(results.into_iter().filter(|r| matches!(r, Ok(true))).count())
}
