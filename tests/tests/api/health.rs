//! SPEC rows `GET /` and `GET /health`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_json, spawn_app};

#[tokio::test]
async fn root_answers_the_api_name() {
    let app = spawn_app().await;
    assert_json(
        app.get("/").await,
        StatusCode::OK,
        json!({"message": "Flowrex API"}),
    )
    .await;
}

#[tokio::test]
async fn health_answers_healthy() {
    let app = spawn_app().await;
    assert_json(
        app.get("/health").await,
        StatusCode::OK,
        json!({"status": "healthy"}),
    )
    .await;
}

#[tokio::test]
async fn readiness_answers_ready_when_the_database_answers() {
    let app = spawn_app().await;
    assert_json(
        app.get("/health/ready").await,
        StatusCode::OK,
        json!({"status": "ready", "checks": {"database": "ok"}}),
    )
    .await;
}
