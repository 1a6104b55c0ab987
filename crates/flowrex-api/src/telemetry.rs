//! Logging: one `tracing` subscriber, filtered by `RUST_LOG` (default `info`); JSON lines in
//! production, human-readable text elsewhere. `log` records (sqlx statements when `DEBUG`
//! is on) are forwarded into it.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Does nothing if one is installed already (tests).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // An error here only means a subscriber exists already.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
