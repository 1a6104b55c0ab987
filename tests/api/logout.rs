//! SPEC row `POST /api/v1/auth/logout`: 200 `{"message": "Logged out"}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, access, assert_logged_out, refresh, spawn_app};

#[tokio::test]
async fn logout_answers_logged_out_without_a_token() {
    let app = spawn_app().await;
    assert_logged_out(app.post_logout().await).await;
}

#[tokio::test]
async fn logout_answers_logged_out_with_a_token() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("bye@example.com").await;
    let response = app.logout(Some(access(&tokens)), None).await;
    assert_logged_out(response).await;
}

async fn logout_everywhere_with_refresh(app: &TestApp, refresh_token: &str) -> StatusCode {
    app.post_json(
        "/api/v1/auth/logout",
        &json!({"refresh_token": refresh_token, "scope": "all"}),
    )
    .await
    .status()
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
    let response = app.logout(Some(access(&first)), None).await;
    assert_eq!(response.status(), StatusCode::OK);

    for _ in 0..2 {
        assert_eq!(
            logout_everywhere_with_refresh(&app, refresh(&first)).await,
            StatusCode::OK,
            "the answer is the SPEC's, whatever the token"
        );
        let everywhere_with_access = app
            .post_as(
                "/api/v1/auth/logout",
                access(&first),
                &json!({"scope": "all"}),
            )
            .await;
        assert_eq!(everywhere_with_access.status(), StatusCode::OK);
    }
    assert_eq!(
        app.get_me(access(&second)).await.status(),
        StatusCode::OK,
        "the live session survives a dead token's scope: all"
    );

    // A refresh token replaced by a refresh is dead too.
    let rotated = app.post_refresh(refresh(&second)).await;
    let rotated = crate::helpers::body(rotated).await;
    assert_eq!(
        logout_everywhere_with_refresh(&app, refresh(&second)).await,
        StatusCode::OK
    );
    assert_eq!(
        app.get_me(access(&rotated)).await.status(),
        StatusCode::OK,
        "a replaced refresh token ends nothing"
    );

    // The live, current refresh token does end every session.
    assert_eq!(
        logout_everywhere_with_refresh(&app, refresh(&rotated)).await,
        StatusCode::OK
    );
    assert_eq!(
        app.get_me(access(&rotated)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
