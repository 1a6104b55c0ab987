//! SPEC's cross-cutting rows: JSON errors for unknown routes, methods and large bodies;
//! CORS; the rate limit; the CSRF rule in production.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, assert_json, body, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = spawn_app().await;
    assert_json(
        app.get("/nope").await,
        StatusCode::NOT_FOUND,
        json!({"detail": "Not Found"}),
    )
    .await;
    assert_json(
        app.get("/api/v1/auth/nope").await,
        StatusCode::NOT_FOUND,
        json!({"detail": "Not Found"}),
    )
    .await;
}

#[tokio::test]
async fn wrong_methods_are_405_json_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (Method::GET, "/api/v1/auth/login", "POST"),
        (Method::DELETE, "/health", "GET"),
        (Method::POST, "/api/v1/auth/me", "GET"),
        (Method::PUT, "/api/v1/auth/register", "POST"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let headers = assert_json(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method Not Allowed"}),
        )
        .await;
        assert_eq!(
            headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_json() {
    let app = spawn_app().await;
    let big =
        json!({"email": "big@example.com", "password": PASSWORD, "full_name": "x".repeat(70_000)});
    let response = app.post_register(&big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body(response).await["detail"].is_string());
}

#[tokio::test]
async fn cors_allows_the_front_end_with_credentials() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-csrf-token",
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(preflight.status(), StatusCode::OK);
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    assert_eq!(
        header("access-control-allow-origin").as_deref(),
        Some("http://localhost:3000")
    );
    assert_eq!(
        header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(header("access-control-allow-methods").is_some_and(|m| m.contains("post")));
    assert!(header("access-control-allow-headers").is_some_and(|h| h.contains("x-csrf-token")));

    let simple = app
        .client
        .get(app.url("/health"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://localhost:3000")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health"))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "non-browser clients still get an answer"
    );
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_json_with_retry_after() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    for _ in 0..5 {
        assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    }
    let response = app
        .client
        .get(app.url("/health"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After: {retry_after:?}"
    );
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://localhost:3000"),
        "a 429 still carries CORS headers"
    );
    assert_json(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        json!({"detail": "Rate limit exceeded: 5 per 1 minute"}),
    )
    .await;
}

#[tokio::test]
async fn the_default_rate_limit_is_200_per_minute() {
    let app = spawn_app().await;
    let statuses =
        futures::future::join_all((0..201).map(|_| app.client.get(app.url("/health")).send()))
            .await;
    let limited = statuses
        .into_iter()
        .filter(|r| {
            r.as_ref()
                .is_ok_and(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        })
        .count();
    assert_eq!(limited, 1, "the 201st request of the minute is limited");
}

#[tokio::test]
async fn production_requires_a_csrf_header_on_state_changing_requests() {
    let app = spawn_app_with(&[("APP_ENV", "production")]).await;
    let response = app
        .post_register(&json!({"email": "c@example.com", "password": PASSWORD}))
        .await;
    assert_json(
        response,
        StatusCode::FORBIDDEN,
        json!({"detail": "CSRF token missing"}),
    )
    .await;

    let with_header = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("x-csrf-token", "anything")
        .json(&json!({"email": "c@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with_header.status(), StatusCode::CREATED);

    let login = app
        .post_login(&json!({"email": "c@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(login.status(), StatusCode::OK, "login is exempt");
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::OK,
        "GET is exempt"
    );
    assert_eq!(app.post_logout().await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn csrf_is_off_outside_production_or_when_disabled() {
    let development = spawn_app().await;
    assert_eq!(development.post_logout().await.status(), StatusCode::OK);
    let disabled = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("CSRF_PROTECTION_ENABLED", "false"),
    ])
    .await;
    assert_eq!(disabled.post_logout().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("x-content-type-options"), Some("nosniff"));
    assert_eq!(header("x-frame-options"), Some("DENY"));
    assert!(
        header("strict-transport-security").is_none(),
        "HSTS only in production"
    );
}
