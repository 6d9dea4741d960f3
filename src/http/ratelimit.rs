//! Rate limits per token `sub`: a token bucket (GCRA) for every request, and
//! a stricter one for DSAR submissions and exports; public endpoints
//! (verification links) per client address. State is in process: with
//! several replicas each enforces its own share (see README).

use std::num::NonZeroU32;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::auth::authenticate;
use crate::error::AppError;
use crate::state::AppState;

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The two buckets per `sub`.
pub struct RateLimits {
    general: Keyed,
    strict: Keyed,
    public: Keyed,
    clock: DefaultClock,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

/// What a check says.
pub enum Verdict {
    /// Let it through: limit and remaining burst.
    Allowed { limit: u32, remaining: u32 },
    /// Refuse: limit and seconds to wait.
    Limited { limit: u32, retry_after: u64 },
}

impl RateLimits {
    /// `per_sec` with `burst` for everything; `dsar_per_min` for DSAR
    /// submissions and exports; `public_per_min` per address on public endpoints.
    pub fn new(per_sec: u32, burst: u32, dsar_per_min: u32, public_per_min: u32) -> Self {
        let general = Quota::per_second(nz(per_sec)).allow_burst(nz(burst));
        let strict = Quota::per_minute(nz(dsar_per_min)).allow_burst(nz(dsar_per_min));
        let public = Quota::per_minute(nz(public_per_min)).allow_burst(nz(public_per_min));
        RateLimits {
            general: RateLimiter::keyed(general).with_middleware::<StateInformationMiddleware>(),
            strict: RateLimiter::keyed(strict).with_middleware::<StateInformationMiddleware>(),
            public: RateLimiter::keyed(public).with_middleware::<StateInformationMiddleware>(),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token from `sub`'s bucket.
    pub fn check(&self, sub: &str, strict: bool) -> Verdict {
        self.take(if strict { &self.strict } else { &self.general }, sub)
    }

    /// Takes one token from the bucket of a client address (public endpoints).
    pub fn check_address(&self, address: &str) -> Verdict {
        self.take(&self.public, address)
    }

    fn take(&self, limiter: &Keyed, key: &str) -> Verdict {
        match limiter.check_key(&key.to_owned()) {
            Ok(state) => Verdict::Allowed {
                limit: state.quota().burst_size().get(),
                remaining: state.remaining_burst_capacity(),
            },
            Err(not_until) => Verdict::Limited {
                limit: not_until.quota().burst_size().get(),
                retry_after: not_until.wait_time_from(self.clock.now()).as_secs_f64().ceil().max(1.0) as u64,
            },
        }
    }

    /// Forgets buckets that are full again (bounded memory).
    pub fn shrink(&self) {
        for l in [&self.general, &self.strict, &self.public] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The public (unauthenticated) endpoints, limited per client address:
/// verification links and one-click unsubscribe.
const PUBLIC_PREFIXES: &[&str] = &["/v1/dsar/verify/", "/u/"];

fn strict(req: &ServiceRequest) -> bool {
    let path = req.path();
    (req.method() == Method::POST && (path == "/v1/dsar" || path == "/v1/exports"))
        || (req.method() == Method::GET && path.ends_with("/export"))
}

/// The middleware: unauthenticated requests pass (the handler answers 401).
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let public = PUBLIC_PREFIXES.iter().any(|p| req.path().starts_with(p));
    let limited =
        public || req.path().starts_with("/v1/") || (req.path() == "/graphql" && req.method() == Method::POST);
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned().filter(|_| limited) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let verdict = if public {
        // The peer's address, not a forwarded header a client could set:
        // behind a proxy, every client shares the proxy's bucket (README).
        let address = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        state.limits.check_address(&address)
    } else {
        match authenticate(req.request()) {
            Ok(actor) => state.limits.check(&actor.sub, strict(&req)),
            Err(_) => return next.call(req).await.map(ServiceResponse::map_into_boxed_body),
        }
    };
    match verdict {
        Verdict::Allowed { limit, remaining } => {
            let mut res = next.call(req).await?.map_into_boxed_body();
            let h = res.headers_mut();
            h.insert(LIMIT, HeaderValue::from(limit));
            h.insert(REMAINING, HeaderValue::from(remaining));
            h.insert(RESET, HeaderValue::from(if remaining == 0 { 1 } else { 0 }));
            Ok(res)
        }
        Verdict::Limited { limit, retry_after } => {
            let problem = AppError::RateLimited(retry_after);
            let mut res = HttpResponse::from_error(problem);
            let h = res.headers_mut();
            h.insert(RETRY_AFTER, HeaderValue::from(retry_after));
            h.insert(LIMIT, HeaderValue::from(limit));
            h.insert(REMAINING, HeaderValue::from(0));
            h.insert(RESET, HeaderValue::from(retry_after));
            Ok(req.into_response(res))
        }
    }
}
