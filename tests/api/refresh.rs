//! SPEC row `POST /api/v1/auth/refresh`: 200 tokens; 401 `Invalid token` for any bad,
//! expired, wrong-type token or inactive/missing user.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    access, assert_invalid_token, assert_json, body, exp_in, forge_token, refresh, spawn_app,
};

#[tokio::test]
async fn a_refresh_token_buys_a_new_pair_that_works() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("r@example.com").await;
    let response = app.post_refresh(refresh(&tokens)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = body(response).await;
    assert_eq!(fresh["token_type"], "bearer");
    assert_eq!(fresh["expires_in"], 1800);
    let me = app.get_me(access(&fresh)).await;
    assert_eq!(me.status(), StatusCode::OK, "the new access token works");
    let again = app.post_refresh(refresh(&fresh)).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the new refresh token works"
    );
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("a@example.com").await;
    let response = app.post_refresh(access(&tokens)).await;
    assert_invalid_token(response).await;
}

#[tokio::test]
async fn garbled_forged_and_expired_tokens_are_401() {
    let app = spawn_app().await;
    let user = app.register("g@example.com").await;
    let sub = user["id"].to_string();
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": sub, "exp": exp_in(600), "type": "refresh"}),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret"),
    )
    .unwrap_or_default();
    for token in [
        "garbage".to_owned(),
        String::new(),
        wrong_key,
        forge_token(&json!({"sub": sub, "exp": exp_in(-10), "type": "refresh"})),
        forge_token(&json!({"sub": sub, "exp": exp_in(600)})),
        forge_token(&json!({"sub": 1, "exp": exp_in(600), "type": "refresh"})),
        forge_token(&json!({"sub": "1e999", "exp": exp_in(600), "type": "refresh"})),
        forge_token(&json!({"sub": sub, "exp": "tomorrow", "type": "refresh"})),
    ] {
        let response = app.post_refresh(&token).await;
        assert_invalid_token(response).await;
    }
}

#[tokio::test]
async fn a_token_of_a_missing_or_inactive_user_is_401() {
    let app = spawn_app().await;
    let missing = forge_token(&json!({"sub": "4242", "exp": exp_in(600), "type": "refresh"}));
    assert_invalid_token(app.post_refresh(&missing).await).await;

    let tokens = app.register_and_login("inactive@example.com").await;
    app.execute_sql("UPDATE users SET is_active = false").await;
    let response = app.post_refresh(refresh(&tokens)).await;
    assert_invalid_token(response).await;
}

#[tokio::test]
async fn a_missing_refresh_token_field_is_422() {
    let app = spawn_app().await;
    let response = app.post_json("/api/v1/auth/refresh", &json!({})).await;
    let expected = json!({"detail": [{"type": "missing", "loc": ["body", "refresh_token"],
        "msg": "Field required", "input": {}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
}
