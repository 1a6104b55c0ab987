//! SPEC rows `GET /` and `GET /health`.

use actix_web::HttpResponse;
use serde_json::json;

/// `GET /` → 200 `{"message": "Flowrex API"}`.
pub async fn root() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "message": "Flowrex API" }))
}

/// `GET /health` → 200 `{"status": "healthy"}`: liveness only, no dependency is checked.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "healthy" }))
}
