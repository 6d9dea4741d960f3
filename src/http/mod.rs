//! HTTP plumbing shared by every REST resource: middleware, extractors,
//! idempotency, rate limits and metrics.

pub mod extract;
pub mod idempotency;
pub mod methods;
pub mod metrics;
pub mod middleware;
pub mod ratelimit;

/// The request id of the current request (made or echoed by the middleware).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);
