//! `GET /metrics`: Prometheus text exposition of the service's metrics.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use flowrex_infrastructure::database::PoolStats;

use crate::telemetry;

/// The database pool, read through its figures only.
pub struct Pool(pub Arc<dyn PoolStats>);

/// `GET /metrics` → 200 in the Prometheus text format: requests by route and status,
/// latency histograms, logins by outcome, bcrypt duration, database pool connections in use
/// and idle, rate-limit rejections.
pub async fn metrics(pool: web::Data<Pool>) -> HttpResponse {
    let figures = pool.0.figures();
    let in_use = figures.open.saturating_sub(figures.idle);
    metrics::gauge!("flowrex_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("flowrex_db_pool_connections", "state" => "idle").set(f64::from(figures.idle));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(telemetry::metrics().render())
}
