//! SPEC's cross-cutting rows: JSON errors for unknown routes, methods and large bodies;
//! CORS; the rate limit; the CSRF rule in production. Hostile requests (issue 5): the
//! client address behind proxies (forwarding headers count only from a trusted proxy);
//! junk, duplicate-key and untyped bodies; raw headers no client library would send;
//! caching and security headers on every answer; no secret echoed by a 422. Every case
//! asserts the status and the body; none may produce a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    PASSWORD, TestApp, access, assert_detail, assert_json, body, header, only_error, refresh,
    spawn_app, spawn_app_with,
};

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

// ---- client IP ---------------------------------------------------------------------------

#[tokio::test]
async fn an_untrusted_client_cannot_choose_its_rate_limit_key() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "3")]).await;
    for n in 0..3 {
        let response = app
            .client
            .get(app.url("/health"))
            .header("x-forwarded-for", format!("10.0.0.{n}"))
            .send()
            .await;
        assert_eq!(response.map(|r| r.status()).ok(), Some(StatusCode::OK));
    }
    let response = app
        .get_with(
            "/health",
            &[
                ("x-forwarded-for", "10.9.9.9"),
                ("forwarded", "for=10.8.8.8"),
            ],
        )
        .await;
    assert_detail(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded: 3 per 1 minute",
    )
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_PER_MINUTE", "2"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let get = |forwarded: (&'static str, &'static str)| {
        app.client
            .get(app.url("/health"))
            .header(forwarded.0, forwarded.1)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            get(("x-forwarded-for", "203.0.113.1"))
                .await
                .map(|r| r.status())
                .ok(),
            Some(StatusCode::OK)
        );
    }
    let limited = get(("x-forwarded-for", "203.0.113.1")).await.unwrap();
    assert_detail(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded: 2 per 1 minute",
    )
    .await;
    let other = get(("forwarded", "for=\"[2001:db8::7]:4711\""))
        .await
        .unwrap();
    assert_json(other, StatusCode::OK, json!({"status": "healthy"})).await;
}

// ---- requests ----------------------------------------------------------------------------

/// Posts `payload` as it is, with `content_type` if any (for bodies `post_json` cannot send).
async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    payload: Vec<u8>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).body(payload);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn junk_bodies_are_422_json() {
    let app = spawn_app().await;
    let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
        (
            Some("application/json"),
            b"{\"email\": \"a@b.co\", \"password\": \"\xff\xfe\"}".to_vec(),
            "json_invalid",
        ),
        (
            Some("application/json"),
            br#"{"email": "a@b.co", "password": "Test1234\ud800"}"#.to_vec(),
            "json_invalid",
        ),
        (
            Some("application/json"),
            b"{\"email\": \"a@b.co\"".to_vec(),
            "json_invalid",
        ),
        (
            Some("application/json"),
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            "json_invalid",
        ),
        (
            Some("application/json"),
            b"\"just a string\"".to_vec(),
            "model_attributes_type",
        ),
        (
            Some("text/plain"),
            br#"{"email": "a@b.co", "password": "Test1234"}"#.to_vec(),
            "model_attributes_type",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"email=a%40b.co&password=Test1234".to_vec(),
            "model_attributes_type",
        ),
        (Some("application/json"), Vec::new(), "missing"),
    ];
    for (content_type, payload, kind) in cases {
        let response = raw_post(&app, "/api/v1/auth/register", content_type, payload).await;
        let error = only_error(response).await;
        assert_eq!(error["type"], kind, "{content_type:?}: {error}");
        assert_eq!(error["loc"][0], "body");
    }
}

#[tokio::test]
async fn a_json_body_without_content_type_is_read_as_json() {
    let app = spawn_app().await;
    let payload = json!({"email": "noct@example.com", "password": PASSWORD})
        .to_string()
        .into_bytes();
    let response = raw_post(&app, "/api/v1/auth/register", None, payload).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body(response).await["email"], "noct@example.com");
}

#[tokio::test]
async fn duplicate_keys_take_the_last_value_as_json_parsers_do() {
    let app = spawn_app().await;
    let payload =
        br#"{"email": "first@example.com", "email": "last@example.com", "password": "Test1234"}"#
            .to_vec();
    let response = raw_post(
        &app,
        "/api/v1/auth/register",
        Some("application/json"),
        payload,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body(response).await["email"], "last@example.com");
}

#[tokio::test]
async fn oversized_bodies_are_413_json_on_every_endpoint() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
    ] {
        let payload = format!("{{\"refresh_token\": \"{}\"}}", "x".repeat(70_000)).into_bytes();
        let response = raw_post(&app, path, Some("application/json"), payload).await;
        assert_detail(
            response,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    assert_detail(
        app.get("/api/v1/auth/../../etc/passwd").await,
        StatusCode::NOT_FOUND,
        "Not Found",
    )
    .await;
    assert_detail(app.get("/%00").await, StatusCode::NOT_FOUND, "Not Found").await;
    let response = app
        .client
        .request(Method::PATCH, app.url("/api/v1/auth/logout"))
        .send()
        .await;
    let headers = assert_detail(
        response.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
    )
    .await;
    assert_eq!(
        headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
}

/// Sends a raw HTTP/1.1 request (for bytes no HTTP client library would send) and returns
/// the status code and the body. Blocking I/O, off the test's runtime (which also drives
/// the server).
async fn raw_http(app: &TestApp, request: &[u8]) -> (u16, String) {
    let address = app.address.trim_start_matches("http://").to_owned();
    let request = request.to_vec();
    tokio::task::spawn_blocking(move || raw_http_blocking(&address, &request))
        .await
        .unwrap()
}

fn raw_http_blocking(address: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn headers_with_nul_or_invalid_utf8_or_huge_values_are_4xx() {
    let app = spawn_app().await;
    let (status, answer) = raw_http(
        &app,
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Test: a\0b\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "NUL in a header: {answer}");
    assert!(!answer.contains("healthy"));
    let (status, answer) = raw_http(
        &app,
        b"GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        (status, answer.as_str()),
        (401, r#"{"detail":"Not authenticated"}"#),
        "invalid UTF-8 in the token"
    );
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(200_000)
    );
    let (status, _) = raw_http(&app, huge.as_bytes()).await;
    assert!((400..500).contains(&status), "a 200 kB header: {status}");
}

// ---- responses ---------------------------------------------------------------------------

#[tokio::test]
async fn token_and_user_answers_are_not_cached_and_errors_carry_security_headers() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("cache@example.com").await;
    let refresh = app.post_refresh(refresh(&tokens)).await;
    let me = app.get_me(access(&tokens)).await;
    for response in [refresh, me] {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        assert!(body(response).await.is_object());
    }
    let missing = app.get("/missing").await;
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(
            missing.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name}"
        );
    }
    assert_detail(missing, StatusCode::NOT_FOUND, "Not Found").await;
}

#[tokio::test]
async fn production_adds_strict_transport_security() {
    let app = spawn_app_with(&[("APP_ENV", "production")]).await;
    let response = app.get("/health").await;
    assert_eq!(
        header(&response, "strict-transport-security"),
        Some("max-age=63072000; includeSubDomains")
    );
    assert_json(response, StatusCode::OK, json!({"status": "healthy"})).await;
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_headers_even_on_preflight() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://app.example.com")]).await;
    let preflight = app
        .request_with(
            Method::OPTIONS,
            "/api/v1/auth/login",
            &[
                ("origin", "http://localhost:3000"),
                ("access-control-request-method", "POST"),
            ],
            None,
        )
        .await;
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(
        preflight.status().is_client_error(),
        "{}",
        preflight.status()
    );
    assert!(body(preflight).await["detail"].is_string());
    let allowed = app
        .get_with("/health", &[("origin", "https://app.example.com")])
        .await;
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_json(allowed, StatusCode::OK, json!({"status": "healthy"})).await;
}

// ---- secrets never echoed ----------------------------------------------------------------

#[tokio::test]
async fn no_spelling_of_a_secret_field_is_echoed() {
    let app = spawn_app().await;
    let secret = "Secret123XyZ";
    for (path, payload) in [
        (
            "/api/v1/auth/login",
            json!({"email": "a@example.com", "Password": secret}),
        ),
        (
            "/api/v1/auth/login",
            json!({"email": "a@example.com", "PASSWORD": secret}),
        ),
        (
            "/api/v1/auth/login",
            json!({"Email": "a@example.com", "pass_word": secret}),
        ),
        (
            "/api/v1/auth/register",
            json!({"email": "a@example.com", "passWord": secret}),
        ),
        (
            "/api/v1/auth/register",
            json!({"password": secret, "new-password": secret}),
        ),
        ("/api/v1/auth/refresh", json!({"refreshToken": secret})),
        (
            "/api/v1/auth/refresh",
            json!({"Refresh_Token": secret, "access_token": secret}),
        ),
        ("/api/v1/auth/refresh", json!({"refresh-token": secret})),
    ] {
        let response = app.post_json(path, &payload).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{payload}"
        );
        let text = response.text().await.unwrap_or_default();
        assert!(text.contains("\"missing\""), "{text}");
        assert!(!text.contains(secret), "{path} echoed a secret: {text}");
    }
}

#[tokio::test]
async fn a_password_is_never_echoed_even_inside_another_fields_error() {
    let app = spawn_app().await;
    let secret = "Hunter2IsMySecret";
    for (content_type, payload) in [
        (
            Some("application/json"),
            json!({"password": secret}).to_string(),
        ),
        (
            Some("application/json"),
            json!({"email": 5, "password": secret, "full_name": [1]}).to_string(),
        ),
        (
            Some("application/x-www-form-urlencoded"),
            format!("email=a%40b.co&password={secret}"),
        ),
        (Some("application/json"), json!([secret]).to_string()),
    ] {
        let response = raw_post(
            &app,
            "/api/v1/auth/register",
            content_type,
            payload.into_bytes(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = response.text().await.unwrap_or_default();
        assert!(text.contains("\"detail\""), "{text}");
        assert!(!text.contains(secret), "the password came back: {text}");
    }
}
