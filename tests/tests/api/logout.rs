//! SPEC row `POST /api/v1/auth/logout`: 200 `{"message": "Logged out"}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_json, spawn_app};

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
        .unwrap();
    assert_json(response, StatusCode::OK, json!({"message": "Logged out"})).await;
}

async fn logout_everywhere_with_refresh(app: &TestApp, refresh_token: &str) -> StatusCode {
    app.post_json(
        "/api/v1/auth/logout",
        &json!({"refresh_token": refresh_token, "scope": "all"}),
    )
    .await
    .status()
}

fn token<'a>(tokens: &'a serde_json::Value, name: &str) -> &'a str {
    tokens[name].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_dead_sessions_token_cannot_end_the_live_sessions() {
    let app = spawn_app().await;
    let first = app.register_and_login("dead@example.com").await;
    let second = app
        .login("dead@example.com", crate::helpers::PASSWORD)
        .await;
    let second = crate::helpers::body(second).await;

    // Session 1 logs out; its tokens are dead from now on.
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(token(&first, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    for _ in 0..2 {
        assert_eq!(
            logout_everywhere_with_refresh(&app, token(&first, "refresh_token")).await,
            StatusCode::OK,
            "the answer is the SPEC's, whatever the token"
        );
        let everywhere_with_access = app
            .client
            .post(app.url("/api/v1/auth/logout"))
            .bearer_auth(token(&first, "access_token"))
            .json(&json!({"scope": "all"}))
            .send()
            .await
            .unwrap();
        assert_eq!(everywhere_with_access.status(), StatusCode::OK);
    }
    assert_eq!(
        app.get_me(token(&second, "access_token")).await.status(),
        StatusCode::OK,
        "the live session survives a dead token's scope: all"
    );

    // A refresh token replaced by a refresh is dead too.
    let rotated = app.post_refresh(token(&second, "refresh_token")).await;
    let rotated = crate::helpers::body(rotated).await;
    assert_eq!(
        logout_everywhere_with_refresh(&app, token(&second, "refresh_token")).await,
        StatusCode::OK
    );
    assert_eq!(
        app.get_me(token(&rotated, "access_token")).await.status(),
        StatusCode::OK,
        "a replaced refresh token ends nothing"
    );

    // The live, current refresh token does end every session.
    assert_eq!(
        logout_everywhere_with_refresh(&app, token(&rotated, "refresh_token")).await,
        StatusCode::OK
    );
    assert_eq!(
        app.get_me(token(&rotated, "access_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
