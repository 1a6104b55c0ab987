//! SPEC row `POST /api/v1/auth/login`: 200 tokens; 401 for unknown email, wrong password and
//! inactive user alike; 422 validation.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    PASSWORD, assert_json, assert_refused, body, header, sorted_keys, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn login_answers_200_with_an_access_token() {
    // The original's test_login.
    let app = spawn_app().await;
    app.post_register(&json!({"email": "login@test.com", "password": "Test1234"}))
        .await;
    let response = app.login("login@test.com", "Test1234").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body(response).await.get("access_token").is_some());
}

#[tokio::test]
async fn the_tokens_body_has_the_spec_fields() {
    let app = spawn_app().await;
    app.register("t@example.com").await;
    let response = app.login("t@example.com", PASSWORD).await;
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let tokens = body(response).await;
    let keys = sorted_keys(&tokens);
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert_ne!(tokens["access_token"], tokens["refresh_token"]);
}

#[tokio::test]
async fn expires_in_follows_the_configured_access_lifetime() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_EXPIRE_MINUTES", "5")]).await;
    let tokens = app.register_and_login("short@example.com").await;
    assert_eq!(tokens["expires_in"], 300);
}

#[tokio::test]
async fn a_wrong_password_is_401() {
    let app = spawn_app().await;
    app.register("w@example.com").await;
    let response = app.login("w@example.com", "Wrong1234").await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_401() {
    let app = spawn_app().await;
    let response = app.login("ghost@example.com", PASSWORD).await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_inactive_user_gets_the_same_401_even_with_the_right_password() {
    let app = spawn_app().await;
    app.register("off@example.com").await;
    app.execute_sql("UPDATE users SET is_active = false WHERE email = 'off@example.com'")
        .await;
    let response = app.login("off@example.com", PASSWORD).await;
    assert_refused(response).await;
}

#[tokio::test]
async fn invalid_login_bodies_are_422() {
    let app = spawn_app().await;
    let response = app.login("nope", "x").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body(response).await["detail"][0]["loc"],
        json!(["body", "email"])
    );

    let response = app.post_login(&json!({"email": "a@example.com"})).await;
    let expected = json!({"detail": [{"type": "missing", "loc": ["body", "password"],
        "msg": "Field required", "input": {"email": "a@example.com"}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
}
