//! `Idempotency-Key` on POST (API.md §3): the same key with the same request
//! within 24 h replays the first answer; with another body, 422; while the
//! first is still running, 409. Keys are scoped to the token's `sub`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use sha2::{Digest, Sha256};

use super::extract::{BATCH_BODY_LIMIT, read_body};
use crate::auth::authenticate;
use crate::db;
use crate::error::AppError;
use crate::models::idempotency::{self as store, Claim};
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// The middleware; a no-op for anything but a POST carrying the header.
/// Errors are answered as responses (the request must not be cloned before
/// routing, and the outer middleware renders problems from responses).
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // An import's body (up to 100 MiB) is spooled by its handler, which
    // keeps the key on the job itself: never read whole here.
    let key = match req.headers().get(&IDEMPOTENCY_KEY) {
        Some(v) if req.method() == Method::POST && req.path() != "/v1/imports" => {
            v.to_str().unwrap_or("\u{0}").to_owned()
        }
        _ => {
            return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
        }
    };
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        let e = AppError::field("Idempotency-Key", "invalid_format", "1 to 255 visible ASCII characters");
        return Ok(req.error_response(e));
    }
    // Without a valid token the handler answers 401; nothing to remember.
    let Ok(actor) = authenticate(req.request()) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(AppError::Internal("application state missing".into())));
    };
    let body = match read_body(&mut req.take_payload(), BATCH_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return Ok(req.error_response(e)),
    };
    let mut hasher = Sha256::new();
    hasher.update(req.path().as_bytes());
    hasher.update(b"?");
    hasher.update(req.query_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    let hash = hasher.finalize().to_vec();

    let (sub, k) = (actor.sub.clone(), key.clone());
    let claim = match db::run(&state.pool, move |c| Ok(store::claim(c, &sub, &k, &hash)?)).await {
        Ok(c) => c,
        Err(e) => return Ok(req.error_response(e)),
    };
    match claim {
        Claim::Mismatch => return Ok(req.error_response(AppError::IdempotencyMismatch)),
        Claim::InProgress => {
            return Ok(req.error_response(AppError::Conflict {
                code: "idempotency_in_progress",
                detail: "a request with this Idempotency-Key is still being processed; retry later".into(),
                field: None,
            }));
        }
        Claim::Replay { status, headers, body } => {
            let mut res = HttpResponse::build(StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK));
            if let Some(map) = headers.as_object() {
                for (name, value) in map {
                    if let Some(v) = value.as_str() {
                        res.insert_header((name.as_str(), v));
                    }
                }
            }
            res.insert_header((REPLAYED, "true"));
            return Ok(req.into_response(res.body(body)));
        }
        Claim::Fresh => {}
    }

    req.set_payload(Payload::from(body));
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            let (sub, k) = (actor.sub.clone(), key.clone());
            let _ = db::run(&state.pool, move |c| Ok(store::release(c, &sub, &k)?)).await;
            return Err(e);
        }
    };
    let (http_req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(b) => b,
        Err(_) => {
            let e = AppError::Internal("response body unreadable".into());
            return Ok(ServiceResponse::new(http_req, HttpResponse::from_error(e)));
        }
    };
    let status = head.status();
    // Worth retrying: server errors, conflicts with a concurrent request, rate limits.
    let retryable =
        status.is_server_error() || status == StatusCode::CONFLICT || status == StatusCode::TOO_MANY_REQUESTS;
    let (sub, k) = (actor.sub, key);
    let stored = if retryable {
        db::run(&state.pool, move |c| Ok(store::release(c, &sub, &k)?)).await
    } else {
        let mut headers = serde_json::Map::new();
        for name in KEPT_HEADERS {
            if let Some(v) = head.headers().get(&name).and_then(|v| v.to_str().ok()) {
                headers.insert(name.to_string(), v.into());
            }
        }
        let resource_id =
            serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| v.get("id")?.as_str()?.parse().ok());
        let stored = bytes.to_vec();
        let code = status.as_u16() as i16;
        db::run(&state.pool, move |c| {
            Ok(store::complete(c, &sub, &k, code, serde_json::Value::Object(headers), &stored, resource_id)?)
        })
        .await
    };
    if let Err(e) = stored {
        // The change is committed; only the replay is lost (a retry with this
        // key will run again). Logged, and the real answer still goes out.
        tracing::warn!(error = %e, "idempotency key not stored");
    }
    Ok(ServiceResponse::new(http_req, head.set_body(bytes).map_into_boxed_body()))
}
