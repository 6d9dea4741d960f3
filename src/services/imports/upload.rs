//! Receiving an import: the body is spooled to a temporary file as it
//! arrives (hashed on the way), then parsed into `import_rows` in batches,
//! each a statement of its own (no transaction stays open for the length of
//! a 100 MiB file, so the event feed and VACUUM never wait for it). The job
//! stays `receiving`, invisible, until every row is stored; a failed
//! receive deletes it, and the sweep removes one a crash left behind.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use diesel::prelude::*;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Format, ImportJob, Plan, Resource};
use crate::auth::Actor;
use crate::db::schema::{import_errors, import_jobs, import_rows};
use crate::error::{AppError, FieldError};
use crate::services::audit;

/// The largest body accepted (API.md §9): 100 MiB.
pub const MAX_BYTES: u64 = 100 * 1024 * 1024;
/// The longest record kept (an NDJSON line); a longer one fails on its own.
const MAX_RECORD: usize = 1024 * 1024;
/// Rows inserted per statement.
const BATCH: usize = 1_000;

/// The body on its way to disk: a temporary file, removed when dropped.
pub struct Spool {
    path: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    pub bytes: u64,
}

impl Spool {
    /// A new, empty file in the system's temporary directory.
    pub fn create() -> std::io::Result<Spool> {
        let path = std::env::temp_dir().join(format!("clientele-import-{}", Uuid::now_v7()));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(Spool { path, file: Some(file), hasher: Sha256::new(), bytes: 0 })
    }

    /// Appends bytes of the body.
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        match self.file.as_mut() {
            Some(f) => f.write_all(chunk),
            None => Err(std::io::Error::other("spool already closed")),
        }
    }

    /// Closes the file; its SHA-256 (hex).
    pub fn finish(&mut self) -> std::io::Result<String> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        Ok(hex::encode(std::mem::take(&mut self.hasher).finalize()))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.file.take();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What `receive` did.
pub enum Received {
    /// A new job, queued.
    Queued(ImportJob),
    /// The same `Idempotency-Key` and the same file: the job of the first request.
    Replayed(ImportJob),
}

/// Stores the spooled file's rows under a new job and queues it; with
/// `key`, a retry of the same file gets the first job back and another file
/// under the same key is a 422.
pub fn receive(
    conn: &mut PgConnection,
    actor: &Actor,
    plan: &Plan,
    spool: &mut Spool,
    key: Option<String>,
) -> Result<Received, AppError> {
    let sha = spool.finish().map_err(AppError::internal)?;
    if let Some(k) = &key {
        let earlier: Option<ImportJob> = import_jobs::table
            .filter(import_jobs::requested_by.eq(&actor.sub))
            .filter(import_jobs::idempotency_key.eq(k))
            .select(ImportJob::as_select())
            .first(conn)
            .optional()?;
        if let Some(job) = earlier {
            return same_request(job, plan, &sha);
        }
    }
    let id = Uuid::now_v7();
    let inserted = diesel::insert_into(import_jobs::table)
        .values((
            import_jobs::id.eq(id),
            import_jobs::resource.eq(plan.resource.as_str()),
            import_jobs::format.eq(plan.format.as_str()),
            import_jobs::match_on.eq(plan.match_on.map(|m| m.as_str())),
            import_jobs::dry_run.eq(plan.dry_run),
            import_jobs::provenance.eq(&plan.provenance),
            import_jobs::requested_by.eq(&actor.sub),
            import_jobs::request_id.eq(&actor.request_id),
            import_jobs::idempotency_key.eq(&key),
            import_jobs::body_sha256.eq(&sha),
            import_jobs::bytes.eq(spool.bytes as i64),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            return Err(AppError::Conflict {
                code: "idempotency_in_progress",
                detail: "a request with this Idempotency-Key is still being processed; retry later".into(),
                field: None,
            });
        }
        Err(e) => return Err(e.into()),
    }
    match store_rows(conn, id, plan, &spool.path) {
        Ok((total, failed)) => conn.transaction(|conn| {
            let job = diesel::update(import_jobs::table.find(id))
                .set((
                    import_jobs::status.eq("queued"),
                    import_jobs::rows_total.eq(total),
                    import_jobs::rows_done.eq(failed),
                    import_jobs::failed.eq(failed),
                ))
                .returning(ImportJob::as_returning())
                .get_result(conn)?;
            let mut fields = vec![plan.resource.as_str().to_owned(), format!("rows:{total}")];
            if plan.dry_run {
                fields.push("dry_run".into());
            }
            audit::record(conn, actor, "import.requested", "import", id, fields)?;
            Ok(Received::Queued(job))
        }),
        Err(e) => {
            let _ = diesel::delete(import_jobs::table.find(id)).execute(conn);
            Err(e)
        }
    }
}

fn same_request(job: ImportJob, plan: &Plan, sha: &str) -> Result<Received, AppError> {
    let same = job.body_sha256.as_deref() == Some(sha)
        && job.resource == plan.resource.as_str()
        && job.format == plan.format.as_str()
        && job.match_on.as_deref() == plan.match_on.map(|m| m.as_str())
        && job.dry_run == plan.dry_run
        && job.provenance == plan.provenance;
    match (same, job.status.as_str()) {
        (false, _) => Err(AppError::IdempotencyMismatch),
        (true, "receiving") => Err(AppError::Conflict {
            code: "idempotency_in_progress",
            detail: "a request with this Idempotency-Key is still being processed; retry later".into(),
            field: None,
        }),
        (true, _) => Ok(Received::Replayed(job)),
    }
}

/// A row to store, or the errors that keep it out.
struct Pending {
    rows: Vec<(Uuid, i64, i64, String)>,
    errors: Vec<(Uuid, i64, i32, String, String, String)>,
    total: i64,
    failed: i64,
    job: Uuid,
}

impl Pending {
    fn row(&mut self, conn: &mut PgConnection, line: i64, data: String) -> QueryResult<()> {
        self.total += 1;
        self.rows.push((self.job, self.total, line, data));
        if self.rows.len() >= BATCH { self.flush(conn) } else { Ok(()) }
    }

    fn fail(&mut self, conn: &mut PgConnection, line: i64, field: &str, code: &str, message: &str) -> QueryResult<()> {
        self.total += 1;
        self.failed += 1;
        self.errors.push((self.job, line, 0, field.to_owned(), code.to_owned(), message.to_owned()));
        if self.errors.len() >= BATCH { self.flush(conn) } else { Ok(()) }
    }

    fn flush(&mut self, conn: &mut PgConnection) -> QueryResult<()> {
        if !self.rows.is_empty() {
            let values: Vec<_> = self
                .rows
                .drain(..)
                .map(|(j, n, line, data)| {
                    (
                        import_rows::job_id.eq(j),
                        import_rows::n.eq(n),
                        import_rows::line.eq(line),
                        import_rows::data.eq(data),
                    )
                })
                .collect();
            diesel::insert_into(import_rows::table).values(values).execute(conn)?;
        }
        if !self.errors.is_empty() {
            let values: Vec<_> = self
                .errors
                .drain(..)
                .map(|(j, line, seq, field, code, message)| {
                    (
                        import_errors::job_id.eq(j),
                        import_errors::line.eq(line),
                        import_errors::seq.eq(seq),
                        import_errors::field.eq(field),
                        import_errors::code.eq(code),
                        import_errors::message.eq(message),
                    )
                })
                .collect();
            diesel::insert_into(import_errors::table).values(values).on_conflict_do_nothing().execute(conn)?;
        }
        Ok(())
    }
}

/// Parses the file into rows; (rows, rows that failed already).
fn store_rows(conn: &mut PgConnection, job: Uuid, plan: &Plan, path: &PathBuf) -> Result<(i64, i64), AppError> {
    let file = File::open(path).map_err(AppError::internal)?;
    let mut pending = Pending { rows: Vec::new(), errors: Vec::new(), total: 0, failed: 0, job };
    match plan.format {
        Format::Csv => csv_rows(conn, &mut pending, plan.resource, file)?,
        Format::Ndjson => ndjson_rows(conn, &mut pending, file)?,
    }
    pending.flush(conn)?;
    Ok((pending.total, pending.failed))
}

fn ndjson_rows(conn: &mut PgConnection, p: &mut Pending, file: File) -> Result<(), AppError> {
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let mut line_no = 0i64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut r).take(MAX_RECORD as u64 + 1).read_until(b'\n', &mut buf).map_err(AppError::internal)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.len() > MAX_RECORD && buf.last() != Some(&b'\n') {
            // The rest of an overlong line goes unread into nothing.
            let mut rest = Vec::new();
            r.read_until(b'\n', &mut rest).map_err(AppError::internal)?;
            p.fail(conn, line_no, "", "too_long", "a line may hold at most 1 MiB")?;
            continue;
        }
        let mut bytes: &[u8] = &buf;
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            p.fail(conn, line_no, "", "invalid_encoding", "the line is not UTF-8")?;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        p.row(conn, line_no, text.to_owned())?;
    }
    Ok(())
}

/// How a CSV cell becomes a JSON value, per top-level field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Text as is.
    Text,
    /// A list of strings: JSON (`["a","b"]`) or `a|b`.
    TextList,
    /// A number, a boolean, a list or an object: parsed as JSON.
    Json,
}

fn types_in(v: &Value, out: &mut Vec<String>) {
    match v.get("type") {
        Some(Value::String(t)) => out.push(t.clone()),
        Some(Value::Array(ts)) => out.extend(ts.iter().filter_map(|t| t.as_str().map(str::to_owned))),
        _ => {}
    }
    for k in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(alts)) = v.get(k) {
            for a in alts {
                types_in(a, out);
            }
        }
    }
}

/// The fields a row of `resource` may name, and how their cells read.
fn kinds(resource: Resource) -> HashMap<String, Kind> {
    use utoipa::PartialSchema;
    let schema = match resource {
        Resource::Clients => crate::services::clients::ClientInput::schema(),
        Resource::Contacts => crate::services::contacts::ContactInput::schema(),
        Resource::Orders => crate::services::orders::OrderInput::schema(),
        Resource::Consents => crate::services::consents::ConsentInput::schema(),
    };
    let doc = serde_json::to_value(schema).unwrap_or_default();
    let mut out = HashMap::new();
    if let Some(props) = doc["properties"].as_object() {
        for (name, p) in props {
            let mut types = Vec::new();
            types_in(p, &mut types);
            let kind = if types.iter().any(|t| t == "array") {
                let mut items = Vec::new();
                types_in(&p["items"], &mut items);
                if items.iter().any(|t| t == "string") { Kind::TextList } else { Kind::Json }
            } else if types.iter().any(|t| matches!(t.as_str(), "integer" | "number" | "boolean" | "object")) {
                Kind::Json
            } else {
                Kind::Text
            };
            out.insert(name.clone(), kind);
        }
    }
    if resource == Resource::Consents {
        out.insert("contact_id".into(), Kind::Text);
        out.insert("email".into(), Kind::Text);
    }
    out
}

/// A header of the CSV: the path of the field it fills.
struct Column {
    path: Vec<String>,
    kind: Kind,
}

fn columns(resource: Resource, header: &csv::ByteRecord) -> Result<Vec<Column>, AppError> {
    let kinds = kinds(resource);
    let mut errors = Vec::new();
    let mut cols = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut tops: HashMap<String, bool> = HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let field = format!("header[{i}]");
        let Ok(name) = std::str::from_utf8(raw) else {
            errors.push(FieldError::new(field, "invalid_encoding", "the header is not UTF-8"));
            continue;
        };
        let name = if i == 0 { name.trim_start_matches('\u{feff}') } else { name }.trim();
        let path: Vec<String> = name.split('.').map(|s| s.trim().to_owned()).collect();
        if name.is_empty() || path.iter().any(String::is_empty) {
            errors.push(FieldError::new(field, "required", "every column needs a name"));
            continue;
        }
        let Some(kind) = kinds.get(&path[0]) else {
            errors.push(FieldError::new(
                field,
                "unknown_field",
                format!("`{}` is not a field of {}", path[0], resource.as_str()),
            ));
            continue;
        };
        let nested = path.len() > 1;
        if !seen.insert(name.to_owned())
            || tops.insert(path[0].clone(), nested).is_some_and(|was| was != nested || !nested)
        {
            errors.push(FieldError::new(field, "duplicate", format!("`{name}` is filled by another column too")));
            continue;
        }
        cols.push(Column { kind: if nested { Kind::Text } else { *kind }, path });
    }
    if cols.is_empty() && errors.is_empty() {
        errors.push(FieldError::new("header", "required", "the first line must name the columns"));
    }
    if errors.is_empty() { Ok(cols) } else { Err(AppError::Validation(errors)) }
}

/// A cell as the JSON value of its field.
fn cell(kind: Kind, text: &str) -> Value {
    let json = || serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    match kind {
        Kind::Json => json(),
        Kind::TextList if text.trim_start().starts_with('[') => json(),
        Kind::TextList => Value::Array(text.split('|').map(|s| Value::String(s.trim().to_owned())).collect()),
        Kind::Text if text.trim_start().starts_with('{') => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => Value::String(text.to_owned()),
        },
        Kind::Text => Value::String(text.to_owned()),
    }
}

fn insert_path(map: &mut Map<String, Value>, path: &[String], v: Value) {
    if path.len() == 1 {
        map.insert(path[0].clone(), v);
        return;
    }
    let entry = map.entry(path[0].clone()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        insert_path(inner, &path[1..], v);
    }
}

/// `;` when the first line holds more of them than of `,` (outside quotes).
fn delimiter(head: &[u8]) -> u8 {
    let (mut commas, mut semis, mut quoted) = (0, 0, false);
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semis += 1,
            b'\n' if !quoted => break,
            _ => {}
        }
    }
    if semis > commas { b';' } else { b',' }
}

fn csv_rows(conn: &mut PgConnection, p: &mut Pending, resource: Resource, file: File) -> Result<(), AppError> {
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let head = r.fill_buf().map_err(AppError::internal)?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let delim = delimiter(head);
    let mut rdr = csv::ReaderBuilder::new().delimiter(delim).flexible(true).has_headers(true).from_reader(r);
    let header =
        rdr.byte_headers().map_err(|_| AppError::field("header", "invalid_format", "the header row is not CSV"))?;
    let mut header = header.clone();
    if let Some(first) = header.get(0) {
        // The BOM is not part of the first column's name.
        if let Some(rest) = first.strip_prefix(b"\xEF\xBB\xBF") {
            let mut fixed = csv::ByteRecord::new();
            fixed.push_field(rest);
            for f in header.iter().skip(1) {
                fixed.push_field(f);
            }
            header = fixed;
        }
    }
    let cols = columns(resource, &header)?;
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line() as i64).unwrap_or(1);
                p.fail(conn, line.max(1), "", "invalid_format", "the row is not valid CSV")?;
                // A CSV error leaves the reader at an unknown place in the file: stop there.
                break;
            }
        }
        let line = rec.position().map(|p| p.line() as i64).unwrap_or(1).max(1);
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if rec.len() != cols.len() {
            let msg = format!("the row has {} fields, the header {}", rec.len(), cols.len());
            p.fail(conn, line, "", "field_count", &msg)?;
            continue;
        }
        let mut map = Map::new();
        let mut bad = None;
        for (col, raw) in cols.iter().zip(rec.iter()) {
            let Ok(text) = std::str::from_utf8(raw) else {
                bad = Some(col.path.join("."));
                break;
            };
            if text.is_empty() {
                continue;
            }
            insert_path(&mut map, &col.path, cell(col.kind, text));
        }
        if let Some(field) = bad {
            p.fail(conn, line, &field, "invalid_encoding", "the cell is not UTF-8")?;
            continue;
        }
        p.row(conn, line, Value::Object(map).to_string())?;
    }
    Ok(())
}
