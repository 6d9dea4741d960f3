//! `/v1/exports`: export jobs and their files.

use std::io::Read;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, delete, get, post, web};
use base64::Engine;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::no_content;
use crate::auth::Actor;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{Filter, JsonBody};
use crate::pagination::Page;
use crate::services::exports::{self, ExportFilter, ExportInput, ExportOut};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_export)
        .service(list_exports)
        .service(get_export)
        .service(delete_export)
        .service(get_export_file);
}

/// Bytes read from disk per chunk of a download.
const CHUNK: usize = 256 * 1024;

/// Export whole resources as files (a job).
///
/// Queues a job that writes every row of each resource, as the API's GET
/// answers it, into NDJSON or CSV files (split at 1,000,000 rows, each with
/// its SHA-256); poll `GET /v1/exports/{id}` (in `Location`) until `status`
/// is `completed`, then download each file. Restricted contacts (Art. 18)
/// are included with `restricted: true`. The files are kept 7 days. An
/// export is a mass disclosure of personal data: the request, the
/// completion and every download are audited. 422 for an unknown, missing
/// or repeated resource, or an unknown format. With `Idempotency-Key`, a
/// retry replays the first answer instead of queuing a second job.
#[utoipa::path(tag = "exports", security(("bearer" = ["exports:run"])),
    request_body = ExportInput,
    responses((status = 202, description = "Queued", body = ExportOut, headers(("Location" = String)))))]
#[post("/exports")]
async fn create_export(state: web::Data<AppState>, actor: Actor, body: JsonBody) -> Result<HttpResponse, AppError> {
    let out = db::run_retrying(&state.pool, move |c| exports::create(c, &actor, body.0.clone())).await?;
    Ok(HttpResponse::Accepted().insert_header((header::LOCATION, format!("/v1/exports/{}", out.id))).json(out))
}

/// List export jobs, oldest first.
///
/// Cursor-paginated; pass `next_cursor` as `?after=` for the next page.
/// Expired jobs (7 days after they finished) are gone.
#[utoipa::path(tag = "exports", security(("bearer" = ["exports:run"])), params(ExportFilter),
    responses((status = 200, description = "A page of export jobs", body = Page<ExportOut>)))]
#[get("/exports")]
async fn list_exports(
    state: web::Data<AppState>,
    actor: Actor,
    f: Filter<ExportFilter>,
) -> Result<HttpResponse, AppError> {
    let page = db::run(&state.pool, move |c| exports::list(c, &actor, f.0, chrono::Utc::now())).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get an export job: its status, progress and files.
///
/// `rows` counts the rows written per resource (progress while `running`);
/// once `completed`, `files` lists each file with its rows, size, SHA-256
/// and download `url`, and `expires_at` says when they are deleted. A job
/// whose worker died is taken over by another and starts again. 404 for an
/// unknown, deleted or expired job.
#[utoipa::path(tag = "exports", security(("bearer" = ["exports:run"])),
    responses((status = 200, description = "The export job", body = ExportOut)))]
#[get("/exports/{id}")]
async fn get_export(state: web::Data<AppState>, actor: Actor, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let out = db::run(&state.pool, move |c| exports::get(c, &actor, id, chrono::Utc::now())).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Delete an export job and its files now.
///
/// Whatever its status: a running job stops. Audited (`export.deleted`).
/// 404 for an unknown or expired job.
#[utoipa::path(tag = "exports", security(("bearer" = ["exports:run"])),
    responses((status = 204, description = "Deleted")))]
#[delete("/exports/{id}")]
async fn delete_export(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let root = state.config.export_dir.clone();
    db::run(&state.pool, move |c| exports::delete(c, &actor, &root, id)).await?;
    Ok(no_content())
}

/// A file of an export, as bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ExportFileBody(#[allow(dead_code)] Vec<u8>);

/// Download file `n` of a completed export.
///
/// Streamed from disk: `application/x-ndjson` (one JSON object per line)
/// or `text/csv` (a header row; nested values as JSON text). `ETag` and
/// `Repr-Digest` (RFC 9530) carry its SHA-256, the `sha256` of the job's
/// `files`. Every download is audited (`export.downloaded`). 404 when the
/// job is not completed, has no such file, or expired.
#[utoipa::path(tag = "exports", security(("bearer" = ["exports:run"])),
    params(("n" = i32, Path, description = "The file's number, from 1")),
    responses((status = 200, description = "The file",
        content((ExportFileBody = "application/x-ndjson"), (ExportFileBody = "text/csv")),
        headers(("ETag" = String, description = "The file's SHA-256, hex, quoted"),
            ("Repr-Digest" = String, description = "`sha-256=:<base64>:`"),
            ("Content-Disposition" = String, description = "`attachment; filename=\"export-{id}-{n}-{resource}.{ext}\"`")))))]
#[get("/exports/{id}/files/{n}")]
async fn get_export_file(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, n) = path.into_inner();
    let (file, format) = db::run(&state.pool, move |c| exports::file(c, &actor, id, n, chrono::Utc::now())).await?;
    let on_disk = state.config.export_dir.join(&file.path);
    let opened = web::block(move || std::fs::File::open(on_disk)).await?;
    let handle = match opened {
        Ok(f) => f,
        // Recorded but not on this disk: CLIENTELE_EXPORT_DIR is not shared, or was cleared.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(export = %id, n, "an export file is recorded but missing from the export directory");
            return Err(AppError::NotFound("export file"));
        }
        Err(e) => return Err(AppError::internal(e)),
    };
    let digest = hex::decode(&file.sha256).map_err(AppError::internal)?;
    let filename = format!("export-{id}-{n}-{}.{}", file.resource, format.extension());
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header((header::ETAG, format!("\"{}\"", file.sha256)))
        .insert_header((
            "Repr-Digest",
            format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(digest)),
        ))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(SizedStream::new(file.bytes as u64, chunks(handle))))
}

/// The file's bytes, a chunk at a time, each read on the blocking pool.
fn chunks(file: std::fs::File) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let read = web::block(move || {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    })
}
