//! Bearer tokens: claims, keys, the [`Actor`] a token turns into, and scopes.
//!
//! Scopes are enforced in the service layer (`actor.require(Scope::...)`), so
//! REST and GraphQL share the same rules.

mod keys;
mod scope;

pub use keys::{Claims, JwtKeys, KeyError};
pub use scope::Scope;

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};

use crate::error::AppError;
use crate::state::AppState;

/// Who is calling: the token's subject and what it may do.
#[derive(Clone)]
pub struct Actor {
    /// The token's `sub`.
    pub sub: String,
    /// The token's `jti`, when it has one.
    pub jti: Option<String>,
    /// The `X-Request-Id` of the request, recorded in the audit trail.
    pub request_id: Option<String>,
    scopes: u32,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor").field("sub", &self.sub).finish_non_exhaustive()
    }
}

impl Actor {
    /// An actor with the given scopes (`admin` implies all of them).
    pub fn new(sub: impl Into<String>, scopes: &[Scope], jti: Option<String>) -> Self {
        let bits = scopes.iter().fold(0, |acc, s| acc | s.bit());
        Actor { sub: sub.into(), jti, request_id: None, scopes: bits }
    }

    /// The same actor, acting within request `id`.
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }

    /// True when the actor holds `scope` (or `admin`).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// Fails with 403 unless the actor holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.has(scope) { Ok(()) } else { Err(AppError::Forbidden { scope: scope.as_str() }) }
    }
}

fn unauthorized(error: &'static str, description: &str) -> AppError {
    AppError::Unauthorized { error, description: description.to_owned() }
}

/// Extracts the bearer token of a request and verifies it, once per request:
/// the first verification (the rate limiter's) is kept in the extensions.
pub fn authenticate(req: &HttpRequest) -> Result<Actor, AppError> {
    if let Some(actor) = req.extensions().get::<Actor>() {
        return Ok(actor.clone());
    }
    let actor = verify_request(req)?;
    req.extensions_mut().insert(actor.clone());
    Ok(actor)
}

fn verify_request(req: &HttpRequest) -> Result<Actor, AppError> {
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| AppError::Internal("application state missing".into()))?;
    // RFC 6750 §2.3 allows tokens in the query string; we refuse them, since
    // URLs end up in logs, proxies and browser history.
    if req.query_string().split('&').any(|p| p.starts_with("access_token=")) {
        return Err(unauthorized("invalid_request", "tokens are accepted only in the Authorization header"));
    }
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("invalid_request", "missing bearer token"))?;
    let value = header.to_str().map_err(|_| unauthorized("invalid_request", "malformed Authorization header"))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
        _ => {
            return Err(unauthorized("invalid_request", "expected `Authorization: Bearer <token>`"));
        }
    };
    let actor = state.keys.verify_cached(token)?;
    if let Some(jti) = &actor.jti
        && state.revoked.read().is_ok_and(|set| set.contains(jti))
    {
        return Err(unauthorized("invalid_token", "token revoked"));
    }
    let request_id = req.extensions().get::<crate::http::RequestId>().map(|r| r.0.clone());
    Ok(actor.with_request_id(request_id))
}

impl FromRequest for Actor {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
