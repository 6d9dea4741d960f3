//! Export jobs (API.md §9): whole resources as NDJSON or CSV files, written
//! by a background worker ([`worker`]) and kept 7 days.
//!
//! An export is a mass disclosure of personal data: asking for one
//! (`export.requested`), its completion (`export.completed`, with the rows
//! per resource), every download (`export.downloaded`) and its deletion are
//! audited. Rows are what the API's GET answers, so restricted contacts
//! (Art. 18) are in the file with `restricted: true`, and erased ones hold
//! no personal data already.
//!
//! - [`writer`]: the files, hashed while written and split at 1,000,000 rows;
//! - [`worker`]: claiming a job (`SKIP LOCKED`), paging through a resource
//!   by id, taking over a job a dead worker left, the 7-day sweep.

mod worker;
mod writer;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

pub use worker::{KEEP_FOR, PAGE, STALE_AFTER, run_next, sweep};
pub use writer::MAX_ROWS_PER_FILE;

use super::{audit, decode};
use crate::auth::{Actor, Scope};
use crate::db::schema::export_jobs;
use crate::error::AppError;
use crate::models::export::{self as model, ExportFile, ExportJob};
use crate::pagination::{Page, PageRequest};

/// A resource an export can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ExportResource)]
pub enum Resource {
    /// Companies, as `GET /v1/clients/{id}` answers them.
    Clients,
    /// People, as `GET /v1/contacts/{id}` answers them (with `restricted`).
    Contacts,
    /// Orders with their lines, as `GET /v1/orders/{id}` answers them.
    Orders,
    /// Every consent event of the ledger, as the history answers them.
    Consents,
}

impl Resource {
    /// As written in requests and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Clients => "clients",
            Resource::Contacts => "contacts",
            Resource::Orders => "orders",
            Resource::Consents => "consents",
        }
    }

    /// The stored name back (unknown names cannot be stored: a CHECK refuses them).
    pub fn parse(s: &str) -> Option<Resource> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    /// The CSV columns: the properties of the API's schema of one row, in order.
    pub fn columns(self) -> Vec<String> {
        use utoipa::PartialSchema;
        let schema = match self {
            Resource::Clients => super::clients::ClientOut::schema(),
            Resource::Contacts => super::contacts::ContactOut::schema(),
            Resource::Orders => super::orders::OrderOut::schema(),
            Resource::Consents => super::consents::ConsentEvent::schema(),
        };
        let doc = serde_json::to_value(schema).unwrap_or_default();
        doc["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
    }
}

/// What the files are written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ExportFileFormat)]
pub enum Format {
    /// One JSON object per line (`application/x-ndjson`).
    #[default]
    Ndjson,
    /// RFC 4180, a header row; nested values (tags, custom fields, lines,
    /// stats) as JSON text in their cell (`text/csv`).
    Csv,
}

impl Format {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    /// The files' extension.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The media type a file is served with.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    fn parse(s: &str) -> Format {
        if s == "csv" { Format::Csv } else { Format::Ndjson }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ExportStatus)]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is writing the files (`rows` says how far it is).
    Running,
    /// Every file is written; they are kept until `expires_at`.
    Completed,
    /// The worker gave up (`error` says why); nothing can be downloaded.
    Failed,
    /// Stopped before it completed. Not produced yet (`DELETE` removes a job
    /// outright); kept so that a cancel operation needs no change of the contract.
    Cancelled,
}

/// `POST /v1/exports`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// The resources to export, each at most once, in the order of the files.
    #[validate(required, length(min = 1, max = 4))]
    #[schema(required = true, min_items = 1, max_items = 4)]
    pub resources: Option<Vec<Resource>>,
    /// `ndjson` (default) or `csv`.
    pub format: Option<Format>,
}

/// One file of a completed export.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ExportFileOut)]
pub struct FileOut {
    /// Its number in the job, from 1 (`GET /v1/exports/{id}/files/{n}`).
    pub n: i32,
    pub resource: Resource,
    /// Rows in the file (at most 1,000,000; the CSV header is not counted).
    pub rows: i64,
    pub bytes: i64,
    /// Lowercase hex SHA-256 of the file's bytes, to check the download.
    pub sha256: String,
    /// Where to download it.
    pub url: String,
}

/// An export job as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportOut {
    pub id: Uuid,
    pub status: JobStatus,
    pub format: Format,
    pub resources: Vec<Resource>,
    /// The token `sub` that asked for it.
    pub requested_by: String,
    /// Rows written per resource: progress while running, the totals once completed.
    #[schema(value_type = Object)]
    pub rows: BTreeMap<String, i64>,
    /// Rows written in all.
    pub rows_done: i64,
    /// The files, once completed (empty before).
    pub files: Vec<FileOut>,
    /// Why it failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the files and the job are deleted (7 days after it finished).
    pub expires_at: Option<DateTime<Utc>>,
}

fn status_of(s: &str) -> JobStatus {
    serde_json::from_value(Value::String(s.to_owned())).unwrap_or(JobStatus::Failed)
}

impl ExportOut {
    fn from_row(j: ExportJob, files: Vec<ExportFile>) -> Self {
        let status = status_of(&j.status);
        let files = if status == JobStatus::Completed {
            files
                .into_iter()
                .filter_map(|f| {
                    Some(FileOut {
                        url: format!("/v1/exports/{}/files/{}", j.id, f.n),
                        n: f.n,
                        resource: Resource::parse(&f.resource)?,
                        rows: f.rows,
                        bytes: f.bytes,
                        sha256: f.sha256,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        ExportOut {
            id: j.id,
            status,
            format: Format::parse(&j.format),
            resources: j.resources.iter().filter_map(|r| Resource::parse(r)).collect(),
            requested_by: j.requested_by,
            rows: serde_json::from_value(j.row_counts).unwrap_or_default(),
            rows_done: j.rows_done,
            files,
            error: j.error,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            expires_at: j.expires_at,
        }
    }
}

/// Decodes and checks a request: known resources, at least one, none twice.
fn validate(body: Map<String, Value>) -> Result<(Vec<Resource>, Format), AppError> {
    let (input, mut errors) = decode::<ExportInput>(body);
    // A list the decoder dropped for a bad item is not also missing.
    if errors.0.iter().any(|e| e.field.starts_with("resources[")) {
        errors.0.retain(|e| !(e.field == "resources" && e.code == "required"));
    }
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    let resources = input.resources.unwrap_or_default();
    for (i, r) in resources.iter().enumerate() {
        if resources[..i].contains(r) {
            errors.push(format!("resources[{i}]"), "duplicate", "each resource may be listed once");
        }
    }
    errors.finish()?;
    Ok((resources, input.format.unwrap_or_default()))
}

/// `POST /v1/exports`: queues a job; a worker takes it within about a second.
pub fn create(conn: &mut PgConnection, actor: &Actor, body: Map<String, Value>) -> Result<ExportOut, AppError> {
    actor.require(Scope::ExportsRun)?;
    let (resources, format) = validate(body)?;
    conn.transaction(|conn| {
        let id = Uuid::now_v7();
        let names: Vec<String> = resources.iter().map(|r| r.as_str().to_owned()).collect();
        let row: ExportJob = diesel::insert_into(export_jobs::table)
            .values((
                export_jobs::id.eq(id),
                export_jobs::resources.eq(&names),
                export_jobs::format.eq(format.as_str()),
                export_jobs::requested_by.eq(&actor.sub),
                export_jobs::request_id.eq(&actor.request_id),
            ))
            .returning(ExportJob::as_returning())
            .get_result(conn)?;
        let mut fields = names.clone();
        fields.push(format!("format:{}", format.as_str()));
        audit::record(conn, actor, "export.requested", "export", id, fields)?;
        Ok(ExportOut::from_row(row, Vec::new()))
    })
}

/// A job that is still kept at `now` (404 once it expired or was deleted).
fn kept(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<ExportJob, AppError> {
    model::find(conn, id, false)?.filter(|j| j.expires_at.is_none_or(|at| at > now)).ok_or(AppError::NotFound("export"))
}

/// `GET /v1/exports/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> Result<ExportOut, AppError> {
    actor.require(Scope::ExportsRun)?;
    let job = kept(conn, id, now)?;
    let files = model::files_of(conn, &[id])?;
    Ok(ExportOut::from_row(job, files))
}

/// Paging of `GET /v1/exports`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
}

/// `GET /v1/exports`: oldest first, expired jobs left out.
pub fn list(
    conn: &mut PgConnection,
    actor: &Actor,
    f: ExportFilter,
    now: DateTime<Utc>,
) -> Result<Page<ExportOut>, AppError> {
    actor.require(Scope::ExportsRun)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let mut q = export_jobs::table
        .filter(export_jobs::expires_at.is_null().or(export_jobs::expires_at.gt(now)))
        .order((export_jobs::created_at, export_jobs::id))
        .limit(page.limit + 1)
        .select(ExportJob::as_select())
        .into_boxed();
    if let Some(c) = page.after {
        let at = c.at();
        q = q.filter(export_jobs::created_at.gt(at).or(export_jobs::created_at.eq(at).and(export_jobs::id.gt(c.id))));
    }
    let rows: Vec<ExportJob> = q.load(conn)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut files: BTreeMap<Uuid, Vec<ExportFile>> = BTreeMap::new();
    for f in model::files_of(conn, &ids)? {
        files.entry(f.job_id).or_default().push(f);
    }
    Ok(page.page(
        rows,
        |j| (j.created_at, j.id),
        |j| {
            let mine = files.remove(&j.id).unwrap_or_default();
            ExportOut::from_row(j, mine)
        },
    ))
}

/// `GET /v1/exports/{id}/files/{n}`: the file to stream, and its format.
/// Every download is audited (`export.downloaded`, with the file's number).
pub fn file(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    n: i32,
    now: DateTime<Utc>,
) -> Result<(ExportFile, Format), AppError> {
    actor.require(Scope::ExportsRun)?;
    let job = kept(conn, id, now)?;
    if job.status != "completed" {
        return Err(AppError::NotFound("export file"));
    }
    let file = model::files_of(conn, &[id])?.into_iter().find(|f| f.n == n).ok_or(AppError::NotFound("export file"))?;
    audit::record(conn, actor, "export.downloaded", "export", id, vec![format!("file:{n}"), file.resource.clone()])?;
    Ok((file, Format::parse(&job.format)))
}

/// `DELETE /v1/exports/{id}`: the job and its files go now, whatever its
/// status (a running worker notices at its next page and stops).
pub fn delete(conn: &mut PgConnection, actor: &Actor, root: &Path, id: Uuid) -> Result<(), AppError> {
    actor.require(Scope::ExportsRun)?;
    conn.transaction(|conn| {
        model::find(conn, id, true)?.ok_or(AppError::NotFound("export"))?;
        diesel::delete(export_jobs::table.find(id)).execute(conn)?;
        audit::record(conn, actor, "export.deleted", "export", id, vec![])?;
        Ok::<_, AppError>(())
    })?;
    worker::remove_dir(&root.join(id.to_string()));
    Ok(())
}
