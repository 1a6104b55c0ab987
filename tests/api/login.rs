//! SPEC row `POST /api/v1/auth/login`: 200 tokens; 401 for unknown email, wrong password and
//! inactive user alike; 422 validation. Hostile passwords (past 72 bytes, huge) and brute
//! force (issue 5): failed logins throttled per account and per client address, however
//! they arrive, and forgotten after the window or a success.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    PASSWORD, REFUSED, THROTTLED, assert_json, assert_refused, assert_throttled, body, guesses,
    header, login_burst, sorted_keys, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn login_answers_200_with_an_access_token() {
    // The original's test_login.
    let app = spawn_app().await;
    app.post_register(&json!({"email": "login@test.com", "password": "Test1234"}))
        .await;
    let response = app.login("login@test.com", "Test1234").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body(response).await.get("access_token").is_some());
}

#[tokio::test]
async fn the_tokens_body_has_the_spec_fields() {
    let app = spawn_app().await;
    app.register("t@example.com").await;
    let response = app.login("t@example.com", PASSWORD).await;
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let tokens = body(response).await;
    let keys = sorted_keys(&tokens);
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert_ne!(tokens["access_token"], tokens["refresh_token"]);
}

#[tokio::test]
async fn expires_in_follows_the_configured_access_lifetime() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_EXPIRE_MINUTES", "5")]).await;
    let tokens = app.register_and_login("short@example.com").await;
    assert_eq!(tokens["expires_in"], 300);
}

#[tokio::test]
async fn a_wrong_password_is_401() {
    let app = spawn_app().await;
    app.register("w@example.com").await;
    let response = app.login("w@example.com", "Wrong1234").await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_401() {
    let app = spawn_app().await;
    let response = app.login("ghost@example.com", PASSWORD).await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_inactive_user_gets_the_same_401_even_with_the_right_password() {
    let app = spawn_app().await;
    app.register("off@example.com").await;
    app.execute_sql("UPDATE users SET is_active = false WHERE email = 'off@example.com'")
        .await;
    let response = app.login("off@example.com", PASSWORD).await;
    assert_refused(response).await;
}

#[tokio::test]
async fn invalid_login_bodies_are_422() {
    let app = spawn_app().await;
    let response = app.login("nope", "x").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body(response).await["detail"][0]["loc"],
        json!(["body", "email"])
    );

    let response = app.post_login(&json!({"email": "a@example.com"})).await;
    let expected = json!({"detail": [{"type": "missing", "loc": ["body", "password"],
        "msg": "Field required", "input": {"email": "a@example.com"}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
}

// ---- passwords ---------------------------------------------------------------------------

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
    assert_refused(app.login("edge@example.com", &longer).await).await;
}

#[tokio::test]
async fn a_huge_login_password_is_a_plain_401() {
    let app = spawn_app().await;
    app.register("huge@example.com").await;
    let response = app.login("huge@example.com", &"P4ss".repeat(5000)).await;
    assert_refused(response).await;
}

// ---- brute force -------------------------------------------------------------------------

#[tokio::test]
async fn repeated_failures_for_one_account_are_throttled_then_forgotten() {
    let app = spawn_app_with(&[("LOGIN_FAILURE_WINDOW_SECONDS", "2")]).await;
    app.register("target@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = app.login("target@example.com", "Wrong1234").await;
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
    assert_throttled(app.login("target@example.com", PASSWORD).await).await;
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
        assert_refused(app.login("reset@example.com", "Wrong1234").await).await;
    }
}

#[tokio::test]
async fn one_client_guessing_many_accounts_is_throttled_per_ip() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES_PER_IP", "3")]).await;
    for n in 0..3 {
        let response = app
            .login(&format!("victim{n}@example.com"), "Wrong1234")
            .await;
        assert_refused(response).await;
    }
    let fourth = app.login("victim9@example.com", "Wrong1234").await;
    assert_throttled(fourth).await;
}
