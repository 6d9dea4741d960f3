//! Structured logs. Nothing logged carries a token or personal data: the
//! request middleware logs the route pattern (never the path or query), and
//! personal-data types redact their `Debug`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (JSON lines or text) on stderr.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().flatten_event(true).with_span_list(false).try_init() } else { builder.try_init() };
}
