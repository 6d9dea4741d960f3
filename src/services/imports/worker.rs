//! The import worker: claims a job and writes its rows, [`CHUNK`] at a
//! time, through the API's own service functions.
//!
//! A chunk is one transaction: it re-locks the job at the attempt this
//! worker claimed (a worker that lost its job writes nothing more), runs
//! each row in a savepoint (a failing row is rolled back alone; with
//! `dry_run` every row is), deletes the chunk's rows, records their errors
//! and adds to the job's counters. What committed is done exactly once; a
//! worker that dies leaves the job `running` with a stale heartbeat, and
//! the next claim resumes at the first row still stored.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{ImportJob, KEEP_FOR, MatchOn, Resource};
use crate::auth::Actor;
use crate::db;
use crate::db::schema::{clients, import_errors, import_jobs, import_rows};
use crate::domain::Email;
use crate::error::{AppError, FieldError};
use crate::models::contact as contact_model;
use crate::services::orders::Outcome as OrderOutcome;
use crate::services::suppression::SuppressionKey;
use crate::services::{Precondition, audit, clients as client_service, consents, contacts, orders};
use crate::state::AppState;

/// Rows per transaction. A row written on its own runs in a savepoint, and
/// the service it calls opens one more (an upsert's retry a third): past 64
/// subtransactions Postgres overflows its per-backend cache and every
/// visibility check of the chunk's own rows goes through `pg_subtrans`.
/// With 500 rows per chunk the bench slowed from 256 to 140 rows/s as the
/// chunk grew; at 20, every chunk stays under the cache. New contacts are
/// written together ([`new_contacts`]) without a savepoint each: a chunk of
/// a contacts import is [`CONTACTS_CHUNK`] rows (its matched rows, updates,
/// pay the overflow; a file of new people goes 5 statements per chunk).
pub const CHUNK: i64 = 20;
/// Rows per transaction of a contacts import (not a dry run).
pub const CONTACTS_CHUNK: i64 = 500;
/// A running job whose heartbeat is older than this was left by a dead
/// worker (a live one beats at every chunk, a second or so apart).
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(30);
/// How many times a chunk is tried again when the database is busy or a
/// concurrent write aborted it, before the job fails.
const BUSY_RETRIES: u32 = 20;

/// What one chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Rows were written; more may remain.
    More,
    /// No row remained: the job is completed.
    Done,
    /// The job is no longer this attempt's (cancelled, or claimed again).
    Lost,
}

/// A row's end.
enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Failed(Vec<FieldError>),
}

/// Claims the oldest job that is queued, or running with a stale heartbeat,
/// under a new attempt (`SKIP LOCKED`: two workers never take the same one).
pub fn claim(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Option<(Uuid, i32)>> {
    conn.transaction(|conn| {
        let id: Option<Uuid> = import_jobs::table
            .filter(
                import_jobs::status
                    .eq("queued")
                    .or(import_jobs::status.eq("running").and(import_jobs::heartbeat_at.lt(now - STALE_AFTER))),
            )
            .order(import_jobs::created_at)
            .select(import_jobs::id)
            .limit(1)
            .for_update()
            .skip_locked()
            .first(conn)
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        let attempt: i32 = diesel::update(import_jobs::table.find(id))
            .set((
                import_jobs::status.eq("running"),
                import_jobs::attempt.eq(import_jobs::attempt + 1),
                import_jobs::started_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("coalesce(started_at, now())")),
                import_jobs::heartbeat_at.eq(now),
            ))
            .returning(import_jobs::attempt)
            .get_result(conn)?;
        Ok(Some((id, attempt)))
    })
}

/// Claims the next job and runs it to the end; `None` when there was none.
pub async fn run_next(state: &AppState) -> Result<Option<Uuid>, AppError> {
    let now = Utc::now();
    let Some((id, attempt)) = db::run(&state.pool, move |c| Ok(claim(c, now)?)).await? else { return Ok(None) };
    let mut busy = 0;
    loop {
        let key = state.suppression.clone();
        match db::run(&state.pool, move |c| step(c, &key, id, attempt)).await {
            Ok(Step::More) => busy = 0,
            Ok(Step::Done) => {
                tracing::info!(import = %id, attempt, "import completed");
                break;
            }
            Ok(Step::Lost) => {
                tracing::warn!(import = %id, attempt, "import no longer ours (cancelled or taken over); stopped");
                break;
            }
            Err(AppError::Unavailable(_) | AppError::Contention(_)) if busy < BUSY_RETRIES => {
                busy += 1;
                actix_web::rt::time::sleep(Duration::from_millis(100 * u64::from(busy))).await;
            }
            Err(e) => {
                tracing::warn!(import = %id, attempt, error = %e, "import failed");
                let why = match e {
                    AppError::Unavailable(_) | AppError::Contention(_) => "the database was unavailable; import again",
                    _ => "the import could not be written; the server's log has the cause",
                };
                db::run(&state.pool, move |c| Ok(fail(c, id, attempt, why)?)).await?;
                break;
            }
        }
    }
    Ok(Some(id))
}

/// Ends `attempt` as failed; its unprocessed rows (personal data) go.
fn fail(conn: &mut PgConnection, id: Uuid, attempt: i32, why: &str) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let now = Utc::now();
        let n = diesel::update(
            import_jobs::table
                .find(id)
                .filter(import_jobs::attempt.eq(attempt))
                .filter(import_jobs::status.eq("running")),
        )
        .set((
            import_jobs::status.eq("failed"),
            import_jobs::error.eq(why),
            import_jobs::finished_at.eq(now),
            import_jobs::expires_at.eq(now + KEEP_FOR),
        ))
        .execute(conn)?;
        if n == 1 {
            diesel::delete(import_rows::table.filter(import_rows::job_id.eq(id))).execute(conn)?;
        }
        Ok(n == 1)
    })
}

/// The actor a job's writes are made in the name of: who asked for it,
/// with the one scope its rows need.
fn actor_of(job: &ImportJob, resource: Resource) -> Actor {
    Actor::new(job.requested_by.clone(), &[resource.write_scope()], None).with_request_id(job.request_id.clone())
}

/// One chunk of job `id` at `attempt`, in one transaction.
pub fn step(conn: &mut PgConnection, key: &Arc<SuppressionKey>, id: Uuid, attempt: i32) -> Result<Step, AppError> {
    conn.transaction(|c| {
        let job: Option<ImportJob> = import_jobs::table
            .find(id)
            .filter(import_jobs::attempt.eq(attempt))
            .filter(import_jobs::status.eq("running"))
            .select(ImportJob::as_select())
            .for_update()
            .first(c)
            .optional()?;
        let Some(job) = job else { return Ok(Step::Lost) };
        let resource = Resource::parse(&job.resource).unwrap_or(Resource::Contacts);
        let actor = actor_of(&job, resource);
        let rows: Vec<(i64, i64, String)> = import_rows::table
            .filter(import_rows::job_id.eq(id))
            .order(import_rows::n)
            .limit(if resource == Resource::Contacts && !job.dry_run { CONTACTS_CHUNK } else { CHUNK })
            .select((import_rows::n, import_rows::line, import_rows::data))
            .load(c)?;
        let now = Utc::now();
        let Some(last) = rows.last().map(|r| r.0) else {
            diesel::update(import_jobs::table.find(id))
                .set((
                    import_jobs::status.eq("completed"),
                    import_jobs::heartbeat_at.eq(now),
                    import_jobs::finished_at.eq(now),
                    import_jobs::expires_at.eq(now + KEEP_FOR),
                ))
                .execute(c)?;
            let fields = vec![
                format!("created:{}", job.created),
                format!("updated:{}", job.updated),
                format!("unchanged:{}", job.unchanged),
                format!("failed:{}", job.failed),
                format!("skipped:{}", job.skipped),
            ];
            audit::record(c, &actor, "import.completed", "import", id, fields)?;
            return Ok(Step::Done);
        };
        let match_on = job.match_on.as_deref().and_then(MatchOn::parse);
        let (mut created, mut updated, mut unchanged, mut skipped, mut failed) = (0i64, 0i64, 0i64, 0i64, 0i64);
        let mut errors = Vec::new();
        let mut settled: Vec<Option<Outcome>> = (0..rows.len()).map(|_| None).collect();
        if resource == Resource::Contacts && !job.dry_run {
            new_contacts(c, &actor, key, job.provenance.as_ref(), &rows, &mut settled)?;
        }
        for (i, (_, line, data)) in rows.iter().enumerate() {
            let outcome = match (settled[i].take(), parse(data)) {
                (Some(o), _) => o,
                (None, Err(e)) => Outcome::Failed(vec![e]),
                (None, Ok(map)) => row(c, &actor, key, resource, match_on, job.provenance.as_ref(), job.dry_run, map)?,
            };
            match outcome {
                Outcome::Created => created += 1,
                Outcome::Updated => updated += 1,
                Outcome::Unchanged => unchanged += 1,
                Outcome::Skipped => skipped += 1,
                Outcome::Failed(es) => {
                    failed += 1;
                    for (seq, e) in es.into_iter().enumerate() {
                        errors.push((
                            import_errors::job_id.eq(id),
                            import_errors::line.eq(*line),
                            import_errors::seq.eq(seq as i32),
                            import_errors::field.eq(e.field),
                            import_errors::code.eq(e.code),
                            import_errors::message.eq(e.message),
                        ));
                    }
                }
            }
        }
        for part in errors.chunks(1_000) {
            diesel::insert_into(import_errors::table).values(part.to_vec()).on_conflict_do_nothing().execute(c)?;
        }
        diesel::delete(import_rows::table.filter(import_rows::job_id.eq(id)).filter(import_rows::n.le(last)))
            .execute(c)?;
        diesel::update(import_jobs::table.find(id))
            .set((
                import_jobs::rows_done.eq(import_jobs::rows_done + rows.len() as i64),
                import_jobs::created.eq(import_jobs::created + created),
                import_jobs::updated.eq(import_jobs::updated + updated),
                import_jobs::unchanged.eq(import_jobs::unchanged + unchanged),
                import_jobs::skipped.eq(import_jobs::skipped + skipped),
                import_jobs::failed.eq(import_jobs::failed + failed),
                import_jobs::heartbeat_at.eq(now),
            ))
            .execute(c)?;
        Ok(Step::More)
    })
}

/// The contacts of a chunk that only create (their email is on no contact
/// and on no earlier row of the chunk), written together: one statement for
/// the emails on file, one for the clients named, one for the suppression
/// list, one insert, one for their events and audit entries; instead of
/// some eight round trips a row. What each row goes through is
/// `POST /v1/contacts`'s: [`contacts::validate`] (with the free-text
/// guard), the suppression rule of a prospect, the same event and audit
/// fields. Rows it does not settle (a match, a client that does not exist,
/// an email seen earlier in the chunk, a batch the database refuses) are
/// left `None` for the row-by-row path, which gives them the API's answer.
fn new_contacts(
    c: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    provenance: Option<&Value>,
    rows: &[(i64, i64, String)],
    settled: &mut [Option<Outcome>],
) -> Result<(), AppError> {
    use diesel::sql_types::{Array, Text};
    let email_of = |m: &Map<String, Value>| {
        m.get("email").and_then(Value::as_str).and_then(|e| Email::parse(e).ok()).map(|e| e.as_str().to_lowercase())
    };
    let maps: Vec<(usize, Map<String, Value>)> =
        rows.iter().enumerate().filter_map(|(i, (_, _, data))| parse(data).ok().map(|m| (i, m))).collect();
    let emails: Vec<String> = maps.iter().filter_map(|(_, m)| email_of(m)).collect();
    let on_file: std::collections::HashSet<String> = if emails.is_empty() {
        Default::default()
    } else {
        crate::db::schema::contacts::table
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ANY(")
                    .bind::<Array<Text>, _>(&emails)
                    .sql(")"),
            )
            .select(diesel::dsl::sql::<Text>("lower(email)"))
            .load::<String>(c)?
            .into_iter()
            .collect()
    };
    let mut seen = std::collections::HashSet::new();
    let mut writes: Vec<(usize, crate::models::contact::ContactWrite)> = Vec::new();
    for (i, mut m) in maps {
        if let Some(e) = email_of(&m)
            && (on_file.contains(&e) || !seen.insert(e))
        {
            continue;
        }
        if let Some(p) = provenance {
            m.entry("provenance").or_insert_with(|| p.clone());
        }
        match contacts::validate(m) {
            Ok(w) => writes.push((i, w)),
            Err(e) => settled[i] = Some(Outcome::Failed(field_errors(e))),
        }
    }
    let named: Vec<Uuid> = writes.iter().filter_map(|(_, w)| w.client_id).collect();
    if !named.is_empty() {
        let known: std::collections::HashSet<Uuid> = clients::table
            .filter(clients::id.eq_any(&named))
            .select(clients::id)
            .load::<Uuid>(c)?
            .into_iter()
            .collect();
        writes.retain(|(_, w)| w.client_id.is_none_or(|id| known.contains(&id)));
    }
    // A suppressed person may come back only by buying (contacts::create).
    let prospecting = |w: &crate::models::contact::ContactWrite| {
        w.status == crate::domain::Status::Prospect.as_str()
            && w.lawful_basis != crate::domain::LawfulBasis::Contract.as_str()
    };
    let macs: Vec<(usize, Vec<u8>)> = writes
        .iter()
        .filter(|(_, w)| prospecting(w))
        .filter_map(|(i, w)| Some((*i, key.hmac(&Email::parse(w.email.as_deref()?).ok()?))))
        .collect();
    if !macs.is_empty() {
        use crate::db::schema::suppression_list;
        let all: Vec<&Vec<u8>> = macs.iter().map(|(_, m)| m).collect();
        let listed: std::collections::HashSet<Vec<u8>> = suppression_list::table
            .filter(suppression_list::email_hmac.eq_any(all))
            .select(suppression_list::email_hmac)
            .load::<Vec<u8>>(c)?
            .into_iter()
            .collect();
        for (i, mac) in &macs {
            if listed.contains(mac) {
                settled[*i] = Some(Outcome::Skipped);
            }
        }
        writes.retain(|(i, _)| settled[*i].is_none());
    }
    if writes.is_empty() {
        return Ok(());
    }
    use crate::db::schema::contacts as contacts_table;
    use crate::models::contact::Contact;
    let ids: Vec<Uuid> = writes.iter().map(|_| Uuid::now_v7()).collect();
    let values: Vec<_> = ids.iter().zip(&writes).map(|(id, (_, w))| (contacts_table::id.eq(*id), w)).collect();
    // In a savepoint: a batch the database refuses (a constraint the
    // validation does not know) goes row by row instead, each with its answer.
    let inserted: Result<Vec<Contact>, RowEnd> = c.transaction(|c| {
        Ok(diesel::insert_into(contacts_table::table)
            .values(values.clone())
            .returning(Contact::as_returning())
            .get_results(c)?)
    });
    let inserted = match inserted {
        Ok(rows) => rows,
        Err(RowEnd::App(e @ (AppError::Unavailable(_) | AppError::Contention(_)))) => return Err(e),
        Err(_) => return Ok(()),
    };
    let mut by_id: std::collections::HashMap<Uuid, Contact> = inserted.into_iter().map(|r| (r.id, r)).collect();
    let mut changes = Vec::with_capacity(writes.len());
    for (id, (i, w)) in ids.iter().zip(&writes) {
        let Some(row) = by_id.remove(id) else { continue };
        let out = contacts::out(c, row)?;
        changes.push(crate::services::events::Change {
            kind: "contact.created".into(),
            resource_type: "contact".into(),
            resource_id: id.to_string(),
            fields: audit::set_fields(&crate::services::to_doc(w)),
            data: Some(crate::services::to_doc(&out)),
        });
        settled[*i] = Some(Outcome::Created);
    }
    crate::services::events::change_many(c, actor, changes)?;
    Ok(())
}

/// A stored record as the JSON object a request body would be.
fn parse(data: &str) -> Result<Map<String, Value>, FieldError> {
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(FieldError::new("", "invalid_type", "a row must be a JSON object")),
        Err(_) => Err(FieldError::new("", "invalid_json", "the line is not valid JSON")),
    }
}

/// How a savepoint ends: the row's outcome kept (dry run) or an error.
enum RowEnd {
    Keep(Outcome),
    App(AppError),
}

impl From<diesel::result::Error> for RowEnd {
    fn from(e: diesel::result::Error) -> Self {
        RowEnd::App(e.into())
    }
}

/// One row in a savepoint of its own. `Err` only for what must abort the
/// whole chunk (the database busy, a concurrent write): the chunk is tried
/// again.
#[allow(clippy::too_many_arguments)]
fn row(
    c: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    resource: Resource,
    match_on: Option<MatchOn>,
    provenance: Option<&Value>,
    dry_run: bool,
    map: Map<String, Value>,
) -> Result<Outcome, AppError> {
    let ended: Result<Outcome, RowEnd> = c.transaction(|c| {
        let o = apply(c, actor, key, resource, match_on, provenance, map).map_err(RowEnd::App)?;
        if dry_run { Err(RowEnd::Keep(o)) } else { Ok(o) }
    });
    match ended {
        Ok(o) | Err(RowEnd::Keep(o)) => Ok(o),
        Err(RowEnd::App(e @ (AppError::Unavailable(_) | AppError::Contention(_)))) => Err(e),
        Err(RowEnd::App(e)) => Ok(Outcome::Failed(field_errors(e))),
    }
}

/// What a refused row's errors file says: field, code and message, never the value.
fn field_errors(e: AppError) -> Vec<FieldError> {
    match e {
        AppError::Validation(es) => es,
        AppError::Conflict { code, detail, field } => vec![FieldError::new(field.unwrap_or_default(), code, detail)],
        AppError::NotFound(what) => vec![FieldError::new("", "not_found", format!("{what} not found"))],
        AppError::BadRequest(msg) => vec![FieldError::new("", "invalid", msg)],
        AppError::PreconditionFailed => {
            vec![FieldError::new("", "conflict", "the record changed while it was written")]
        }
        other => {
            tracing::warn!(error = %other, "an import row failed unexpectedly");
            vec![FieldError::new("", "internal_error", "the row could not be written; the server's log has the cause")]
        }
    }
}

fn apply(
    c: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    resource: Resource,
    match_on: Option<MatchOn>,
    provenance: Option<&Value>,
    mut map: Map<String, Value>,
) -> Result<Outcome, AppError> {
    match resource {
        Resource::Contacts => {
            if match_on == Some(MatchOn::Email)
                && let Some(Value::String(e)) = map.get("email")
                && let Ok(email) = Email::parse(e)
                && let Some(found) = contact_model::find_by_email(c, email.as_str(), true)?
            {
                let out = contacts::update(c, actor, key, found.id, map, &Precondition::None)?;
                return Ok(if out.version == found.version { Outcome::Unchanged } else { Outcome::Updated });
            }
            if let Some(p) = provenance {
                map.entry("provenance").or_insert_with(|| p.clone());
            }
            match contacts::create(c, actor, key, map) {
                Ok(_) => Ok(Outcome::Created),
                Err(AppError::Conflict { code: "suppressed", .. }) => Ok(Outcome::Skipped),
                Err(e) => Err(e),
            }
        }
        Resource::Clients => {
            if match_on == Some(MatchOn::Siren)
                && let Some(Value::String(s)) = map.get("siren")
            {
                let found: Option<(Uuid, i32)> = clients::table
                    .filter(clients::siren.eq(s.trim()))
                    .select((clients::id, clients::version))
                    .for_update()
                    .first(c)
                    .optional()?;
                if let Some((id, version)) = found {
                    let out = client_service::update(c, actor, id, map, &Precondition::None)?;
                    return Ok(if out.version == version { Outcome::Unchanged } else { Outcome::Updated });
                }
            }
            client_service::create(c, actor, map)?;
            Ok(Outcome::Created)
        }
        Resource::Orders => {
            if match_on == Some(MatchOn::ExternalId)
                && let (Some(Value::String(source)), Some(Value::String(external))) =
                    (map.get("source").cloned(), map.get("external_id").cloned())
            {
                let (_, outcome) = orders::upsert_external(c, actor, &source, &external, map, &Precondition::None)?;
                return Ok(match outcome {
                    OrderOutcome::Created => Outcome::Created,
                    OrderOutcome::Updated => Outcome::Updated,
                    OrderOutcome::Unchanged => Outcome::Unchanged,
                });
            }
            orders::create(c, actor, map)?;
            Ok(Outcome::Created)
        }
        Resource::Consents => {
            let contact_id = match (map.remove("contact_id"), map.remove("email")) {
                (Some(Value::String(id)), _) => Uuid::parse_str(id.trim())
                    .map_err(|_| AppError::field("contact_id", "invalid_format", "must be a UUID"))?,
                (Some(_), _) => return Err(AppError::field("contact_id", "invalid_type", "must be a UUID string")),
                (None, Some(Value::String(e))) => {
                    let email = Email::parse(&e).map_err(|e| AppError::field("email", e.code, e.message))?;
                    contact_model::find_by_email(c, email.as_str(), false)?
                        .ok_or(AppError::field("email", "not_found", "no contact has this email"))?
                        .id
                }
                (None, Some(_)) => return Err(AppError::field("email", "invalid_type", "must be a string")),
                (None, None) => {
                    return Err(AppError::field(
                        "contact_id",
                        "required",
                        "the person's contact_id or email is required",
                    ));
                }
            };
            consents::record(c, actor, contact_id, map)?;
            Ok(Outcome::Created)
        }
    }
}

/// Deletes jobs that expired (7 days after they finished) and receptions a
/// crash interrupted (still `receiving` after an hour); how many went.
pub fn sweep(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        import_jobs::table.filter(
            import_jobs::expires_at.le(now).or(import_jobs::status
                .eq("receiving")
                .and(import_jobs::created_at.lt(now - chrono::Duration::hours(1)))),
        ),
    )
    .execute(conn)
}
