//! The `export_jobs` and `export_files` tables: bulk exports and their files.
//!
//! The worker's claims, heartbeats and completion are conditional on the
//! `attempt` it claimed: a worker that lost its job can no longer write it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{export_files, export_jobs};

/// A row of `export_jobs`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = export_jobs, check_for_backend(diesel::pg::Pg))]
pub struct ExportJob {
    pub id: Uuid,
    pub status: String,
    pub resources: Vec<String>,
    pub format: String,
    pub requested_by: String,
    pub request_id: Option<String>,
    pub attempt: i32,
    pub row_counts: serde_json::Value,
    pub rows_done: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A row of `export_files`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = export_files, check_for_backend(diesel::pg::Pg))]
pub struct ExportFile {
    pub job_id: Uuid,
    pub n: i32,
    pub resource: String,
    pub rows: i64,
    pub bytes: i64,
    pub sha256: String,
    /// Relative to the export directory.
    pub path: String,
}

/// A job by id (with `lock`, `FOR UPDATE`).
pub fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> QueryResult<Option<ExportJob>> {
    let q = export_jobs::table.find(id).select(ExportJob::as_select());
    if lock { q.for_update().first(conn).optional() } else { q.first(conn).optional() }
}

/// The files of jobs, in order.
pub fn files_of(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<ExportFile>> {
    export_files::table
        .filter(export_files::job_id.eq_any(ids))
        .order((export_files::job_id, export_files::n))
        .select(ExportFile::as_select())
        .load(conn)
}

/// Takes the oldest job that is queued, or running with a heartbeat older
/// than `stale_before` (its worker died), and marks it running under a new
/// attempt. `SKIP LOCKED`: two workers never claim the same job, and neither
/// waits for the other.
pub fn claim(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> QueryResult<Option<ExportJob>> {
    conn.transaction(|conn| {
        let id: Option<Uuid> = export_jobs::table
            .filter(
                export_jobs::status
                    .eq("queued")
                    .or(export_jobs::status.eq("running").and(export_jobs::heartbeat_at.lt(stale_before))),
            )
            .order(export_jobs::created_at)
            .select(export_jobs::id)
            .limit(1)
            .for_update()
            .skip_locked()
            .first(conn)
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        // A new attempt starts from nothing: the files of an earlier one are
        // forgotten here and removed from disk by the worker.
        diesel::delete(export_files::table.filter(export_files::job_id.eq(id))).execute(conn)?;
        diesel::update(export_jobs::table.find(id))
            .set((
                export_jobs::status.eq("running"),
                export_jobs::attempt.eq(export_jobs::attempt + 1),
                export_jobs::started_at.eq(now),
                export_jobs::heartbeat_at.eq(now),
                export_jobs::row_counts.eq(serde_json::json!({})),
                export_jobs::rows_done.eq(0),
                export_jobs::error.eq(None::<String>),
            ))
            .returning(ExportJob::as_returning())
            .get_result(conn)
            .optional()
    })
}

/// Records progress of `attempt`; false when the job is no longer this
/// attempt's (claimed again, or deleted).
pub fn heartbeat(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    now: DateTime<Utc>,
    row_counts: &serde_json::Value,
    rows_done: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        export_jobs::table.find(id).filter(export_jobs::attempt.eq(attempt)).filter(export_jobs::status.eq("running")),
    )
    .set((
        export_jobs::heartbeat_at.eq(now),
        export_jobs::row_counts.eq(row_counts),
        export_jobs::rows_done.eq(rows_done),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Ends `attempt` as `completed` or `failed`; false when it was no longer its job.
pub fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    status: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    error: Option<&str>,
) -> QueryResult<bool> {
    let n = diesel::update(
        export_jobs::table.find(id).filter(export_jobs::attempt.eq(attempt)).filter(export_jobs::status.eq("running")),
    )
    .set((
        export_jobs::status.eq(status),
        export_jobs::finished_at.eq(now),
        export_jobs::heartbeat_at.eq(now),
        export_jobs::expires_at.eq(expires_at),
        export_jobs::error.eq(error),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
