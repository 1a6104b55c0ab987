//! SPEC rows `GET /` and `GET /health`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{access, assert_json, header, spawn_app, spawn_app_with};

/// A fresh server answers `GET path` with 200 and exactly `expected`.
async fn assert_fresh_server_answers(path: &str, expected: Value) {
    let app = spawn_app().await;
    assert_json(app.get(path).await, StatusCode::OK, expected).await;
}

#[tokio::test]
async fn root_answers_the_api_name() {
    assert_fresh_server_answers("/", json!({"message": "Flowrex API"})).await;
}

#[tokio::test]
async fn health_answers_healthy() {
    assert_fresh_server_answers("/health", json!({"status": "healthy"})).await;
}

#[tokio::test]
async fn readiness_answers_ready_when_the_database_answers() {
    assert_fresh_server_answers(
        "/health/ready",
        json!({"status": "ready", "checks": {"database": "ok"}}),
    )
    .await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_sane_one_is_kept() {
    let app = spawn_app().await;
    let generated = app.get("/health").await;
    let id = header(&generated, "x-request-id")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let kept = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "trace-42")
        .send()
        .await;
    let kept = kept.unwrap();
    assert_eq!(header(&kept, "x-request-id"), Some("trace-42"));
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await;
    let replaced = replaced.unwrap();
    assert_eq!(
        replaced.headers().get("x-request-id").map(|v| v.len()),
        Some(36),
        "an overlong id is replaced"
    );
}

#[tokio::test]
async fn metrics_show_the_listed_series_after_a_few_requests() {
    let app = spawn_app_with(&[
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1"),
        ("RATE_LIMIT_PER_MINUTE", "12"),
    ])
    .await;
    let tokens = app.register_and_login("metrics@example.com").await;
    let wrong = json!({"email": "metrics@example.com", "password": "Wrong1234"});
    app.post_login(&wrong).await;
    app.post_login(&wrong).await;
    app.get_me(access(&tokens)).await;
    while app.get("/health").await.status() != StatusCode::TOO_MANY_REQUESTS {}
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap_or_default();
    for series in [
        "http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"200\"}",
        "http_requests_total{method=\"GET\",route=\"/api/v1/auth/me\",status=\"200\"}",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\"",
        "flowrex_logins_total{outcome=\"success\"}",
        "flowrex_logins_total{outcome=\"invalid_credentials\"}",
        "flowrex_logins_total{outcome=\"throttled\"}",
        "flowrex_bcrypt_duration_seconds_bucket",
        "flowrex_db_pool_connections{state=\"in_use\"}",
        "flowrex_db_pool_connections{state=\"idle\"}",
        "flowrex_rate_limited_total{limiter=\"ip\"}",
        "flowrex_rate_limited_total{limiter=\"login\"}",
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
}

#[tokio::test]
async fn invented_methods_share_one_metrics_series() {
    let app = spawn_app().await;
    for method in ["BREW", "WHEN", "PROPFIND"] {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        let response = app
            .client
            .request(method, app.url("/health"))
            .send()
            .await
            .expect("request");
        assert!(response.status().is_client_error());
    }
    let text = app.get("/metrics").await.text().await.unwrap_or_default();
    assert!(text.contains("method=\"OTHER\""), "{text}");
    for invented in ["BREW", "WHEN", "PROPFIND"] {
        assert!(
            !text.contains(invented),
            "{invented} became a label:\n{text}"
        );
    }
}
