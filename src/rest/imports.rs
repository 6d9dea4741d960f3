//! `/v1/imports`: import jobs, their progress and their errors file.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::Filter;
use crate::http::idempotency::{IDEMPOTENCY_KEY, REPLAYED};
use crate::services::imports::{self, ERRORS_HEADER, Format, ImportOut, ImportQuery, MAX_BYTES, Spool};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_import).service(get_import).service(cancel_import).service(get_import_errors);
}

/// Bytes of the body buffered before they go to the spool file.
const SPOOL_CHUNK: usize = 1024 * 1024;
/// Errors read per statement while the errors file streams.
const ERRORS_PAGE: i64 = 5_000;

/// A file to import, as bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImportBody(#[allow(dead_code)] Vec<u8>);

/// Import a CSV or NDJSON file (a job).
///
/// The body (at most 100 MiB) is `text/csv` — a header row naming the
/// fields of the resource's create body (`a.b` for a nested field such as
/// `provenance.source_type`), `,` or `;`, UTF-8 with or without a BOM;
/// numbers, booleans and objects as JSON text, a list of strings as JSON or
/// `a|b` — or `application/x-ndjson`, one JSON object per line. It is
/// received whole before the answer (202, `Location`); a worker then writes
/// every row through the same validation, free-text guard, events and audit
/// as the API, in the name of the token's `sub`. `match_on` finds the
/// record a row updates (contacts by `email`, clients by `siren`, orders by
/// `source` and `external_id`); a row that matches nothing is created.
/// Emails on the suppression list are skipped and counted, not imported.
/// The job survives a restart of the server and resumes. Needs
/// `imports:run` and the resource's write scope. 422 for an unknown
/// column or query parameter, 413 past 100 MiB, 415 for another
/// Content-Type. With `Idempotency-Key`, a retry of the same file answers
/// the first job (`Idempotent-Replayed: true`).
#[utoipa::path(tag = "imports", security(("bearer" = ["imports:run"])), params(ImportQuery),
    request_body(content((ImportBody = "text/csv"), (ImportBody = "application/x-ndjson")),
        description = "The rows, a CSV with a header row or NDJSON"),
    responses((status = 202, description = "Queued", body = ImportOut, headers(("Location" = String)))))]
#[post("/imports")]
async fn create_import(
    state: web::Data<AppState>,
    actor: Actor,
    req: HttpRequest,
    q: Filter<ImportQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    // 403 before 415: a token that may not import learns nothing of the body's rules.
    actor.require(crate::auth::Scope::ImportsRun)?;
    let format = Format::from_content_type(req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))?;
    let plan = imports::plan(&actor, q.0, format)?;
    let key = match req.headers().get(&IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b)) => {
                Some(k.to_owned())
            }
            _ => {
                return Err(AppError::field("Idempotency-Key", "invalid_format", "1 to 255 visible ASCII characters"));
            }
        },
    };
    let mut spool = web::block(Spool::create).await?.map_err(AppError::internal)?;
    let mut buf: Vec<u8> = Vec::with_capacity(SPOOL_CHUNK);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
        if spool.bytes + (buf.len() + chunk.len()) as u64 > MAX_BYTES {
            return Err(AppError::PayloadTooLarge(MAX_BYTES as usize));
        }
        buf.extend_from_slice(&chunk);
        if buf.len() >= SPOOL_CHUNK {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(SPOOL_CHUNK));
            spool = web::block(move || spool.write(&full).map(|_| spool)).await?.map_err(AppError::internal)?;
        }
    }
    spool = web::block(move || spool.write(&buf).map(|_| spool)).await?.map_err(AppError::internal)?;
    let received = db::run(&state.pool, move |c| imports::receive(c, &actor, &plan, &mut spool, key)).await?;
    let (job, replayed) = match received {
        imports::Received::Queued(j) => (j, false),
        imports::Received::Replayed(j) => (j, true),
    };
    let mut res = HttpResponse::Accepted();
    res.insert_header((header::LOCATION, format!("/v1/imports/{}", job.id)));
    if replayed {
        res.insert_header((REPLAYED, "true"));
    }
    Ok(res.json(ImportOut::from_row(job)))
}

/// Get an import job: its status and counts.
///
/// `rows_done` of `rows_total` were processed so far, each counted once as
/// `created`, `updated`, `unchanged`, `failed` or `skipped` (a suppressed
/// email). 404 for an unknown or expired job (kept 7 days after it finished).
#[utoipa::path(tag = "imports", security(("bearer" = ["imports:run"])),
    responses((status = 200, description = "The import job", body = ImportOut)))]
#[get("/imports/{id}")]
async fn get_import(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| imports::get(c, &actor, id, chrono::Utc::now())).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Cancel an import job.
///
/// A queued or running job stops after the chunk being written; the rows
/// already written stay, the others are dropped. Cancelling a cancelled job
/// answers it again; a completed or failed one is a 409 `not_cancellable`.
#[utoipa::path(tag = "imports", security(("bearer" = ["imports:run"])),
    responses((status = 200, description = "The cancelled job", body = ImportOut)))]
#[post("/imports/{id}/cancel")]
async fn cancel_import(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run_retrying(&state.pool, move |c| imports::cancel(c, &actor, id, chrono::Utc::now())).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Where the errors file's stream is.
enum Pages {
    First(Vec<imports::RowError>),
    After((i64, i32)),
    End,
}

/// The errors file of an import, as bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImportErrorsBody(#[allow(dead_code)] Vec<u8>);

/// Download the errors of an import as CSV.
///
/// One line per failing field of each failed row, in file order: `line`
/// (the line of the file where the row starts; the CSV header is line 1),
/// `field`, `code` and `message` (as the API's 422 would say them; never
/// the submitted value). Complete once the job is; streamed.
#[utoipa::path(tag = "imports", security(("bearer" = ["imports:run"])),
    responses((status = 200, description = "The errors, CSV with a header row",
        content((ImportErrorsBody = "text/csv")))))]
#[get("/imports/{id}/errors")]
async fn get_import_errors(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let now = chrono::Utc::now();
    let first_actor = actor.clone();
    let first =
        db::run(&state.pool, move |c| imports::errors_page(c, &first_actor, id, None, ERRORS_PAGE, now)).await?;
    let head = Bytes::from_static(ERRORS_HEADER.as_bytes());
    let pool = state.pool.clone();
    let next_of = |page: &[imports::RowError]| match page.last() {
        Some(e) if page.len() as i64 == ERRORS_PAGE => Pages::After((e.line, e.seq)),
        _ => Pages::End,
    };
    // Pages after the first, each a statement of its own, as the client
    // reads; a failure cuts the response (the client sees an error, not a
    // shorter file).
    let rest = futures_util::stream::unfold(Pages::First(first), move |st| {
        let (pool, actor) = (pool.clone(), actor.clone());
        async move {
            let page = match st {
                Pages::End => return None,
                Pages::First(page) => page,
                Pages::After(after) => {
                    let read = move |c: &mut diesel::PgConnection| {
                        imports::errors_page(c, &actor, id, Some(after), ERRORS_PAGE, now)
                    };
                    match db::run(&pool, read).await {
                        Ok(page) => page,
                        Err(e) => {
                            tracing::warn!(import = %id, error = %e, "errors file cut short");
                            return Some((Err(std::io::Error::other("the errors could not be read")), Pages::End));
                        }
                    }
                }
            };
            if page.is_empty() {
                return None;
            }
            let next = next_of(&page);
            Some((Ok(Bytes::from(imports::errors_csv(&page))), next))
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"import-{id}-errors.csv\"")))
        .streaming(body))
}
