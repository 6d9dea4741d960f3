//! Import jobs (API.md §9): a CSV or NDJSON file of clients, contacts,
//! orders or consents, written row by row through the same validation,
//! free-text guard, events and audit as the API.
//!
//! - [`upload`]: the body, spooled to a temporary file while it arrives
//!   (never whole in memory), then parsed into `import_rows`, one record per
//!   row with its line; the job is `queued` once every row is stored.
//! - [`worker`]: a background worker claims a job (`SKIP LOCKED`) and works
//!   through its rows in chunks, each chunk in one transaction with the
//!   job's counters, so a restart resumes where the last commit left it.
//!
//! A row's outcome is `created`, `updated`, `unchanged` (matched, nothing to
//! change), `skipped` (a suppressed email: the person asked not to be
//! prospected again) or `failed` (its errors are in `GET .../errors`, by
//! line, field and code, never with the submitted value).

mod upload;
mod worker;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use upload::{MAX_BYTES, Received, Spool, receive};
pub use worker::{CHUNK, CONTACTS_CHUNK, STALE_AFTER, Step, claim, run_next, step, sweep};

use super::audit;
use crate::auth::{Actor, Scope};
use crate::db::schema::{import_errors, import_jobs, import_rows};
use crate::error::AppError;

/// What a job imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ImportResource)]
pub enum Resource {
    /// Companies, as `POST /v1/clients` takes them; `match_on=siren` updates the one with that SIREN.
    Clients,
    /// People, as `POST /v1/contacts` takes them; `match_on=email` (the default) updates the one with that email.
    Contacts,
    /// Orders, as `POST /v1/orders` takes them; a row with `source` and `external_id` is an upsert.
    Orders,
    /// Consent events, as `POST /v1/contacts/{id}/consents` takes them, with the person's `contact_id` or `email`.
    Consents,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Clients => "clients",
            Resource::Contacts => "contacts",
            Resource::Orders => "orders",
            Resource::Consents => "consents",
        }
    }

    fn parse(s: &str) -> Option<Resource> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    /// The scope the rows' writes need, besides `imports:run`.
    pub fn write_scope(self) -> Scope {
        match self {
            Resource::Clients => Scope::ClientsWrite,
            Resource::Contacts => Scope::ContactsWrite,
            Resource::Orders => Scope::OrdersWrite,
            Resource::Consents => Scope::ConsentsWrite,
        }
    }

    /// The `match_on` a job uses when none is given.
    fn default_match(self) -> Option<MatchOn> {
        match self {
            Resource::Clients => Some(MatchOn::Siren),
            Resource::Contacts => Some(MatchOn::Email),
            Resource::Orders => Some(MatchOn::ExternalId),
            Resource::Consents => None,
        }
    }
}

/// How a row finds the record it updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ImportMatchOn)]
pub enum MatchOn {
    /// Contacts: the same email, case-insensitively.
    Email,
    /// Orders: the same `source` and `external_id`.
    ExternalId,
    /// Clients: the same SIREN.
    Siren,
}

impl MatchOn {
    fn as_str(self) -> &'static str {
        match self {
            MatchOn::Email => "email",
            MatchOn::ExternalId => "external_id",
            MatchOn::Siren => "siren",
        }
    }

    fn parse(s: &str) -> Option<MatchOn> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// The file's format, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ImportFormat)]
pub enum Format {
    /// `text/csv`: a header row naming the fields (`a.b` for a nested
    /// field), `,` or `;`, UTF-8 with or without a BOM.
    Csv,
    /// `application/x-ndjson`: one JSON object per line.
    Ndjson,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    /// The format a `Content-Type` names; 415 for any other.
    pub fn from_content_type(ct: Option<&str>) -> Result<Format, AppError> {
        let essence = ct.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" => Ok(Format::Csv),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Format::Ndjson),
            _ => Err(AppError::UnsupportedMediaType),
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ImportStatus)]
pub enum JobStatus {
    /// Every row is stored; waiting for a worker.
    Queued,
    /// A worker is writing the rows (`rows_done` says how far it is).
    Running,
    /// Every row was processed (some may have failed: see `failed`).
    Completed,
    /// The job could not run to the end (`error` says why).
    Failed,
    /// Stopped by `POST .../cancel`; the rows processed before stay.
    Cancelled,
}

/// The query of `POST /v1/imports`.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `clients`, `contacts`, `orders` or `consents`.
    #[param(required = true, value_type = Resource)]
    pub resource: Option<String>,
    /// `email` (contacts, the default), `siren` (clients, the default) or
    /// `external_id` (orders, the default); a row that matches nothing is created.
    #[param(value_type = Option<MatchOn>)]
    pub match_on: Option<String>,
    /// Validate and count every row, write nothing.
    pub dry_run: Option<bool>,
    /// Contacts: the provenance (API.md §8) stamped on every contact the
    /// job creates, as JSON (`{"source_type": "purchase", "vendor": {...}}`).
    /// A row's own `provenance` wins.
    pub provenance: Option<String>,
}

/// What the query asks for, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub resource: Resource,
    pub format: Format,
    pub match_on: Option<MatchOn>,
    pub dry_run: bool,
    pub provenance: Option<Value>,
}

/// Checks the query and the scopes before a byte of the body is read.
pub fn plan(actor: &Actor, q: ImportQuery, format: Format) -> Result<Plan, AppError> {
    actor.require(Scope::ImportsRun)?;
    let mut errors = super::Errors::default();
    let resource = match q.resource.as_deref() {
        None => {
            errors.push("resource", "required", "one of clients, contacts, orders, consents");
            None
        }
        Some(r) => {
            let found = Resource::parse(r);
            if found.is_none() {
                errors.push("resource", "invalid_value", "one of clients, contacts, orders, consents");
            }
            found
        }
    };
    let match_on = match q.match_on.as_deref() {
        None => resource.and_then(Resource::default_match),
        Some(m) => match (MatchOn::parse(m), resource) {
            (None, _) => {
                errors.push("match_on", "invalid_value", "one of email, external_id, siren");
                None
            }
            (Some(m), Some(r)) if r.default_match() != Some(m) => {
                errors.push("match_on", "not_applicable", "email matches contacts, siren clients, external_id orders");
                None
            }
            (m, _) => m,
        },
    };
    let provenance = match (q.provenance.as_deref(), resource) {
        (None, _) => None,
        (Some(_), Some(r)) if r != Resource::Contacts => {
            errors.push("provenance", "not_applicable", "only contacts carry a provenance");
            None
        }
        (Some(p), _) => match serde_json::from_str::<Value>(p) {
            Ok(Value::Object(o)) => {
                // Checked as a contact's would be, on a contact that has nothing else.
                let probe = Map::from_iter([
                    ("last_name".to_owned(), Value::from("-")),
                    ("provenance".to_owned(), Value::Object(o.clone())),
                ]);
                if let Err(AppError::Validation(es)) = super::contacts::validate(probe) {
                    for e in es {
                        errors.push(e.field, &e.code, e.message);
                    }
                }
                Some(Value::Object(o))
            }
            _ => {
                errors.push("provenance", "invalid_format", "a JSON object, as a contact's provenance");
                None
            }
        },
    };
    errors.finish()?;
    let resource = resource.ok_or(AppError::field("resource", "required", "a resource is required"))?;
    actor.require(resource.write_scope())?;
    Ok(Plan { resource, format, match_on, dry_run: q.dry_run.unwrap_or(false), provenance })
}

/// A row of `import_jobs`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_jobs, check_for_backend(diesel::pg::Pg))]
pub struct ImportJob {
    pub id: Uuid,
    pub status: String,
    pub resource: String,
    pub format: String,
    pub match_on: Option<String>,
    pub dry_run: bool,
    pub provenance: Option<Value>,
    pub requested_by: String,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub body_sha256: Option<String>,
    pub bytes: i64,
    pub attempt: i32,
    pub rows_total: i64,
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    pub skipped: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// An import job as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportOut {
    pub id: Uuid,
    pub status: JobStatus,
    pub resource: Resource,
    pub format: Format,
    pub match_on: Option<MatchOn>,
    /// Nothing is written: the counts say what the import would do.
    pub dry_run: bool,
    /// Stamped on the contacts the job creates.
    #[schema(value_type = Option<Object>)]
    pub provenance: Option<Value>,
    /// The token `sub` that asked for it.
    pub requested_by: String,
    /// Size of the file received.
    pub bytes: i64,
    /// SHA-256 of the file received, lowercase hex.
    pub sha256: Option<String>,
    /// Rows in the file (the CSV header is not a row).
    pub rows_total: i64,
    /// Rows processed so far: `created + updated + unchanged + failed + skipped`.
    pub rows_done: i64,
    pub created: i64,
    /// Matched and changed.
    pub updated: i64,
    /// Matched, and already as the row says.
    pub unchanged: i64,
    /// Refused: `GET /v1/imports/{id}/errors` says why, by line.
    pub failed: i64,
    /// Not imported on purpose: an email on the suppression list.
    pub skipped: i64,
    /// Why the job failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the job and its errors are deleted (7 days after it finished).
    pub expires_at: Option<DateTime<Utc>>,
}

fn status_of(s: &str) -> JobStatus {
    serde_json::from_value(Value::String(s.to_owned())).unwrap_or(JobStatus::Failed)
}

impl ImportOut {
    pub fn from_row(j: ImportJob) -> Self {
        ImportOut {
            id: j.id,
            status: status_of(&j.status),
            resource: Resource::parse(&j.resource).unwrap_or(Resource::Contacts),
            format: if j.format == "csv" { Format::Csv } else { Format::Ndjson },
            match_on: j.match_on.as_deref().and_then(MatchOn::parse),
            dry_run: j.dry_run,
            provenance: j.provenance,
            requested_by: j.requested_by,
            bytes: j.bytes,
            sha256: j.body_sha256,
            rows_total: j.rows_total,
            rows_done: j.rows_done,
            created: j.created,
            updated: j.updated,
            unchanged: j.unchanged,
            failed: j.failed,
            skipped: j.skipped,
            error: j.error,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            expires_at: j.expires_at,
        }
    }
}

/// How long a finished job (its counts and errors) is kept.
pub const KEEP_FOR: chrono::Duration = chrono::Duration::days(7);

/// A visible job (not still receiving, not expired), locked with `lock`.
fn visible(conn: &mut PgConnection, id: Uuid, lock: bool, now: DateTime<Utc>) -> Result<ImportJob, AppError> {
    let q = import_jobs::table
        .find(id)
        .filter(import_jobs::status.ne("receiving"))
        .filter(import_jobs::expires_at.is_null().or(import_jobs::expires_at.gt(now)))
        .select(ImportJob::as_select());
    let found = if lock { q.for_update().first(conn).optional()? } else { q.first(conn).optional()? };
    found.ok_or(AppError::NotFound("import"))
}

/// `GET /v1/imports/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> Result<ImportOut, AppError> {
    actor.require(Scope::ImportsRun)?;
    Ok(ImportOut::from_row(visible(conn, id, false, now)?))
}

/// `POST /v1/imports/{id}/cancel`: a queued or running job stops at the end
/// of the chunk being written (what committed stays) and its unprocessed
/// rows are deleted; cancelling a cancelled job answers it again; a
/// completed or failed one is a 409.
pub fn cancel(conn: &mut PgConnection, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> Result<ImportOut, AppError> {
    actor.require(Scope::ImportsRun)?;
    conn.transaction(|conn| {
        let job = visible(conn, id, true, now)?;
        match job.status.as_str() {
            "cancelled" => return Ok(ImportOut::from_row(job)),
            "queued" | "running" => {}
            _ => {
                return Err(AppError::Conflict {
                    code: "not_cancellable",
                    detail: format!("the import is {}; only a queued or running one can be cancelled", job.status),
                    field: Some("status".into()),
                });
            }
        }
        diesel::delete(import_rows::table.filter(import_rows::job_id.eq(id))).execute(conn)?;
        let row = diesel::update(import_jobs::table.find(id))
            .set((
                import_jobs::status.eq("cancelled"),
                import_jobs::finished_at.eq(now),
                import_jobs::expires_at.eq(now + KEEP_FOR),
            ))
            .returning(ImportJob::as_returning())
            .get_result(conn)?;
        audit::record(conn, actor, "import.cancelled", "import", id, vec![format!("rows_done:{}", row.rows_done)])?;
        Ok(ImportOut::from_row(row))
    })
}

/// One line of the errors file.
#[derive(Debug, Clone, Queryable)]
pub struct RowError {
    pub line: i64,
    pub seq: i32,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// Errors of a visible job after `(line, seq)`, in file order, `limit` at a time.
pub fn errors_page(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    after: Option<(i64, i32)>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<RowError>, AppError> {
    actor.require(Scope::ImportsRun)?;
    if after.is_none() {
        visible(conn, id, false, now)?;
    }
    let (line, seq) = after.unwrap_or((0, -1));
    Ok(import_errors::table
        .filter(import_errors::job_id.eq(id))
        .filter(import_errors::line.gt(line).or(import_errors::line.eq(line).and(import_errors::seq.gt(seq))))
        .order((import_errors::line, import_errors::seq))
        .limit(limit)
        .select((
            import_errors::line,
            import_errors::seq,
            import_errors::field,
            import_errors::code,
            import_errors::message,
        ))
        .load(conn)?)
}

/// The errors file's header row.
pub const ERRORS_HEADER: &str = "line,field,code,message\r\n";

/// Lines of the errors file (RFC 4180).
pub fn errors_csv(rows: &[RowError]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for r in rows {
        let line = r.line.to_string();
        // A record the writer cannot write is impossible for strings; skipped if it were.
        let _ = w.write_record([line.as_str(), r.field.as_str(), r.code.as_str(), r.message.as_str()]);
    }
    w.into_inner().unwrap_or_default()
}
