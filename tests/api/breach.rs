//! Breached passwords: a range folder made here from known passwords (SHA-1, the real file
//! format), read directly (`range-files`) and served by a static range server
//! (`range-api`); refused wherever a password is set, on that route's field; a source that
//! is down or slow, for both `PASSWORD_BREACH_ON_ERROR` modes; noted and mailed once at
//! login (over real SMTP, `#[ignore]`d: `.ci/run` runs them).

use std::time::{Duration, Instant};

use flowrex_infrastructure::test_support::ranges::{RangeServer, range_dir};
use flowrex_infrastructure::test_support::smtp::PrivateSmtp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{
    PASSWORD, TestApp, access, body, header, spawn_app_on_database, spawn_app_with,
};
use crate::lifecycle::{app_mailing_to, mail_about};

/// In the ranges 42 times.
const BREACHED: &str = "Breached1";
/// In the ranges once.
const RARE: &str = "Rarely77x";
/// In the ranges as padding only (count 0): never a breach.
const PADDED: &str = "Padded123";
const MESSAGE: &str =
    "Value error, this password appears in a known data breach; choose a different one";

fn ranges() -> TempDir {
    range_dir(&[(BREACHED, 42), (RARE, 1)], &[PADDED])
}

/// The 422 of a breached password on `field`: FastAPI's shape, the password not echoed.
async fn assert_breached(response: reqwest::Response, field: &str, password: &str) {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(password),
        "the password is never echoed: {text}"
    );
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer,
        json!({"detail": [{
            "type": "value_error",
            "loc": ["body", field],
            "msg": MESSAGE,
            "ctx": {"error": {}},
        }]})
    );
}

impl TestApp {
    async fn register_with(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_register(&json!({ "email": email, "password": password }))
            .await
    }
}

fn files_vars(dir: &TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("PASSWORD_BREACH_CHECK", "range-files".to_owned()),
        (
            "PASSWORD_BREACH_RANGE_DIR",
            dir.path().display().to_string(),
        ),
    ]
}

fn api_vars(server: &RangeServer) -> Vec<(&'static str, String)> {
    vec![
        ("PASSWORD_BREACH_CHECK", "range-api".to_owned()),
        ("PASSWORD_BREACH_RANGE_URL", server.url()),
    ]
}

async fn app_with(
    vars: &[(&'static str, String)],
    extra: &[(&'static str, &'static str)],
) -> TestApp {
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    all.push(("RATE_LIMIT_PER_MINUTE", "0"));
    spawn_app_with(&all).await
}

#[tokio::test]
async fn registration_refuses_a_breached_password_from_range_files_and_from_the_range_api() {
    let dir = ranges();
    let server = RangeServer::start(dir.path(), Duration::ZERO);
    for vars in [files_vars(&dir), api_vars(&server)] {
        let app = app_with(&vars, &[]).await;
        assert_breached(
            app.register_with("ada@example.com", BREACHED).await,
            "password",
            BREACHED,
        )
        .await;
        assert_breached(
            app.register_with("ada@example.com", RARE).await,
            "password",
            RARE,
        )
        .await;
        for (n, fine) in [PASSWORD, PADDED].into_iter().enumerate() {
            let created = app
                .register_with(&format!("fine{n}@example.com"), fine)
                .await;
            assert_eq!(created.status(), StatusCode::CREATED, "{fine}");
        }
        // At or above PASSWORD_BREACH_MIN_COUNT only.
        let lenient = app_with(&vars, &[("PASSWORD_BREACH_MIN_COUNT", "2")]).await;
        assert_eq!(
            lenient
                .register_with("rare@example.com", RARE)
                .await
                .status(),
            StatusCode::CREATED
        );
        assert_breached(
            lenient.register_with("often@example.com", BREACHED).await,
            "password",
            BREACHED,
        )
        .await;
    }
}

#[tokio::test]
async fn a_change_and_an_administrators_new_user_refuse_a_breached_password() {
    let dir = ranges();
    let app = app_with(&files_vars(&dir), &[]).await;
    let tokens = app.register_verified_and_login("bo@example.com").await;
    let change = json!({"current_password": PASSWORD, "new_password": BREACHED});
    assert_breached(
        app.post_as("/api/v1/auth/password/change", access(&tokens), &change)
            .await,
        "new_password",
        BREACHED,
    )
    .await;
    assert_eq!(
        app.login_status("bo@example.com", PASSWORD).await,
        StatusCode::OK
    );
    app.register_superuser("admin@example.com").await;
    let admin = app.sign_in("admin@example.com").await;
    let create = json!({"email": "new@example.com", "password": BREACHED, "is_verified": true});
    assert_breached(
        app.post_as("/api/v1/admin/users", access(&admin), &create)
            .await,
        "password",
        BREACHED,
    )
    .await;
}

#[tokio::test]
async fn a_stopped_or_slow_range_server_lets_passwords_through_or_refuses_as_configured() {
    let dir = ranges();
    // Stopped: a real process that is gone.
    let mut stopped = RangeServer::start(dir.path(), Duration::ZERO);
    let vars = api_vars(&stopped);
    stopped.stop();
    let allowing = app_with(&vars, &[]).await;
    assert_eq!(
        allowing
            .register_with("a@example.com", BREACHED)
            .await
            .status(),
        StatusCode::CREATED,
        "ON_ERROR=allow: through, unchecked"
    );
    let metrics = allowing.get("/metrics").await.text().await.unwrap();
    let errors = metrics
        .lines()
        .find(|l| {
            l.starts_with("flowrex_password_breach_checks_total")
                && l.contains("outcome=\"error\"")
                && l.contains("source=\"range-api\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(errors.ends_with(" 1"), "counted: {errors}");
    let refusing = app_with(&vars, &[("PASSWORD_BREACH_ON_ERROR", "refuse")]).await;
    let refused = refusing.register_with("b@example.com", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&refused, "retry-after"), Some("30"));
    assert_eq!(
        body(refused).await,
        json!({"detail": "Password check unavailable, try again later"})
    );

    // Slow: 5 s per answer, against a 300 ms bound.
    let slow = RangeServer::start(dir.path(), Duration::from_secs(5));
    let vars = api_vars(&slow);
    let bound = [("PASSWORD_BREACH_TIMEOUT_MS", "300")];
    let allowing = app_with(&vars, &bound).await;
    let started = Instant::now();
    let created = allowing.register_with("c@example.com", BREACHED).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the slow server did not hold the registration: {:?}",
        started.elapsed()
    );
    let refusing = app_with(
        &vars,
        &[
            ("PASSWORD_BREACH_TIMEOUT_MS", "300"),
            ("PASSWORD_BREACH_ON_ERROR", "refuse"),
        ],
    )
    .await;
    assert_eq!(
        refusing
            .register_with("d@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_reset_by_api_page_or_invitation_refuses_a_breached_password() {
    let dir = ranges();
    let smtp = PrivateSmtp::start();
    let vars = files_vars(&dir);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("EMAIL_RESEND_INTERVAL_SECONDS", "0"));
    let app = app_mailing_to(&smtp, &all).await;
    app.register_verified_and_login("cy@example.com").await;
    app.forgot("cy@example.com").await;
    let mail = mail_about(&smtp, "cy@example.com", "Reset").await;
    let token = mail.token().unwrap();
    assert_breached(
        app.reset_password(&token, BREACHED).await,
        "new_password",
        BREACHED,
    )
    .await;
    let page = app
        .client
        .post(app.url("/reset-password"))
        .form(&[
            ("token", token.as_str()),
            ("new_password", BREACHED),
            ("confirm_password", BREACHED),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = page.text().await.unwrap();
    assert!(html.contains("appears in a known data breach"), "{html}");
    assert!(!html.contains(BREACHED));
    // Nothing was spent or changed: the link still sets a good password.
    assert_eq!(
        app.login_status("cy@example.com", PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        app.reset_password(&token, "Another123").await.status(),
        StatusCode::OK
    );

    // An invitation's first password is set through the same reset.
    app.register_superuser("admin@example.com").await;
    let admin = app.sign_in("admin@example.com").await;
    let invited = app
        .post_as(
            "/api/v1/admin/users",
            access(&admin),
            &json!({"email": "invited@example.com"}),
        )
        .await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let invitation = mail_about(&smtp, "invited@example.com", "invited").await;
    assert_breached(
        app.reset_password(&invitation.token().unwrap(), BREACHED)
            .await,
        "new_password",
        BREACHED,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_breached_password_still_signs_in_and_is_noted_and_mailed_once() {
    let dir = ranges();
    // Set before the check was on.
    let unchecked = spawn_app_with(&[]).await;
    let created = unchecked.register_with("di@example.com", BREACHED).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let smtp = PrivateSmtp::start();
    let url = smtp.url();
    let vars = files_vars(&dir);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend([
        ("SMTP_URL", url.as_str()),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("EMAIL_RESEND_INTERVAL_SECONDS", "0"),
    ]);
    let checked = spawn_app_on_database(unchecked.database_url.clone(), &all).await;
    for _ in 0..3 {
        assert_eq!(
            checked.login_status("di@example.com", BREACHED).await,
            StatusCode::OK
        );
    }
    let mail = mail_about(&smtp, "di@example.com", "data breach").await;
    assert!(mail.text.contains("change"), "{}", mail.text);
    assert!(!mail.text.contains(BREACHED));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = smtp
        .messages_to("di@example.com")
        .into_iter()
        .filter(|m| m.subject.contains("data breach"))
        .count();
    assert_eq!(notices, 1, "told once");
    let noted = checked
        .query_string(
            "SELECT CAST(COUNT(*) AS CHAR(20)) AS v FROM audit_events WHERE action = 'password_breached_at_login'",
        )
        .await;
    assert_eq!(noted.trim(), "1");
}
