//! SPEC's cross-cutting rows: JSON errors for unknown routes, methods and large bodies;
//! CORS; the rate limit; the CSRF rule in production.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, access, assert_detail, body, header, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = spawn_app().await;
    for path in ["/nope", "/api/v1/auth/nope"] {
        assert_detail(app.get(path).await, StatusCode::NOT_FOUND, "Not Found").await;
    }
}

#[tokio::test]
async fn wrong_methods_are_405_json_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (Method::GET, "/api/v1/auth/login", "POST"),
        (Method::DELETE, "/health", "GET, HEAD"),
        (Method::POST, "/api/v1/auth/me", "GET, HEAD, PATCH, DELETE"),
        (Method::PUT, "/reset-password", "GET, HEAD, POST"),
        (Method::PUT, "/api/v1/auth/register", "POST"),
    ] {
        let response = app.send(method.clone(), path, None, None).await;
        let headers = assert_detail(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
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
        .request_with(
            Method::OPTIONS,
            "/api/v1/auth/login",
            &[
                ("origin", "http://localhost:3000"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type,x-csrf-token",
                ),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.status(), StatusCode::OK);
    let lower = |name: &str| header(&preflight, name).map(str::to_ascii_lowercase);
    assert_eq!(
        lower("access-control-allow-origin").as_deref(),
        Some("http://localhost:3000")
    );
    assert_eq!(
        lower("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(lower("access-control-allow-methods").is_some_and(|m| m.contains("post")));
    assert!(lower("access-control-allow-headers").is_some_and(|h| h.contains("x-csrf-token")));

    let simple = app
        .get_with("/health", &[("origin", "http://localhost:3000")])
        .await;
    assert_eq!(
        header(&simple, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app = spawn_app().await;
    let response = app
        .get_with("/health", &[("origin", "http://evil.test")])
        .await;
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
        .get_with("/health", &[("origin", "http://localhost:3000")])
        .await;
    let retry_after = header(&response, "retry-after").and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After: {retry_after:?}"
    );
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("http://localhost:3000"),
        "a 429 still carries CORS headers"
    );
    assert_detail(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded: 5 per 1 minute",
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
    assert_detail(response, StatusCode::FORBIDDEN, "CSRF token missing").await;

    let with_header = app
        .post_json_with(
            "/api/v1/auth/register",
            &[("x-csrf-token", "anything")],
            &json!({"email": "c@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(with_header.status(), StatusCode::CREATED);

    let login = app.login("c@example.com", PASSWORD).await;
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

/// Every `Access-Control-*` header of a response.
fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_header_on_get_post_or_preflight() {
    let app = spawn_app().await;
    let evil = "http://evil.test";
    let get = app.get_with("/api/v1/auth/me", &[("origin", evil)]).await;
    assert_eq!(get.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(cors_headers(&get), Vec::<String>::new(), "GET");
    let post = app
        .post_json_with(
            "/api/v1/auth/login",
            &[("origin", evil)],
            &json!({"email": "x@example.com", "password": "Wrong1234"}),
        )
        .await;
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(cors_headers(&post), Vec::<String>::new(), "POST");
    let preflight = app
        .request_with(
            Method::OPTIONS,
            "/api/v1/auth/login",
            &[
                ("origin", evil),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(cors_headers(&preflight), Vec::<String>::new(), "preflight");
    assert!(preflight.status().is_client_error());
    assert!(body(preflight).await["detail"].is_string());

    let without_origin = app.get("/health").await;
    assert_eq!(
        cors_headers(&without_origin),
        Vec::<String>::new(),
        "no Origin, no CORS request"
    );

    let allowed = app
        .post_json_with(
            "/api/v1/auth/login",
            &[("origin", "http://localhost:3000")],
            &json!({"email": "x@example.com", "password": "Wrong1234"}),
        )
        .await;
    let headers = cors_headers(&allowed);
    assert!(
        headers.contains(&"access-control-allow-origin".to_owned())
            && headers.contains(&"access-control-allow-credentials".to_owned()),
        "the allowed origin keeps its headers: {headers:?}"
    );
}

/// Status and headers of a response, without those that differ between any two answers.
fn status_and_headers(response: &reqwest::Response) -> (StatusCode, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !["date", "x-request-id"].contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    headers.sort();
    (response.status(), headers)
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("head@example.com").await;
    let token = access(&tokens);
    for (path, bearer) in [
        ("/", None),
        ("/health", None),
        ("/health/ready", None),
        ("/api/v1/auth/me", Some(token)),
        ("/api/v1/auth/me", None),
        ("/api/v1/auth/sessions", Some(token)),
        ("/.well-known/jwks.json", None),
        ("/openapi.json", None),
        ("/nope", None),
    ] {
        let send = |method: Method| {
            let mut request = app.client.request(method, app.url(path));
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let get = send(Method::GET).await.unwrap();
        let head = send(Method::HEAD).await.unwrap();
        assert_eq!(
            status_and_headers(&head),
            status_and_headers(&get),
            "HEAD {path} (bearer: {})",
            bearer.is_some()
        );
        assert!(
            head.bytes().await.unwrap_or_default().is_empty(),
            "HEAD {path} has no body"
        );
    }
    let not_allowed = app.send(Method::POST, "/health", None, None).await;
    assert_eq!(header(&not_allowed, "allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_within_the_deadline() {
    let app = spawn_app_with(&[("REQUEST_BODY_TIMEOUT_SECONDS", "1")]).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let (status, answer, elapsed, closed) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let started = std::time::Instant::now();
        stream
            .write_all(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\": ",
            )
            .unwrap();
        // The rest of the body never comes; the socket stays open.
        let mut answer = Vec::new();
        let closed = stream.read_to_end(&mut answer).is_ok();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text, started.elapsed(), closed)
    })
    .await
    .unwrap();
    assert_eq!(status, 408, "{answer}");
    assert!(
        answer.ends_with(r#"{"detail":"Request Timeout"}"#),
        "{answer}"
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(900)
            && elapsed < std::time::Duration::from_secs(3),
        "answered at the 1 s deadline: {elapsed:?}"
    );
    assert!(closed, "the server closed the connection after the 408");
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::OK,
        "the server serves on"
    );
}

#[tokio::test]
async fn every_counter_and_histogram_with_known_labels_is_listed_from_start_up() {
    let app = spawn_app().await;
    let text = app.get("/metrics").await.text().await.unwrap_or_default();
    for series in [
        "flowrex_rate_limited_total{limiter=\"ip\"}",
        "flowrex_rate_limited_total{limiter=\"login\"}",
        "flowrex_logins_total{outcome=\"success\"}",
        "flowrex_logins_total{outcome=\"invalid_credentials\"}",
        "flowrex_logins_total{outcome=\"throttled\"}",
        "flowrex_logins_total{outcome=\"error\"}",
        "flowrex_logins_total{outcome=\"mfa_required\"}",
        "flowrex_mfa_verifications_total{outcome=\"invalid_code\"}",
        "flowrex_passkey_logins_total{outcome=\"refused\"}",
        "flowrex_bcrypt_duration_seconds_count",
        "http_responses_total{class=\"5xx\"}",
        "http_responses_total{class=\"2xx\"}",
        "flowrex_db_pool_connections{state=\"idle\"}",
    ] {
        assert!(
            text.contains(series),
            "{series} missing at start-up:\n{text}"
        );
    }
    assert!(
        text.contains("flowrex_rate_limited_total{limiter=\"login\"} 0"),
        "at 0 before any event:\n{text}"
    );
}
