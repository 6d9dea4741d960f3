//! Background jobs of `serve`: the audit sealer, webhook deliveries, the
//! verification mails of data-subject requests (with `CLIENTELE_SMTP_URL`),
//! the refresh of revoked tokens, the hourly purges (idempotency keys, events
//! past their retention), the expiry of unverified requests, the 12-month
//! spend window, export and import jobs and the deletion of expired ones, and the
//! retention sweep (off unless `CLIENTELE_RETENTION_SWEEP` is set). Each runs in every replica; the ones
//! that must run once coordinate in the database (the sealer's advisory
//! lock, `SKIP LOCKED` leases of deliveries and claims of export jobs).

use std::time::Duration;

use crate::auth::{Actor, Scope};
use crate::db;
use crate::state::AppState;

/// How often the sealer looks for committed audit entries.
const SEAL_EVERY: Duration = Duration::from_millis(200);
/// How often the sealer signs a checkpoint of the head (when it sealed something).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// Spawns the jobs on the current actix runtime.
pub fn spawn(state: &AppState) {
    let purge = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = db::run(&purge.pool, |c| Ok(crate::models::idempotency::purge_expired(c)?)).await {
                tracing::warn!(error = %e, "idempotency purge failed");
            }
        }
    });
    let revoked = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            match db::run(&revoked.pool, |c| Ok(crate::services::tokens::all(c)?)).await {
                Ok(set) => {
                    if let Ok(mut current) = revoked.revoked.write() {
                        *current = set;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "revoked tokens not refreshed"),
            }
            revoked.limits.shrink();
        }
    });
    // The sealer keeps a connection of its own on a thread of its own: a
    // saturated pool must not delay sealing (its lag is a target), and its
    // blocking work never runs on an async worker.
    let sealer = state.clone();
    let spawned = std::thread::Builder::new().name("audit-sealer".into()).spawn(move || seal_forever(&sealer));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the audit sealer did not start");
    }
    let deliveries = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            // Drain what is due, then wait for the next tick.
            while let Ok(n) = crate::services::delivery::tick(&deliveries, 32).await {
                if n == 0 {
                    break;
                }
            }
        }
    });
    if state.mailer.is_some() {
        let mail = state.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = crate::services::identity::deliver_due(&mail).await {
                    tracing::warn!(error = %e, "verification mails not sent");
                }
            }
        });
    }
    let expiry = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let now = chrono::Utc::now();
            let run = move |c: &mut diesel::PgConnection| {
                crate::services::identity::expire_unverified(c, now, crate::services::dsar::status_doc)
            };
            match db::run(&expiry.pool, run).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "unverified data-subject requests expired"),
                Err(e) => tracing::warn!(error = %e, "expiry of unverified requests failed"),
            }
        }
    });
    // The 12-month window moves with the clock: every minute, the orders
    // that left it come out of the stored spends (one transaction; replicas
    // queue on the window's row lock, the second finds nothing to move).
    let window = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let now = chrono::Utc::now();
            let run = move |c: &mut diesel::PgConnection| {
                use diesel::Connection;
                Ok(c.transaction(|c| crate::services::stats::sweep_window(c, now))?)
            };
            match db::run(&window.pool, run).await {
                Ok(s) if s.orders > 0 => tracing::info!(orders = s.orders, "12-month spend window moved"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "12-month spend window not moved"),
            }
        }
    });
    let feed = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let days = feed.config.events_retention_days;
            if let Err(e) = db::run(&feed.pool, move |c| Ok(crate::services::events::purge(c, days)?)).await {
                tracing::warn!(error = %e, "event purge failed");
            }
        }
    });
    // Export jobs, one at a time per replica (an export is bulk work: two at
    // once would only share the same disk and pool). Jobs left running by a
    // dead replica are taken over once their heartbeat is stale.
    let exports = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            loop {
                match crate::services::exports::run_next(&exports).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "export worker failed");
                        break;
                    }
                }
            }
        }
    });
    // Import jobs, one at a time per replica, like exports; a job left
    // running by a dead replica resumes at its first unprocessed row once
    // its heartbeat is stale.
    let imports = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            loop {
                match crate::services::imports::run_next(&imports).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "import worker failed");
                        break;
                    }
                }
            }
        }
    });
    let expired = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let root = expired.config.export_dir.clone();
            let run = move |c: &mut diesel::PgConnection| crate::services::exports::sweep(c, &root, chrono::Utc::now());
            match db::run(&expired.pool, run).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "expired exports deleted"),
                Err(e) => tracing::warn!(error = %e, "expired exports not deleted"),
            }
            let run = |c: &mut diesel::PgConnection| Ok(crate::services::imports::sweep(c, chrono::Utc::now())?);
            match db::run(&expired.pool, run).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "expired imports deleted"),
                Err(e) => tracing::warn!(error = %e, "expired imports not deleted"),
            }
        }
    });
    if let Some(every) = state.config.retention_sweep {
        let sweep = state.clone();
        actix_web::rt::spawn(async move {
            let actor = Actor::new("retention-sweep", &[Scope::RetentionRun], None);
            let mut tick = actix_web::rt::time::interval(every);
            loop {
                tick.tick().await;
                let (a, key) = (actor.clone(), sweep.suppression.clone());
                match db::run(&sweep.pool, move |c| crate::services::retention::run(c, &a, &key, false)).await {
                    Ok(out) => tracing::info!(erased = out.erased, "retention sweep"),
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                }
            }
        });
    }
}

/// The sealer's loop: seal what is below the horizon every [`SEAL_EVERY`],
/// read the order of record's lags every second, reconnect after an error.
fn seal_forever(state: &AppState) {
    use diesel::Connection;
    let mut conn: Option<diesel::PgConnection> = None;
    let mut lag_read = std::time::Instant::now();
    loop {
        std::thread::sleep(SEAL_EVERY);
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match diesel::PgConnection::establish(&state.config.database_url) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the audit sealer cannot connect");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            },
        };
        if let Err(e) = crate::record::sealer::seal_all(c, &state.audit_signer, CHECKPOINT_EVERY) {
            tracing::warn!(error = %e, "audit sealing failed");
            conn = None;
            continue;
        }
        if lag_read.elapsed() >= Duration::from_secs(1) {
            lag_read = std::time::Instant::now();
            match crate::record::sealer::lag(c) {
                Ok(lag) => state.metrics.set_record_lag(&lag),
                Err(e) => {
                    tracing::warn!(error = %e, "order-of-record lag not read");
                    conn = None;
                }
            }
        }
    }
}
