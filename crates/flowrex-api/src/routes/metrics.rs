//! `GET /metrics`: Prometheus text exposition of the service's metrics.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use flowrex_domain::ports::EventQueue;
use flowrex_infrastructure::database::PoolStats;
use flowrex_infrastructure::outbox::OutboxFigures;

use crate::telemetry;

/// The database pool, read through its figures only.
pub struct Pool(pub Arc<dyn PoolStats>);

/// The mail outbox, read for its queue length and age.
pub struct Outbox(pub Arc<dyn OutboxFigures>);

/// The account events' queue, read for the deliveries waiting per sink.
pub struct Events(pub Arc<dyn EventQueue>);

/// `GET /metrics` → 200 in the Prometheus text format: requests by route and status,
/// latency histograms, logins by outcome, bcrypt duration, database pool connections in use
/// and idle, rate-limit rejections, mail queued (and the oldest's age), sent, retried and
/// given up; account event deliveries waiting per sink, made by sink and outcome, and
/// their lag. The queue figures are read when scraped; if the database cannot be reached
/// they keep their last values.
pub async fn metrics(
    pool: web::Data<Pool>,
    outbox: web::Data<Outbox>,
    events: web::Data<Events>,
) -> HttpResponse {
    match events.0.waiting().await {
        Ok(waiting) => {
            for (sink, count) in waiting {
                metrics::gauge!("flowrex_events_waiting", "sink" => sink).set(count as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "event queue figures not read"),
    }
    match outbox.0.stats().await {
        Ok(stats) => {
            let age = stats.oldest_pending.map_or(0.0, |queued| {
                (chrono::Utc::now() - queued).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("flowrex_mail_queued").set(stats.pending as f64);
            metrics::gauge!("flowrex_mail_oldest_queued_age_seconds").set(age);
        }
        Err(error) => tracing::warn!(%error, "mail outbox figures not read"),
    }
    let figures = pool.0.figures();
    let in_use = figures.open.saturating_sub(figures.idle);
    metrics::gauge!("flowrex_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("flowrex_db_pool_connections", "state" => "idle").set(f64::from(figures.idle));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(telemetry::metrics().render())
}
