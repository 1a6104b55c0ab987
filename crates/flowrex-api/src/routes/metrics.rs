//! `GET /metrics`: Prometheus text exposition of the service's metrics.

use actix_web::{HttpResponse, web};
use migration::sea_orm::DatabaseConnection;

use crate::telemetry;

/// `GET /metrics` → 200 in the Prometheus text format: requests by route and status,
/// latency histograms, logins by outcome, bcrypt duration, database pool connections in use
/// and idle, rate-limit rejections.
pub async fn metrics(db: web::Data<DatabaseConnection>) -> HttpResponse {
    let (open, idle) = flowrex_infrastructure::database::pool_stats(&db);
    let in_use = f64::from(open) - idle as f64;
    metrics::gauge!("flowrex_db_pool_connections", "state" => "in_use").set(in_use.max(0.0));
    metrics::gauge!("flowrex_db_pool_connections", "state" => "idle").set(idle as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(telemetry::metrics().render())
}
