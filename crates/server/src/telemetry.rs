//! Logging: `tracing` with `RUST_LOG`-style filters, text or JSON lines.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber (once; later calls are no-ops).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
