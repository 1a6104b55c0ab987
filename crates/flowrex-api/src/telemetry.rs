//! Logging: one `tracing` subscriber, filtered by `RUST_LOG` (default `info`); JSON lines in
//! production and staging, human-readable text elsewhere. `log` records (sqlx statements when `DEBUG`
//! is on) are forwarded into it. Metrics: the Prometheus recorder, with every series of known
//! labels registered at 0 at start-up.

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
        register_series();
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

/// Every counter whose labels are known in advance — name, description, label and its
/// values: each series is registered at 0 when the recorder starts, so that `rate()` and
/// alerts have a series from the first scrape, not only after the first event.
const LABELLED_COUNTERS: [(&str, &str, &str, &[&str]); 8] = [
    (
        "flowrex_logins_total",
        "Logins by outcome.",
        "outcome",
        &[
            "success",
            "invalid_credentials",
            "email_not_verified",
            "mfa_required",
            "throttled",
            "error",
        ],
    ),
    (
        "flowrex_mfa_verifications_total",
        "Logins completed (or not) with a second factor, by outcome.",
        "outcome",
        &[
            "success",
            "invalid_code",
            "invalid_challenge",
            "throttled",
            "error",
        ],
    ),
    (
        "flowrex_federated_callbacks_total",
        "Outside providers' callbacks by outcome: success, linked, or the error code sent to the front end.",
        "outcome",
        &[
            "success",
            "linked",
            "account_exists",
            "identity_in_use",
            "invalid_state",
            "provider_error",
            "invalid_id_token",
            "signup_disabled",
            "email_required",
            "account_disabled",
            "email_not_verified",
            "throttled",
            "verification_required",
            "link_expired",
            "provider_unavailable",
        ],
    ),
    (
        "flowrex_email_logins_total",
        "Sign-ins by email (the link's page and the code), by outcome.",
        "outcome",
        &[
            "success",
            "mfa_required",
            "invalid_code",
            "invalid_link",
            "throttled",
            "error",
        ],
    ),
    (
        "flowrex_federated_exchanges_total",
        "Exchanges of an outside provider's one-time code, by outcome.",
        "outcome",
        &["success", "mfa_required", "invalid_code", "error"],
    ),
    (
        "flowrex_passkey_logins_total",
        "Passkey sign-ins by outcome.",
        "outcome",
        &["success", "refused"],
    ),
    (
        "flowrex_rate_limited_total",
        "429 answers of the request limit (ip) and of the failed-login throttle (login).",
        "limiter",
        &["ip", "login"],
    ),
    (
        "http_responses_total",
        "Answers by status class (1xx to 5xx).",
        "class",
        &["1xx", "2xx", "3xx", "4xx", "5xx"],
    ),
];

/// Registers (at 0) and describes every counter and histogram the service exports. Series
/// labelled by route pattern (`http_requests_total`, `http_request_duration_seconds`)
/// appear with their first request; [`LABELLED_COUNTERS`] are there from the start.
fn register_series() {
    for (name, description, label, values) in LABELLED_COUNTERS {
        metrics::describe_counter!(name, description);
        for value in values {
            metrics::counter!(name, label => *value).increment(0);
        }
    }
    metrics::describe_counter!(
        "http_requests_total",
        "Answers by method, route and status."
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer, by method and route."
    );
    metrics::describe_histogram!(
        "flowrex_bcrypt_duration_seconds",
        metrics::Unit::Seconds,
        "Every bcrypt hash and verification."
    );
    // A histogram handle registers its (empty) series.
    let _ = metrics::histogram!("flowrex_bcrypt_duration_seconds");
    metrics::describe_gauge!(
        "flowrex_db_pool_connections",
        "The database pool's connections by state, read when scraped."
    );
    for state in ["in_use", "idle"] {
        metrics::gauge!("flowrex_db_pool_connections", "state" => state).set(0.0);
    }
    metrics::describe_gauge!(
        "flowrex_mail_queued",
        "Mails waiting in the outbox (to send or to retry), read when scraped."
    );
    metrics::gauge!("flowrex_mail_queued").set(0.0);
    metrics::describe_gauge!(
        "flowrex_mail_oldest_queued_age_seconds",
        metrics::Unit::Seconds,
        "How long the oldest waiting mail has waited (0 when none), read when scraped."
    );
    metrics::gauge!("flowrex_mail_oldest_queued_age_seconds").set(0.0);
    metrics::describe_gauge!(
        "flowrex_events_waiting",
        "Account event deliveries waiting (to make, or to retry), per sink, read when scraped."
    );
    metrics::describe_counter!(
        "flowrex_event_deliveries_total",
        "Account event deliveries tried by this instance, by sink and outcome (delivered, retried, failed)."
    );
    metrics::describe_histogram!(
        "flowrex_event_delivery_lag_seconds",
        metrics::Unit::Seconds,
        "From a change's commit to its event's delivery, per sink."
    );
    for sink in ["nats", "webhook"] {
        metrics::gauge!("flowrex_events_waiting", "sink" => sink).set(0.0);
        for outcome in ["delivered", "retried", "failed"] {
            metrics::counter!("flowrex_event_deliveries_total", "sink" => sink, "outcome" => outcome)
                .increment(0);
        }
        let _ = metrics::histogram!("flowrex_event_delivery_lag_seconds", "sink" => sink);
    }
    metrics::describe_counter!(
        "flowrex_password_breach_checks_total",
        "Breached-password checks, by source (range-api, range-files) and outcome (found, clean, error)."
    );
    for source in ["range-api", "range-files"] {
        for outcome in ["found", "clean", "error"] {
            metrics::counter!("flowrex_password_breach_checks_total", "source" => source, "outcome" => outcome)
                .increment(0);
        }
    }
    for (name, help) in [
        (
            "flowrex_mail_sent_total",
            "Mails delivered to the SMTP server.",
        ),
        (
            "flowrex_mail_retried_total",
            "Failed deliveries that will be tried again.",
        ),
        (
            "flowrex_mail_failed_total",
            "Mails given up (refused, or out of tries).",
        ),
        (
            "flowrex_audit_dropped_total",
            "Failed-login audit events dropped: the write queue was full, or the database refused them.",
        ),
    ] {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).increment(0);
    }
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
