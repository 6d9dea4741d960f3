//! Background jobs of `serve`: the hourly purge of expired idempotency keys
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
