//! The service routes: SPEC rows `GET /` and `GET /health`, and the readiness check
//! `GET /health/ready`.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};
use flowrex_infrastructure::probe::Probe;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::UNAVAILABLE_RETRY_AFTER_SECONDS;
use crate::routes::auth::MessageBody;
use crate::routes::handlers;

handlers![root, health, ready];

/// The dependencies `GET /health/ready` checks (the database, and Redis when configured).
pub struct Readiness(pub Vec<Arc<dyn Probe>>);

/// `{"status": "healthy"}`.
#[derive(Serialize, ToSchema)]
pub struct HealthBody {
    /// Always `healthy`: the process answers.
    #[schema(example = "healthy")]
    pub status: &'static str,
}

/// The readiness of each dependency.
#[derive(Serialize, ToSchema)]
pub struct ReadyBody {
    /// `Service unavailable` when a dependency did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `unavailable`, by dependency (`database`, `redis`).
    #[schema(value_type = Object)]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The fixed answers, serialised once.
static ROOT: LazyLock<web::Bytes> = LazyLock::new(|| {
    serialized(&MessageBody {
        message: "Flowrex API",
    })
});
static HEALTHY: LazyLock<web::Bytes> =
    LazyLock::new(|| serialized(&HealthBody { status: "healthy" }));

fn serialized(body: &impl Serialize) -> web::Bytes {
    serde_json::to_vec(body).unwrap_or_default().into()
}

/// Name the service
///
/// Answers `{"message": "Flowrex API"}`.
#[utoipa::path(
    get,
    path = "/",
    tag = "service",
    responses(
        (status = 200, description = "The API", body = MessageBody)
    )
)]
pub async fn root() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(ROOT.clone())
}

/// Check that the process answers
///
/// Liveness only: no dependency is checked.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses(
        (status = 200, description = "Liveness", body = HealthBody)
    )
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(HEALTHY.clone())
}

/// Check the dependencies
///
/// Readiness: the database (and Redis when configured) must answer; the body names
/// each check and the one that failed. Checks run concurrently, each bounded by its own
/// timeout.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "service",
    responses(
        (status = 200, description = "Every dependency answers", body = ReadyBody),
        (status = 503, description = "A dependency does not (`Retry-After`)", body = ReadyBody)
    )
)]
pub async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    let results = futures::future::join_all(readiness.0.iter().map(|probe| probe.check())).await;
    let mut checks = BTreeMap::new();
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
        checks.insert(probe.name(), state);
    }
    if all_ok {
        return HttpResponse::Ok().json(ReadyBody {
            detail: None,
            status: "ready",
            checks,
        });
    }
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECONDS))
        .json(ReadyBody {
            detail: Some("Service unavailable"),
            status: "unavailable",
            checks,
        })
}
