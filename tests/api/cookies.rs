//! The browser transport of the refresh token (issue 6): an HttpOnly, Secure, SameSite=Strict
//! cookie scoped to /api/v1/auth, with the CSRF header required where the cookie is used.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, access, assert_detail, assert_invalid_credentials, assert_invalid_token,
    assert_logged_out, body, spawn_app_with,
};

/// The `flowrex_refresh` cookie a response sets: (value, full Set-Cookie line).
fn set_cookie(response: &reqwest::Response) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with("flowrex_refresh="))
        .map(|line| {
            let value = line["flowrex_refresh=".len()..]
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            (value, line.to_owned())
        })
}

async fn cookie_login(app: &TestApp, email: &str) -> (Value, String) {
    let response = app
        .post_json_with(
            "/api/v1/auth/login",
            &[("x-token-transport", "cookie")],
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (value, line) = set_cookie(&response).expect("no refresh cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(line.contains(attribute), "{attribute} in {line}");
    }
    (body(response).await, value)
}

async fn cookie_post(app: &TestApp, path: &str, cookie: &str, csrf: bool) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("cookie", format!("flowrex_refresh={cookie}"));
    if csrf {
        request = request.header("x-csrf-token", "1");
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_refresh_token_lives_only_in_the_cookie() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    app.register("cookie@example.com").await;
    let (tokens, first) = cookie_login(&app, "cookie@example.com").await;
    assert_eq!(
        tokens["refresh_token"],
        Value::Null,
        "not in script-reachable JSON"
    );
    assert_eq!(app.get_me(access(&tokens)).await.status(), StatusCode::OK);

    let refreshed = cookie_post(&app, "/api/v1/auth/refresh", &first, true).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let (second, _) = set_cookie(&refreshed).expect("a rotated cookie");
    assert_ne!(second, first);
    let body = body(refreshed).await;
    assert_eq!(body["refresh_token"], Value::Null);
    assert_eq!(app.get_me(access(&body)).await.status(), StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let replay = cookie_post(&app, "/api/v1/auth/refresh", &first, true).await;
    assert_invalid_token(replay).await;
    let after = cookie_post(&app, "/api/v1/auth/refresh", &second, true).await;
    assert_invalid_token(after).await;
}

#[tokio::test]
async fn using_the_cookie_needs_the_csrf_header() {
    let app = spawn_app_with(&[]).await;
    app.register("csrf@example.com").await;
    let (_, cookie) = cookie_login(&app, "csrf@example.com").await;
    for path in ["/api/v1/auth/refresh", "/api/v1/auth/logout"] {
        let response = cookie_post(&app, path, &cookie, false).await;
        assert_detail(response, StatusCode::FORBIDDEN, "CSRF token missing").await;
    }
    assert_eq!(
        cookie_post(&app, "/api/v1/auth/refresh", &cookie, true)
            .await
            .status(),
        StatusCode::OK,
        "the cookie was not spent"
    );
}

#[tokio::test]
async fn logout_with_the_cookie_revokes_it_and_clears_it() {
    let app = spawn_app_with(&[]).await;
    app.register("bye@example.com").await;
    let (tokens, cookie) = cookie_login(&app, "bye@example.com").await;
    let response = cookie_post(&app, "/api/v1/auth/logout", &cookie, true).await;
    let (value, line) = set_cookie(&response).expect("the cookie is cleared");
    assert!(value.is_empty() && line.contains("Max-Age=0"), "{line}");
    assert_logged_out(response).await;
    let refresh = cookie_post(&app, "/api/v1/auth/refresh", &cookie, true).await;
    assert_invalid_token(refresh).await;
    let me = app.get_me(access(&tokens)).await;
    assert_invalid_credentials(me).await;
}
