//! Token claims beyond the SPEC's three: `nbf` and `iat` in the future, and critical header
//! extensions, are refused on every route that reads a token (RFC 7519 §4.1.5, RFC 7515
//! §4.1.11); so are forged tokens whose claims have the wrong shape, `alg: none` and junk.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    JWT_SECRET, TestApp, assert_invalid_credentials, assert_invalid_token, body, exp_in,
    forge_token, spawn_app,
};

/// The claims of `token` (signed by the app).
fn claims_of(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
    .expect("decode")
}

/// The app's own token for a live session, re-signed with `change` applied to its claims
/// and `header` as its header.
fn resigned(token: &str, header: &jsonwebtoken::Header, change: impl Fn(&mut Value)) -> String {
    let mut claims = claims_of(token);
    change(&mut claims);
    jsonwebtoken::encode(
        header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("encode")
}

async fn live_tokens(app: &TestApp, email: &str) -> (String, String) {
    let tokens = app.register_and_login(email).await;
    let text = |name: &str| tokens[name].as_str().unwrap_or_default().to_owned();
    (text("access_token"), text("refresh_token"))
}

fn hs256() -> jsonwebtoken::Header {
    jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
}

#[tokio::test]
async fn a_token_not_valid_before_an_hour_from_now_is_refused() {
    let app = spawn_app().await;
    let (access, refresh) = live_tokens(&app, "nbf@example.com").await;
    let later = |claims: &mut Value| claims["nbf"] = json!(exp_in(3600));
    assert_invalid_credentials(app.get_me(&resigned(&access, &hs256(), later)).await).await;
    assert_invalid_token(app.post_refresh(&resigned(&refresh, &hs256(), later)).await).await;
    let issued_later = |claims: &mut Value| claims["iat"] = json!(exp_in(3600));
    assert_eq!(
        app.get_me(&resigned(&access, &hs256(), issued_later))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "issued in the future"
    );
    // The session is untouched: the genuine token still works.
    assert_eq!(app.get_me(&access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_not_before_within_the_leeway_is_accepted() {
    let app = spawn_app().await;
    let (access, _) = live_tokens(&app, "skew@example.com").await;
    // JWT_LEEWAY_SECONDS is 5: a clock 3 s ahead of ours is forgiven.
    let soon = resigned(&access, &hs256(), |claims| {
        claims["nbf"] = json!(exp_in(3));
        claims["iat"] = json!(exp_in(3));
    });
    let response = app.get_me(&soon).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["email"], "skew@example.com");
    let past = resigned(&access, &hs256(), |claims| {
        claims["nbf"] = json!(exp_in(-60))
    });
    assert_eq!(app.get_me(&past).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_with_a_critical_extension_is_refused() {
    let app = spawn_app().await;
    let (access, refresh) = live_tokens(&app, "crit@example.com").await;
    let mut header = hs256();
    header.crit = Some(vec!["x-probe".to_owned()]);
    assert_invalid_credentials(app.get_me(&resigned(&access, &header, |_| {})).await).await;
    assert_eq!(
        app.post_refresh(&resigned(&refresh, &header, |_| {}))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_me(&resigned(&access, &hs256(), |_| {}))
            .await
            .status(),
        StatusCode::OK,
        "the same claims without `crit` are fine"
    );
}

#[tokio::test]
async fn tokens_with_claims_of_the_wrong_shape_are_401() {
    let app = spawn_app().await;
    let user = app.register("claims@example.com").await;
    let sub = user["id"].to_string();
    let unsigned_payload = forge_token(&json!({"sub": sub, "exp": exp_in(600), "type": "access"}));
    let payload = unsigned_payload.split('.').nth(1).unwrap_or_default();
    for token in [
        forge_token(&json!({"sub": "not-a-number", "exp": exp_in(600), "type": "access"})),
        forge_token(&json!({"sub": "9".repeat(400), "exp": exp_in(600), "type": "access"})),
        forge_token(&json!({"sub": sub, "exp": "later", "type": "access"})),
        forge_token(&json!({"sub": sub, "exp": 1e300, "type": "access"})),
        forge_token(&json!({"sub": sub, "exp": exp_in(600), "type": ["access"]})),
        forge_token(&json!(["not", "an", "object"])),
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        "x".repeat(8_000),
        "a.b.c".to_owned(),
    ] {
        let response = app.get_me(&token).await;
        assert_invalid_credentials(response).await;
    }
}
