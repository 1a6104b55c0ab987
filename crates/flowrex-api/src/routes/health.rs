//! SPEC rows `GET /` and `GET /health`, and the readiness check `GET /health/ready`.

use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use flowrex_domain::ports::Probe;
use serde_json::{Map, Value, json};

/// The dependencies `GET /health/ready` checks (the database, and Redis when configured).
pub struct Readiness(pub Vec<Arc<dyn Probe>>);

/// `GET /` → 200 `{"message": "Flowrex API"}`.
#[utoipa::path(
    get,
    path = "/",
    tag = "service",
    responses(
        (status = 200, description = "The API", body = crate::openapi::MessageResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn root() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"message":"Flowrex API"}"#)
}

/// `GET /health` → 200 `{"status": "healthy"}`: liveness only, no dependency is checked.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses(
        (status = 200, description = "Liveness", body = crate::openapi::HealthResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"status":"healthy"}"#)
}

/// `GET /health/ready` → 200 `{"status": "ready", "checks": {"database": "ok", …}}` when
/// every dependency answers; otherwise 503 `{"detail": "Service unavailable", "status":
/// "unavailable", "checks": {…}}` naming the one that failed. Checks run concurrently,
/// each bounded by its own timeout.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "service",
    responses(
        (status = 200, description = "Every dependency answers", body = crate::openapi::ReadyResponse),
        (status = 503, description = "A dependency does not", body = crate::openapi::ReadyResponse)
    )
)]
pub async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let results = futures::future::join_all(readiness.0.iter().map(|probe| probe.check())).await;
    let mut checks = Map::new();
    let mut all_ok = true;
    for (probe, result) in readiness.0.iter().zip(results) {
        let state = match result {
            Ok(()) => "ok",
            Err(error) => {
                tracing::warn!(error = ?error, "readiness check failed");
                all_ok = false;
                "unavailable"
            }
        };
        checks.insert(probe.name().to_owned(), Value::from(state));
    }
    if all_ok {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "detail": "Service unavailable",
            "status": "unavailable",
            "checks": checks,
        }))
    }
}
