//! Logging: one `tracing` subscriber, filtered by `RUST_LOG` (default `info`); JSON lines in
//! production, human-readable text elsewhere. `log` records (sqlx statements when `DEBUG`
//! is on) are forwarded into it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets. Until then each
/// sample is kept (16 bytes per request): without this upkeep, memory grew with every
/// request until `/metrics` was scraped, ~160 KB/s at 10k req/s.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The process's metrics recorder (installed on first use, with its upkeep thread) and its
/// Prometheus renderer.
pub fn metrics() -> &'static PrometheusHandle {
    METRICS.get_or_init(|| {
        let seconds = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &seconds)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; this one then renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no metrics upkeep thread: histograms drain only on scrape");
        }
        handle
    })
}

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
