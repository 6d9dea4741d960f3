//! The export worker: claims a job, pages through each resource by id and
//! writes its files, then marks the job completed; the sweep deletes what
//! expired.
//!
//! A resource is read in keyset pages of [`PAGE`] rows (`WHERE id > $last
//! ORDER BY id LIMIT`), each page in a short statement of its own on the
//! request pool: no transaction stays open for the length of an export, so
//! neither the pool nor the horizon of the order of record (the event feed,
//! the sealer, VACUUM) waits for it. The price: an export is not a snapshot
//! of one instant, a row written while it runs may or may not be in it.
//!
//! Database work runs through [`db::run`] and file work through
//! `web::block`: both on the blocking pool, never on an async worker.

use std::path::Path;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::writer::{ResourceWriter, Written};
use super::{Format, Resource};
use crate::auth::Actor;
use crate::db;
use crate::db::schema::{clients, contacts, export_files, export_jobs, orders};
use crate::error::AppError;
use crate::models::client::Client;
use crate::models::contact::Contact;
use crate::models::export::{self as model, ExportFile, ExportJob};
use crate::models::order::{self as order_model, Order};
use crate::services::audit;
use crate::state::AppState;

/// Rows read per statement.
pub const PAGE: i64 = 5_000;
/// A running job whose heartbeat is older than this was left by a dead
/// worker (a live one beats at every page, well under a second apart).
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// How long a finished job and its files are kept.
pub const KEEP_FOR: chrono::Duration = chrono::Duration::days(7);

/// How many times a page is read again when the pool is busy (503) before the job fails.
const BUSY_RETRIES: u32 = 20;

/// Claims the next job (a queued one, or one a dead worker left running)
/// and runs it to the end. `None` when there was nothing to do.
pub async fn run_next(state: &AppState) -> Result<Option<Uuid>, AppError> {
    let now = Utc::now();
    let claimed = db::run(&state.pool, move |c| Ok(model::claim(c, now, now - STALE_AFTER)?)).await?;
    let Some(job) = claimed else { return Ok(None) };
    let (id, attempt) = (job.id, job.attempt);
    let root = state.config.export_dir.clone();
    let attempt_dir = root.join(id.to_string()).join(attempt.to_string());
    match run_job(state, &root, job).await {
        Ok(true) => tracing::info!(export = %id, attempt, "export completed"),
        Ok(false) => {
            // Deleted, or taken over after this worker stalled: its files are not ours to keep.
            tracing::warn!(export = %id, attempt, "export no longer ours; stopped");
            let _ = web::block(move || remove_dir(&attempt_dir)).await;
        }
        Err(e) => {
            tracing::warn!(export = %id, attempt, error = %e, "export failed");
            let _ = web::block(move || remove_dir(&attempt_dir)).await;
            let now = Utc::now();
            let why = match e {
                AppError::Unavailable(_) | AppError::Contention(_) => "the database was unavailable; ask again",
                _ => "the export could not be written; the server's log has the cause",
            };
            db::run(&state.pool, move |c| Ok(model::finish(c, id, attempt, "failed", now, now + KEEP_FOR, Some(why))?))
                .await?;
        }
    }
    Ok(Some(id))
}

/// Where a job stands while it runs.
struct Progress {
    id: Uuid,
    attempt: i32,
    counts: Map<String, Value>,
    done: i64,
}

/// Writes every resource of `job`; false when the job stopped being this
/// attempt's on the way.
async fn run_job(state: &AppState, root: &Path, job: ExportJob) -> Result<bool, AppError> {
    let format = if job.format == "csv" { Format::Csv } else { Format::Ndjson };
    let resources: Vec<Resource> = job.resources.iter().filter_map(|r| Resource::parse(r)).collect();
    let dir = format!("{}/{}", job.id, job.attempt);
    // Files of an earlier attempt (a dead worker's, partly written) go first.
    let (job_dir, attempt_dir) = (root.join(job.id.to_string()), root.join(&dir));
    web::block(move || {
        remove_dir(&job_dir);
        std::fs::create_dir_all(&attempt_dir)
    })
    .await?
    .map_err(AppError::internal)?;
    let mut p = Progress { id: job.id, attempt: job.attempt, counts: Map::new(), done: 0 };
    let mut next_n = 1;
    for resource in resources {
        let writer = ResourceWriter::new(root, &dir, resource, format, next_n);
        let Some(files) = write_resource(state, &mut p, resource, writer).await? else { return Ok(false) };
        next_n += files.len() as i32;
        let rows: Vec<ExportFile> = files
            .into_iter()
            .map(|w: Written| ExportFile {
                job_id: job.id,
                n: w.n,
                resource: w.resource.as_str().to_owned(),
                rows: w.rows as i64,
                bytes: w.bytes as i64,
                sha256: w.sha256,
                path: w.path,
            })
            .collect();
        let (id, attempt) = (p.id, p.attempt);
        let ours = db::run(&state.pool, move |c| {
            c.transaction(|c| {
                // Only the attempt that holds the job records files for it.
                let held = export_jobs::table
                    .find(id)
                    .filter(export_jobs::attempt.eq(attempt))
                    .filter(export_jobs::status.eq("running"))
                    .select(export_jobs::id)
                    .for_update()
                    .first::<Uuid>(c)
                    .optional()?;
                if held.is_none() {
                    return Ok(false);
                }
                diesel::insert_into(export_files::table).values(&rows).execute(c)?;
                Ok(true)
            })
        })
        .await?;
        if !ours {
            return Ok(false);
        }
    }
    let (id, attempt, counts) = (p.id, p.attempt, p.counts.clone());
    let requested_by = job.requested_by.clone();
    let request_id = job.request_id.clone();
    db::run(&state.pool, move |c| {
        c.transaction(|c| {
            let now = Utc::now();
            model::heartbeat(c, id, attempt, now, &Value::Object(counts.clone()), p.done)?;
            if !model::finish(c, id, attempt, "completed", now, now + KEEP_FOR, None)? {
                return Ok(false);
            }
            // The disclosure happened: recorded in the name of who asked for it.
            let actor = Actor::new(requested_by.clone(), &[], None).with_request_id(request_id.clone());
            let fields = counts.iter().map(|(r, n)| format!("{r}:{n}")).collect();
            audit::record(c, &actor, "export.completed", "export", id, fields)?;
            Ok(true)
        })
    })
    .await
}

/// Pages through one resource into its files; `None` when the job stopped
/// being this attempt's.
async fn write_resource(
    state: &AppState,
    p: &mut Progress,
    resource: Resource,
    mut writer: ResourceWriter,
) -> Result<Option<Vec<Written>>, AppError> {
    let mut after: Option<Uuid> = None;
    loop {
        p.counts.insert(resource.as_str().to_owned(), Value::from(writer.rows()));
        let (id, attempt, counts, done) = (p.id, p.attempt, Value::Object(p.counts.clone()), p.done);
        let mut busy = 0;
        let (ours, rows) = loop {
            let counts = counts.clone();
            let read = db::run(&state.pool, move |c| {
                // The heartbeat says this worker is alive, and whether the job is still its own.
                if !model::heartbeat(c, id, attempt, Utc::now(), &counts, done)? {
                    return Ok((false, Vec::new()));
                }
                Ok((true, page(c, resource, after, PAGE)?))
            })
            .await;
            match read {
                Err(AppError::Unavailable(_) | AppError::Contention(_)) if busy < BUSY_RETRIES => {
                    busy += 1;
                    actix_web::rt::time::sleep(Duration::from_millis(100 * u64::from(busy))).await;
                }
                other => break other?,
            }
        };
        if !ours {
            return Ok(None);
        }
        let got = rows.len() as i64;
        after = rows.last().map(|(id, _)| *id);
        let before = writer.rows();
        writer = web::block(move || {
            for (_, row) in &rows {
                writer.write(row)?;
            }
            Ok::<_, std::io::Error>(writer)
        })
        .await?
        .map_err(AppError::internal)?;
        p.done += (writer.rows() - before) as i64;
        if got < PAGE {
            break;
        }
    }
    p.counts.insert(resource.as_str().to_owned(), Value::from(writer.rows()));
    let files = web::block(move || writer.finish()).await?.map_err(AppError::internal)?;
    Ok(Some(files))
}

/// One page of `resource` after id `after`, each row as the API answers it.
fn page(
    c: &mut PgConnection,
    resource: Resource,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(Uuid, Value)>, AppError> {
    use crate::services::to_doc;
    let after = after.unwrap_or(Uuid::nil());
    Ok(match resource {
        Resource::Clients => clients::table
            .filter(clients::id.gt(after))
            .order(clients::id)
            .limit(limit)
            .select(Client::as_select())
            .load(c)?
            .into_iter()
            .map(|r| (r.id, to_doc(&crate::services::clients::ClientOut::from_row(r))))
            .collect(),
        Resource::Contacts => contacts::table
            .filter(contacts::id.gt(after))
            .order(contacts::id)
            .limit(limit)
            .select(Contact::as_select())
            .load(c)?
            .into_iter()
            .map(|r| (r.id, to_doc(&crate::services::contacts::ContactOut::from_row(r))))
            .collect(),
        Resource::Orders => {
            let rows: Vec<Order> = orders::table
                .filter(orders::id.gt(after))
                .order(orders::id)
                .limit(limit)
                .select(Order::as_select())
                .load(c)?;
            let ids: Vec<Uuid> = rows.iter().map(|o| o.id).collect();
            let mut lines: std::collections::HashMap<Uuid, Vec<_>> = std::collections::HashMap::new();
            for l in order_model::lines_of(c, &ids)? {
                lines.entry(l.order_id).or_default().push(l);
            }
            rows.into_iter()
                .map(|o| {
                    let mine = lines.remove(&o.id).unwrap_or_default();
                    (o.id, to_doc(&crate::services::orders::OrderOut::from_row(o, mine)))
                })
                .collect()
        }
        Resource::Consents => crate::services::consents::page_by_id(c, Some(after), limit)?
            .into_iter()
            .map(|e| (e.id, to_doc(&e)))
            .collect(),
    })
}

/// Deletes the files and rows of jobs that expired by `now` (7 days after
/// they finished); returns how many jobs went. A job whose directory cannot
/// be removed stays, to be tried again at the next sweep.
pub fn sweep(conn: &mut PgConnection, root: &Path, now: DateTime<Utc>) -> Result<usize, AppError> {
    let ids: Vec<Uuid> =
        export_jobs::table.filter(export_jobs::expires_at.le(now)).select(export_jobs::id).load(conn)?;
    let gone: Vec<Uuid> = ids.into_iter().filter(|id| remove_dir(&root.join(id.to_string()))).collect();
    Ok(diesel::delete(export_jobs::table.filter(export_jobs::id.eq_any(&gone))).execute(conn)?)
}

/// Removes a directory and what it holds; true when it is gone (or never was).
pub(super) fn remove_dir(dir: &Path) -> bool {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            tracing::warn!(error = %e, "an export directory could not be removed");
            false
        }
    }
}
