//! Prometheus collectors: request counts and latency per route, pool usage,
//! write transactions run again after a concurrent one aborted them, and the
//! order of record's lag.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::DbPool;

/// The service's collectors, registered in their own registry.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    bulk: IntGaugeVec,
    horizon_lag: Gauge,
    unsealed: IntGauge,
    seal_lag: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers the collectors.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered, by route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["method", "route"],
        )
        .expect("valid metric");
        let pool = IntGaugeVec::new(Opts::new("db_pool_connections", "r2d2 pool connections by state"), &["state"])
            .expect("valid metric");
        let bulk = IntGaugeVec::new(
            Opts::new("db_bulk_writes", "batch writes in the bulk lane of the pool, running or queued"),
            &["state"],
        )
        .expect("valid metric");
        let horizon_lag = Gauge::new(
            "record_horizon_lag_seconds",
            "age of the oldest running transaction: the event feed, sync and the sealer see nothing newer",
        )
        .expect("valid metric");
        let unsealed =
            IntGauge::new("audit_unsealed_entries", "audit entries committed, not yet sealed").expect("valid metric");
        let seal_lag =
            Gauge::new("audit_seal_lag_seconds", "age of the oldest audit entry not yet sealed").expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool.clone()),
            Box::new(bulk.clone()),
            Box::new(horizon_lag.clone()),
            Box::new(unsealed.clone()),
            Box::new(seal_lag.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Metrics { registry, requests, latency, pool, bulk, horizon_lag, unsealed, seal_lag }
    }

    /// Records one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests.with_label_values(&[method, route, &status.to_string()]).inc();
        self.latency.with_label_values(&[method, route]).observe(seconds);
    }

    /// Records how far the order of record lags (read by a background job).
    pub fn set_record_lag(&self, lag: &crate::record::sealer::Lag) {
        self.horizon_lag.set(lag.horizon_seconds);
        self.unsealed.set(lag.unsealed);
        self.seal_lag.set(lag.seal_seconds);
    }

    /// Renders the Prometheus text format, reading the pool's state now
    /// (and its counter of retried transactions, which the db layer owns).
    pub fn render(&self, pool: &DbPool) -> String {
        let state = pool.state();
        let max = pool.max_size() as i64;
        self.pool.with_label_values(&["idle"]).set(state.idle_connections as i64);
        self.pool.with_label_values(&["in_use"]).set((state.connections - state.idle_connections) as i64);
        self.pool.with_label_values(&["max"]).set(max);
        let (running, queued) = pool.bulk_state();
        self.bulk.with_label_values(&["running"]).set(running as i64);
        self.bulk.with_label_values(&["queued"]).set(queued as i64);
        let mut buf = Vec::new();
        let mut families = self.registry.gather();
        families.extend(pool.retries().collect());
        let _ = TextEncoder::new().encode(&families, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
