//! SPEC row `POST /api/v1/auth/logout`: 200 `{"message": "Logged out"}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_json, spawn_app};

#[tokio::test]
async fn logout_answers_logged_out_without_a_token() {
    let app = spawn_app().await;
    assert_json(
        app.post_logout().await,
        StatusCode::OK,
        json!({"message": "Logged out"}),
    )
    .await;
}

#[tokio::test]
async fn logout_answers_logged_out_with_a_token() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("bye@example.com").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(tokens["access_token"].as_str().unwrap_or_default())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_json(response, StatusCode::OK, json!({"message": "Logged out"})).await;
}
