//! Hostile input (issue 5): enumeration, brute force, junk payloads, forged headers and
//! tokens. Every case asserts the status and the body; none may produce a 5xx.

use std::io::{Read, Write};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, REFUSED, THROTTLED, TestApp, access, assert_already_registered, assert_detail,
    assert_invalid_credentials, assert_json, assert_refused, assert_throttled, body, exp_in,
    forge_token, guesses, header, login_burst, refresh, spawn_app, spawn_app_with,
};

/// A passlib hash of "Test1234" at cost 12, as the original service stored it.
const PASSLIB_TEST1234: &str = "$2b$12$53bKYujvn6hfO17ca2dZAOfSyt0zPJ8hr3gcAZm.R/Na0v9r5ca82";

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

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.login(email, password).await
}

/// The single 422 error of a response.
async fn only_error(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = body(response).await["detail"].clone();
    assert_eq!(detail.as_array().map(Vec::len), Some(1), "{detail}");
    detail[0].clone()
}

// ---- emails ------------------------------------------------------------------------------

#[tokio::test]
async fn emails_differing_only_by_case_are_one_account() {
    let app = spawn_app().await;
    let first = app.register("Foo@Example.com").await;
    assert_eq!(
        first["email"], "Foo@example.com",
        "shown as typed, domain lower-cased"
    );
    let again = app
        .post_register(&json!({"email": "foo@example.com", "password": PASSWORD}))
        .await;
    assert_already_registered(again).await;
    let response = login(&app, "FOO@EXAMPLE.COM", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "login is case-insensitive"
    );
    assert!(body(response).await["access_token"].is_string());
}

#[tokio::test]
async fn two_unicode_spellings_of_an_email_are_one_account() {
    let app = spawn_app().await;
    app.register("jose\u{301}@example.com").await;
    let again = app
        .post_register(&json!({"email": "jos\u{e9}@example.com", "password": PASSWORD}))
        .await;
    assert_already_registered(again).await;
    assert_eq!(
        app.login_status("JOS\u{c9}@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn surrounding_spaces_are_trimmed() {
    let app = spawn_app().await;
    // Spaces only: a tab or newline is a control character, refused (see below).
    let user = app.register("  spaced@example.com  ").await;
    assert_eq!(user["email"], "spaced@example.com");
    assert_eq!(
        app.login_status("spaced@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn internationalised_domains_are_accepted() {
    let app = spawn_app().await;
    let user = app.register("user@münchen.de").await;
    assert_eq!(user["email"], "user@münchen.de");
}

#[tokio::test]
async fn bad_emails_are_422_at_the_email_field() {
    let app = spawn_app().await;
    let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
    for (email, message) in [
        (
            json!(long),
            "value is not a valid email address: The email address is too long (5 characters more than 254).",
        ),
        (
            json!("a\u{0}b@example.com"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!("a\nb@example.com"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        // Control characters at an end are refused too, never trimmed away.
        (
            json!("a@b.co\n"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!("a@b.co\t"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!("\u{0}a@b.co"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!(""),
            "value is not a valid email address: An email address cannot be empty.",
        ),
        (
            json!("user@localhost"),
            "value is not a valid email address: The part after the @-sign is not valid. It should have a period.",
        ),
    ] {
        let error = only_error(
            app.post_register(&json!({"email": email, "password": PASSWORD}))
                .await,
        )
        .await;
        assert_eq!(error["type"], "value_error");
        assert_eq!(error["loc"], json!(["body", "email"]));
        assert_eq!(error["msg"], message, "{email}");
        assert_eq!(error["input"], email);
    }
}

#[tokio::test]
async fn non_string_emails_are_422_string_type() {
    let app = spawn_app().await;
    for email in [json!(null), json!(42), json!(["a@b.co"]), json!({"x": 1})] {
        let error = only_error(
            app.post_register(&json!({"email": email, "password": PASSWORD}))
                .await,
        )
        .await;
        assert_eq!(
            error,
            json!({"type": "string_type", "loc": ["body", "email"], "msg": "Input should be a valid string", "input": email})
        );
    }
}

// ---- passwords ---------------------------------------------------------------------------

#[tokio::test]
async fn passwords_longer_than_72_bytes_are_refused_at_registration() {
    let app = spawn_app().await;
    for password in [
        format!("Aa1{}", "x".repeat(70)),
        format!("Aa1{}", "€".repeat(25)),
    ] {
        let response = app
            .post_register(&json!({"email": "long@example.com", "password": password}))
            .await;
        let expected = json!({"detail": [{"type": "value_error", "loc": ["body", "password"],
            "msg": "Value error, Password must be at most 72 bytes", "ctx": {"error": {}}}]});
        assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
    }
}

#[tokio::test]
async fn passwords_differing_after_byte_72_never_both_log_in() {
    let app = spawn_app().await;
    let exactly_72 = format!("Aa1{}", "x".repeat(69));
    let response = app
        .post_register(&json!({"email": "edge@example.com", "password": exactly_72}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        app.login_status("edge@example.com", &exactly_72).await,
        StatusCode::OK
    );
    let longer = format!("{exactly_72}anything");
    assert_refused(login(&app, "edge@example.com", &longer).await).await;
}

#[tokio::test]
async fn nul_in_a_password_is_refused_at_registration_and_never_logs_in() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "nul@example.com", "password": "Test\u{0}1234"}))
        .await;
    let expected = json!({"detail": [{"type": "value_error", "loc": ["body", "password"],
        "msg": "Value error, Password must not contain NUL characters", "ctx": {"error": {}}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
    app.register("nul@example.com").await;
    assert_refused(login(&app, "nul@example.com", "Test1234\u{0}").await).await;
}

#[tokio::test]
async fn a_huge_login_password_is_a_plain_401() {
    let app = spawn_app().await;
    app.register("huge@example.com").await;
    let response = login(&app, "huge@example.com", &"P4ss".repeat(5000)).await;
    assert_refused(response).await;
}

#[tokio::test]
async fn a_user_of_the_original_service_logs_in_and_the_hash_is_upgraded() {
    let app = spawn_app().await; // BCRYPT_COST=4, not passlib's 12
    app.execute_sql(&format!(
        "INSERT INTO users (email, email_key, hashed_password, full_name, is_active, is_verified, is_superuser, created_at, updated_at) \
         VALUES ('Legacy@example.com', 'legacy@example.com', '{PASSLIB_TEST1234}', NULL, true, false, false, \
         CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ))
    .await;
    let response = login(&app, "legacy@example.com", "Test1234").await;
    assert_eq!(response.status(), StatusCode::OK, "passlib's hash verifies");
    assert!(body(response).await["access_token"].is_string());
    let stored = app
        .query_string(
            "SELECT hashed_password AS v FROM users WHERE email_key = 'legacy@example.com'",
        )
        .await;
    assert!(
        stored.starts_with("$2b$04$"),
        "upgraded to the configured cost: {stored}"
    );
    assert_eq!(
        app.login_status("legacy@example.com", "Test1234").await,
        StatusCode::OK,
        "the new hash works"
    );
    assert_refused(login(&app, "legacy@example.com", "Test12345").await).await;
}

// ---- brute force -------------------------------------------------------------------------

#[tokio::test]
async fn repeated_failures_for_one_account_are_throttled_then_forgotten() {
    let app = spawn_app_with(&[("LOGIN_FAILURE_WINDOW_SECONDS", "2")]).await;
    app.register("target@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = login(&app, "target@example.com", "Wrong1234").await;
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let detail = body(response).await["detail"].clone();
        match status {
            StatusCode::UNAUTHORIZED => assert_eq!(detail, REFUSED),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(detail, THROTTLED);
                let seconds = retry_after.and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                assert!(
                    seconds.is_some_and(|s| (1..=2).contains(&s)),
                    "Retry-After {seconds:?}"
                );
            }
            other => panic!("unexpected {other}"),
        }
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses[..5], [401; 5], "five failures are answered");
    assert_eq!(
        statuses[5..],
        [429; 25],
        "then refused without checking the password"
    );
    assert_throttled(login(&app, "target@example.com", PASSWORD).await).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.login_status("target@example.com", PASSWORD).await,
        StatusCode::OK,
        "the right password works after the window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_get_no_more_checks_than_the_limit() {
    // A slower hash widens the window in which parallel attempts could all pass a check
    // made before any of them was counted.
    let app = spawn_app_with(&[("BCRYPT_COST", "8")]).await;
    app.register("v@example.com").await;
    assert_eq!(
        login_burst(&[&app], &guesses("v@example.com", 25)).await,
        (5, 20),
        "five checked attempts for one account, however they arrive"
    );
    let spray: Vec<(String, String)> = (0..70)
        .map(|n| (format!("nobody{n}@example.com"), "Wrong1234".to_owned()))
        .collect();
    let fresh = spawn_app_with(&[("BCRYPT_COST", "8")]).await;
    assert_eq!(
        login_burst(&[&fresh], &spray).await,
        (50, 20),
        "fifty checked attempts from one address"
    );
}

#[tokio::test]
async fn a_success_resets_the_accounts_failures() {
    let app = spawn_app().await;
    app.register("reset@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            app.login_status("reset@example.com", "Wrong1234").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login_status("reset@example.com", PASSWORD).await,
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_refused(login(&app, "reset@example.com", "Wrong1234").await).await;
    }
}

#[tokio::test]
async fn one_client_guessing_many_accounts_is_throttled_per_ip() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES_PER_IP", "3")]).await;
    for n in 0..3 {
        let response = login(&app, &format!("victim{n}@example.com"), "Wrong1234").await;
        assert_refused(response).await;
    }
    let fourth = login(&app, "victim9@example.com", "Wrong1234").await;
    assert_throttled(fourth).await;
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
async fn a_nul_in_full_name_is_422() {
    let app = spawn_app().await;
    let response = app
        .post_register(
            &json!({"email": "n@example.com", "password": PASSWORD, "full_name": "Ada\u{0}"}),
        )
        .await;
    let expected = json!({"detail": [{"type": "value_error", "loc": ["body", "full_name"],
        "msg": "Value error, must not contain NUL characters", "ctx": {"error": {}}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
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
async fn privileged_fields_sent_by_a_client_are_never_stored() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "p@example.com", "password": PASSWORD,
            "is_superuser": true, "is_verified": true, "is_active": false, "id": 77,
            "hashed_password": "$2b$04$forged", "created_at": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = body(response).await;
    assert_eq!(
        (user["is_active"].clone(), user["is_verified"].clone()),
        (json!(true), json!(false))
    );
    assert_ne!(user["created_at"], "2000-01-01T00:00:00.000000Z");
    let stored = app
        .query_string("SELECT CONCAT(CASE WHEN is_superuser THEN 'yes' ELSE 'no' END, ':', hashed_password) AS v FROM users")
        .await;
    assert!(
        stored.starts_with("no:$2b$04$") && !stored.contains("forged"),
        "{stored}"
    );
    assert_eq!(
        app.login_status("p@example.com", PASSWORD).await,
        StatusCode::OK
    );
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
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
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

// ---- tokens ------------------------------------------------------------------------------

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

#[tokio::test]
async fn addresses_differing_by_an_accent_are_two_accounts_on_every_backend() {
    let app = spawn_app().await;
    app.register("jose@example.com").await;
    let accented = app
        .post_register(&json!({"email": "josé@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(accented.status(), StatusCode::CREATED, "é is not e");
    assert_eq!(body(accented).await["email"], "josé@example.com");
    assert_refused(login(&app, "jose@example.com", "Wrong1234").await).await;
}

#[tokio::test]
async fn a_control_character_in_an_email_is_refused_at_login_too_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "acc@example.com\n", "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        only_error(login(&app, "acc@example.com\r", PASSWORD).await).await["loc"],
        json!(["body", "email"])
    );
    // The clean address was never registered by the refused attempt.
    app.register("acc@example.com").await;
}

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
