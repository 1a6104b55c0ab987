//! SPEC row `GET /api/v1/auth/me`: 200 user; 401 `Invalid credentials` or
//! `Not authenticated`, both with `WWW-Authenticate: Bearer`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    access, assert_detail, body, exp_in, forge_token, header, refresh, spawn_app,
};

async fn assert_401(response: reqwest::Response, detail: &str) {
    let headers = assert_detail(response, StatusCode::UNAUTHORIZED, detail).await;
    assert_eq!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "401 carries WWW-Authenticate: Bearer"
    );
}

#[tokio::test]
async fn me_with_the_access_token_answers_200() {
    // The original's test_me.
    let app = spawn_app().await;
    app.post_register(&json!({"email": "me@test.com", "password": "Test1234"}))
        .await;
    let login = app.login("me@test.com", "Test1234").await;
    let token = access(&body(login).await).to_owned();
    let response = app.get_me(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn me_answers_the_same_user_body_as_register() {
    let app = spawn_app().await;
    let user = app.register("same@example.com").await;
    let login = app
        .login("same@example.com", crate::helpers::PASSWORD)
        .await;
    let token = access(&body(login).await).to_owned();
    let response = app.get_me(&token).await;
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    assert_eq!(body(response).await, user);
}

#[tokio::test]
async fn no_or_garbled_authorization_is_not_authenticated() {
    let app = spawn_app().await;
    assert_401(app.get("/api/v1/auth/me").await, "Not authenticated").await;
    for header in ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "token"] {
        let response = app
            .get_with("/api/v1/auth/me", &[("authorization", header)])
            .await;
        assert_401(response, "Not authenticated").await;
    }
}

#[tokio::test]
async fn bad_tokens_are_invalid_credentials() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("bad@example.com").await;
    let user = app.get_me(access(&tokens)).await;
    let sub = body(user).await["id"].to_string();
    for token in [
        "garbage".to_owned(),
        refresh(&tokens).to_owned(),
        forge_token(&json!({"sub": sub, "exp": exp_in(-1), "type": "access"})),
        forge_token(&json!({"sub": "99999999999", "exp": exp_in(600), "type": "access"})),
        forge_token(&json!({"sub": "abc", "exp": exp_in(600), "type": "access"})),
        forge_token(&json!({"sub": sub, "exp": exp_in(600), "type": "other"})),
    ] {
        assert_401(app.get_me(&token).await, "Invalid credentials").await;
    }
}

#[tokio::test]
async fn an_inactive_or_deleted_users_token_is_invalid_credentials() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("gone@example.com").await;
    let token = access(&tokens);
    app.execute_sql("UPDATE users SET is_active = false").await;
    assert_401(app.get_me(token).await, "Invalid credentials").await;
    app.execute_sql("DELETE FROM users").await;
    assert_401(app.get_me(token).await, "Invalid credentials").await;
}
