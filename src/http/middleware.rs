//! The outermost middleware: request id, problem rendering, access log and
//! metrics.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Instrument;

use super::RequestId;
use crate::error::AppError;
use crate::state::AppState;

/// Header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn valid_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Makes every error answer an RFC 9457 problem carrying the request path and
/// id, echoes or makes `X-Request-Id`, logs one line per request (route
/// pattern, status, latency: no path, query, token or body) and records
/// metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // The route is known once the router has run: asked before, actix walks
    // every pattern of the application once more (issue 13's profile).
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = tracing::field::Empty);

    // Inner layers answer errors as responses; an `Err` here (none is
    // expected) is rendered by actix itself. The request must not be cloned
    // before routing, so there is nothing to build a response on.
    let mut res = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    span.record("route", route.as_str());

    let status = res.status();
    if status.is_client_error() || status.is_server_error() {
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
        // A page made for a person (the verification link's answer to a
        // browser form) stays a page; every other error is a problem.
        let is_page = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        let app_error = res.response().error().and_then(|e| e.as_error::<AppError>());
        // A refused CORS request is a refusal, not a malformed request.
        let cors = res
            .response()
            .error()
            .and_then(|e| e.as_error::<actix_cors::CorsError>())
            .map(|e| AppError::CorsRefused(e.to_string()));
        let app_error = app_error.or(cors.as_ref());
        let rendered = match app_error {
            Some(e) => {
                if let AppError::Internal(cause) = e {
                    let mut chain = cause.to_string();
                    let mut source = cause.source();
                    while let Some(s) = source {
                        chain.push_str(": ");
                        chain.push_str(&s.to_string());
                        source = s.source();
                    }
                    span.in_scope(|| tracing::error!(error = %chain, "internal error"));
                }
                Some(e.to_response(Some(&path), Some(&request_id)))
            }
            None if !is_problem && !is_page => {
                Some(generic_problem(status).to_response(Some(&path), Some(&request_id)))
            }
            None => None,
        };
        if let Some(new) = rendered {
            let mut new = new;
            // Keep headers set by the handler or an inner middleware (Allow, Retry-After...).
            for (name, value) in res.headers() {
                if !new.headers().contains_key(name) && name != header::CONTENT_LENGTH {
                    new.headers_mut().insert(name.clone(), value.clone());
                }
            }
            res = res.into_response(new);
        }
    }
    res.headers_mut().insert(REQUEST_ID, HeaderValue::from_str(&request_id).expect("validated id"));
    harden(res.headers_mut(), &path);

    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.observe(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    }
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms = elapsed.as_secs_f64() * 1000.0, "request"));
    Ok(res)
}

/// The answer's security headers, unless the handler set its own: no MIME
/// sniffing, no referrer, never framed, and a Content Security Policy that
/// allows nothing on API answers and only our own assets on the docs pages.
fn harden(h: &mut actix_web::http::header::HeaderMap, path: &str) {
    use actix_web::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
    let csp = if path.starts_with("/docs") {
        // Swagger UI, served from the binary: its own scripts and styles, and calls to this origin.
        concat!(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; ",
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    } else if path == "/graphql" || path.starts_with("/graphql/assets/") {
        // GraphiQL, with its assets served from the binary.
        concat!(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; ",
            "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    let defaults = [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (CONTENT_SECURITY_POLICY, csp),
    ];
    for (name, value) in defaults {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    if path.starts_with("/docs/") && !h.contains_key(header::CACHE_CONTROL) {
        // Swagger UI's assets change with the binary only.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    }
}

/// A problem for answers that actix made itself (no route, wrong method...).
fn generic_problem(status: actix_web::http::StatusCode) -> AppError {
    match status.as_u16() {
        404 => AppError::NotFound("route"),
        405 => AppError::MethodNotAllowed(String::new()),
        413 => AppError::PayloadTooLarge(crate::http::extract::BODY_LIMIT),
        415 => AppError::UnsupportedMediaType,
        400 => AppError::BadRequest("the request could not be read".into()),
        503 => AppError::Unavailable("overloaded".into()),
        429 => AppError::RateLimited(1),
        s if s >= 500 => AppError::Internal(format!("status {s} without a cause").into()),
        _ => AppError::BadRequest("the request could not be processed".into()),
    }
}
