//! Background jobs of `serve`: webhook deliveries, the refresh of revoked
//! tokens, the hourly purges (idempotency keys, events past their retention)
//! and the retention sweep (off unless `CLIENTELE_RETENTION_SWEEP` is set).

use std::time::Duration;

use crate::auth::{Actor, Scope};
use crate::db;
use crate::state::AppState;

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
