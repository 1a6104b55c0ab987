//! The account lifecycle over a real SMTP server (aiosmtpd on loopback, read back as
//! MIME): verification, forgotten and changed passwords, email change, deletion, the
//! uniform answers, the link pages. `#[ignore]`d where a server is needed (`.ci/run`
//! installs aiosmtpd and runs them); the rest runs everywhere.

use std::time::Duration;

use flowrex_infrastructure::test_support::smtp::{PrivateSmtp, Received};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, access, assert_already_registered, assert_detail, body, refresh,
    spawn_app_with,
};

pub(crate) const NEW_PASSWORD: &str = "Changed99";
const WAIT: Duration = Duration::from_secs(10);

/// A server mailing through `smtp`, delivering every 50 ms.
pub(crate) async fn app_mailing_to(smtp: &PrivateSmtp, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![
        ("SMTP_URL", url.as_str()),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("MAIL_FROM", "Flowrex Tests <robot@flowrex.test>"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// A fresh SMTP server and a server mailing through it.
pub(crate) async fn mailing(extra: &[(&str, &str)]) -> (PrivateSmtp, TestApp) {
    let smtp = PrivateSmtp::start();
    let app = app_mailing_to(&smtp, extra).await;
    (smtp, app)
}

pub(crate) const VERIFY_CONFIRM: &str = "/api/v1/auth/verify-email/confirm";

impl TestApp {
    /// `POST path {"token": token}`.
    pub(crate) async fn confirm(&self, path: &str, token: &str) -> Response {
        self.post_json(path, &json!({ "token": token })).await
    }

    /// `POST /password/forgot` for `email`.
    pub(crate) async fn forgot(&self, email: &str) -> Response {
        self.post_json("/api/v1/auth/password/forgot", &json!({ "email": email }))
            .await
    }

    /// `POST /password/reset` with a mailed token.
    pub(crate) async fn reset_password(&self, token: &str, new_password: &str) -> Response {
        let reset = json!({"token": token, "new_password": new_password});
        self.post_json("/api/v1/auth/password/reset", &reset).await
    }

    /// `POST /password/change` as the holder of `bearer`.
    pub(crate) async fn change_password(
        &self,
        bearer: &str,
        current: &str,
        new_password: &str,
    ) -> Response {
        let change = json!({"current_password": current, "new_password": new_password});
        self.post_as("/api/v1/auth/password/change", bearer, &change)
            .await
    }

    /// `POST /email/change` as the holder of `bearer`.
    pub(crate) async fn change_email(
        &self,
        bearer: &str,
        new_email: &str,
        current: &str,
    ) -> Response {
        let change = json!({"new_email": new_email, "current_password": current});
        self.post_as("/api/v1/auth/email/change", bearer, &change)
            .await
    }

    /// `DELETE /me` as the holder of `bearer`, confirmed with `current`.
    pub(crate) async fn delete_me(&self, bearer: &str, current: &str) -> Response {
        self.send(
            reqwest::Method::DELETE,
            "/api/v1/auth/me",
            Some(bearer),
            Some(&json!({ "current_password": current })),
        )
        .await
    }
}

/// Asserts that the login `refused` is refused (401) and the login `accepted` works.
async fn assert_login_moved(app: &TestApp, refused: (&str, &str), accepted: (&str, &str)) {
    assert_eq!(
        app.login_status(refused.0, refused.1).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_status(accepted.0, accepted.1).await,
        StatusCode::OK
    );
}

/// Asserts the answer to a wrong current password: 400 `Current password is incorrect`.
pub(crate) async fn assert_wrong_current_password(response: Response) {
    assert_detail(
        response,
        StatusCode::BAD_REQUEST,
        "Current password is incorrect",
    )
    .await;
}

/// Asserts the answer to a used, expired, garbled or foreign link token: 400 `Invalid or
/// expired token`.
pub(crate) async fn assert_invalid_link(response: Response) {
    assert_detail(
        response,
        StatusCode::BAD_REQUEST,
        "Invalid or expired token",
    )
    .await;
}

async fn one_mail(smtp: &PrivateSmtp, to: &str, subject_has: &str) -> Received {
    let received = smtp.wait_for(to, 1, WAIT).await;
    let found = received
        .iter()
        .find(|m| m.subject.contains(subject_has))
        .cloned();
    found.unwrap_or_else(|| panic!("no mail to {to} about {subject_has:?}: {received:?}"))
}

/// Waits until a mail to `to` whose subject has `subject_has` arrives.
pub(crate) async fn mail_about(smtp: &PrivateSmtp, to: &str, subject_has: &str) -> Received {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = smtp
            .messages_to(to)
            .into_iter()
            .find(|m| m.subject.contains(subject_has));
        if let Some(mail) = found {
            return mail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail to {to} about {subject_has:?}: {:?}",
            smtp.messages_to(to)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn register_mails_a_link_that_verifies_once() {
    let (smtp, app) = mailing(&[]).await;
    let user = app.register("Ada@Example.com").await;
    assert_eq!(user["is_verified"], false);
    let mail = one_mail(&smtp, "Ada@example.com", "Verify").await;
    assert_eq!(mail.from, "robot@flowrex.test");
    let link = mail.link().expect("a link");
    let token = mail.token().expect("a token");
    assert!(token.len() >= 43, "at least 32 random bytes: {token}");
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", app.address)),
        "the service's own page by default: {link}"
    );
    assert!(mail.html.contains(&token), "the HTML part has the link too");

    // Another purpose's route, and a garbled token, are refused before any use.
    let reset = app.reset_password(&token, NEW_PASSWORD).await;
    assert_invalid_link(reset).await;
    for garbled in ["", "nope", &token[1..], &format!("{token}0")] {
        let response = app.confirm(VERIFY_CONFIRM, garbled).await;
        assert_invalid_link(response).await;
    }

    let confirmed = app.confirm(VERIFY_CONFIRM, &token).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed = body(confirmed).await;
    assert_eq!(confirmed["is_verified"], true);
    assert_eq!(confirmed["email"], "Ada@example.com");
    let again = app.confirm(VERIFY_CONFIRM, &token).await;
    assert_invalid_link(again).await;
    let tokens = body(app.login("ada@example.com", PASSWORD).await).await;
    assert_eq!(
        body(app.get_me(access(&tokens)).await).await["is_verified"],
        true
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_reset_ends_every_session_and_only_the_new_password_works() {
    let (smtp, app) = mailing(&[]).await;
    let first = app.register_and_login("reset@example.com").await;
    let second = app.sign_in("reset@example.com").await;

    let forgot = app.forgot("RESET@example.com").await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let mail = mail_about(&smtp, "reset@example.com", "Reset").await;
    let token = mail.token().expect("token");

    let weak = app.reset_password(&token, "weak").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let weak = body(weak).await;
    assert_eq!(weak["detail"][0]["loc"], json!(["body", "new_password"]));
    assert!(weak["detail"][0].get("input").is_none(), "never echoed");

    let reset = app.reset_password(&token, NEW_PASSWORD).await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert!(body(reset).await["message"].is_string());

    for tokens in [&first, &second] {
        app.assert_session_ended(tokens).await;
    }
    assert_eq!(
        app.login_status("reset@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login("reset@example.com", NEW_PASSWORD).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh = body(fresh).await;
    assert_eq!(
        body(app.get_me(access(&fresh)).await).await["is_verified"],
        true,
        "the link reached the address"
    );
    mail_about(&smtp, "reset@example.com", "password was reset").await;
    let used = app.reset_password(&token, "Another123").await;
    assert_eq!(used.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_password_change_keeps_the_callers_session_and_ends_the_others() {
    let (smtp, app) = mailing(&[]).await;
    let caller = app.register_and_login("change@example.com").await;
    let other = app.sign_in("change@example.com").await;

    let wrong = app
        .change_password(access(&caller), "Wrong1234", NEW_PASSWORD)
        .await;
    assert_wrong_current_password(wrong).await;
    let changed = app
        .change_password(access(&caller), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(app.get_me(access(&caller)).await.status(), StatusCode::OK);
    let refreshed = app.post_refresh(refresh(&caller)).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the caller's session goes on"
    );
    app.assert_session_ended(&other).await;
    assert_login_moved(
        &app,
        ("change@example.com", PASSWORD),
        ("change@example.com", NEW_PASSWORD),
    )
    .await;
    mail_about(&smtp, "change@example.com", "password was changed").await;
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn wrong_current_passwords_count_as_failed_logins() {
    let (_smtp, app) = mailing(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await;
    let caller = app.register_and_login("guess@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app
            .change_password(access(&caller), "Guess1234", NEW_PASSWORD)
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [400, 400, 400, 429]);
    assert_eq!(
        app.login_status("guess@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same count as logins"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn an_email_change_moves_the_login_only_when_confirmed() {
    let (smtp, app) = mailing(&[]).await;
    let caller = app.register_and_login("old@example.com").await;
    app.register("taken@example.com").await;

    let taken = app
        .change_email(access(&caller), "Taken@Example.com", PASSWORD)
        .await;
    assert_already_registered(taken).await;
    let wrong = app
        .change_email(access(&caller), "new@example.com", "Wrong1234")
        .await;
    assert_wrong_current_password(wrong).await;
    let asked = app
        .change_email(access(&caller), "new@example.com", PASSWORD)
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let link = mail_about(&smtp, "new@example.com", "Confirm").await;
    let notice = mail_about(&smtp, "old@example.com", "change").await;
    assert!(notice.text.contains("new@example.com"), "{}", notice.text);
    assert!(notice.token().is_none(), "the old address gets no link");
    assert_eq!(
        app.login_status("old@example.com", PASSWORD).await,
        StatusCode::OK,
        "nothing changes before the confirmation"
    );

    let token = link.token().expect("token");
    let confirmed = app.confirm("/api/v1/auth/email/confirm", &token).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed = body(confirmed).await;
    assert_eq!(confirmed["email"], "new@example.com");
    assert_eq!(confirmed["is_verified"], true);
    assert_login_moved(
        &app,
        ("old@example.com", PASSWORD),
        ("new@example.com", PASSWORD),
    )
    .await;
    let verify_route = app.confirm(VERIFY_CONFIRM, &token).await;
    assert_eq!(verify_route.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_deleted_account_is_gone_and_its_address_registers_again() {
    let (smtp, app) = mailing(&[]).await;
    let caller = app.register_and_login("leave@example.com").await;
    let wrong = app.delete_me(access(&caller), "Wrong1234").await;
    assert_wrong_current_password(wrong).await;
    let deleted = app.delete_me(access(&caller), PASSWORD).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    app.assert_session_ended(&caller).await;
    assert_eq!(
        app.login_status("leave@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    mail_about(&smtp, "leave@example.com", "deleted").await;
    app.register("leave@example.com").await;
}

/// The status and body of `POST path {"email": email}`.
async fn answer(app: &TestApp, path: &str, email: &str) -> (u16, Value) {
    let response = app.post_json(path, &json!({ "email": email })).await;
    (response.status().as_u16(), body(response).await)
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn forgot_and_verify_requests_answer_alike_for_every_address() {
    let (smtp, app) = mailing(&[]).await;
    app.register("real@example.com").await;
    app.register("inactive@example.com").await;
    app.execute_sql("UPDATE users SET is_active = false WHERE email = 'inactive@example.com'")
        .await;
    app.register_and_login("verified@example.com").await;
    // Verification mails of the registrations, then one link each at most per minute.
    mail_about(&smtp, "real@example.com", "Verify").await;
    let verified = mail_about(&smtp, "verified@example.com", "Verify").await;
    let confirmed = app
        .confirm(VERIFY_CONFIRM, &verified.token().unwrap())
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);

    let forgot = "/api/v1/auth/password/forgot";
    let reference = answer(&app, forgot, "real@example.com").await;
    assert_eq!(reference.0, 202);
    for email in [
        "nobody@example.com",
        "inactive@example.com",
        "real@example.com", // within the resend interval: no second mail
    ] {
        assert_eq!(answer(&app, forgot, email).await, reference, "{email}");
    }
    let verify = "/api/v1/auth/verify-email/request";
    let reference = answer(&app, verify, "nobody@example.com").await;
    assert_eq!(reference.0, 202);
    for email in [
        "real@example.com", // its registration's link went out moments ago
        "inactive@example.com",
        "verified@example.com",
    ] {
        assert_eq!(answer(&app, verify, email).await, reference, "{email}");
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let subjects = |to: &str| -> Vec<String> {
        smtp.messages_to(to)
            .into_iter()
            .map(|m| m.subject)
            .collect()
    };
    assert_eq!(subjects("nobody@example.com"), Vec::<String>::new());
    assert_eq!(
        subjects("inactive@example.com").len(),
        1,
        "its registration mail only"
    );
    assert_eq!(
        subjects("verified@example.com").len(),
        1,
        "its registration mail only"
    );
    let real = subjects("real@example.com");
    assert_eq!(real.len(), 2, "one verification, one reset: {real:?}");
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_signed_in_user_asks_for_a_new_link_which_replaces_the_old() {
    let (smtp, app) = mailing(&[("EMAIL_RESEND_INTERVAL_SECONDS", "0")]).await;
    let tokens = app.register_and_login("again@example.com").await;
    let first = mail_about(&smtp, "again@example.com", "Verify").await;
    let asked = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/verify-email/request",
            Some(access(&tokens)),
            None,
        )
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let received = smtp.wait_for("again@example.com", 2, WAIT).await;
    assert_eq!(received.len(), 2);
    let (old, new) = (first.token().unwrap(), received[1].token().unwrap());
    assert_ne!(old, new);
    let stale = app.confirm(VERIFY_CONFIRM, &old).await;
    assert_eq!(
        stale.status(),
        StatusCode::BAD_REQUEST,
        "a newer link replaced it"
    );
    let fresh = app.confirm(VERIFY_CONFIRM, &new).await;
    assert_eq!(fresh.status(), StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn of_two_concurrent_confirmations_exactly_one_succeeds() {
    let (smtp, app) = mailing(&[]).await;
    app.register("race@example.com").await;
    app.forgot("race@example.com").await;
    let token = mail_about(&smtp, "race@example.com", "Reset")
        .await
        .token()
        .unwrap();
    let attempts = (0..8).map(|i| {
        let body = json!({"token": token, "new_password": format!("Racing{i}99")});
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/password/reset", &body)
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(attempts).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn opening_a_link_page_uses_nothing_and_its_form_does() {
    let (smtp, app) = mailing(&[]).await;
    app.register("page@example.com").await;
    let mail = mail_about(&smtp, "page@example.com", "Verify").await;
    let link = mail.link().unwrap();
    for _ in 0..3 {
        // A mail scanner, a link preview, the person: GET shows the form only.
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()["content-type"].to_str().unwrap(),
            "text/html; charset=utf-8"
        );
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let html = page.text().await.unwrap();
        assert!(html.contains("<form method=\"post\""), "{html}");
        assert!(!html.contains("<script"), "no script");
    }
    let token = mail.token().unwrap();
    let posted = app
        .client
        .post(app.url("/verify-email"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    assert!(posted.text().await.unwrap().contains("is verified"));
    let again = app.client.get(&link).send().await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "used: the page says so"
    );
    let garbled = app.get("/reset-password?token=%3Cscript%3E").await;
    assert_eq!(garbled.status(), StatusCode::BAD_REQUEST);
    assert!(!garbled.text().await.unwrap().contains("<script>"));
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_front_end_takes_the_links_over_by_configuration() {
    let smtp = PrivateSmtp::start();
    let app = app_mailing_to(
        &smtp,
        &[
            (
                "RESET_PASSWORD_URL",
                "http://localhost:3000/reset?token={token}",
            ),
            ("VERIFY_EMAIL_URL", "http://localhost:3000/verify/{token}"),
        ],
    )
    .await;
    app.register("front@example.com").await;
    let verify = mail_about(&smtp, "front@example.com", "Verify").await;
    assert!(
        verify
            .link()
            .unwrap()
            .starts_with("http://localhost:3000/verify/"),
        "{}",
        verify.text
    );
    app.forgot("front@example.com").await;
    let reset = mail_about(&smtp, "front@example.com", "Reset").await;
    assert!(
        reset
            .link()
            .unwrap()
            .starts_with("http://localhost:3000/reset?token=")
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn with_verification_required_an_unverified_account_cannot_log_in() {
    let (smtp, app) = mailing(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    app.register("strict@example.com").await;
    assert_detail(
        app.login("strict@example.com", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "Email not verified",
    )
    .await;
    assert_eq!(
        app.login_status("strict@example.com", "Wrong1234").await,
        StatusCode::UNAUTHORIZED
    );
    let token = mail_about(&smtp, "strict@example.com", "Verify")
        .await
        .token()
        .unwrap();
    app.confirm(VERIFY_CONFIRM, &token).await;
    assert_eq!(
        app.login_status("strict@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_queued_link_is_sealed_at_rest_and_a_sent_body_is_deleted() {
    let mut smtp = PrivateSmtp::start();
    smtp.stop();
    let app = app_mailing_to(&smtp, &[]).await;
    app.register("sealed@example.com").await;
    let payload = app
        .query_string("SELECT payload AS v FROM outbox ORDER BY id LIMIT 1")
        .await;
    assert!(payload.starts_with("v1:"), "{payload}");
    assert!(!payload.contains("sealed@example.com"));
    smtp.resume();
    let mail = smtp
        .wait_for("sealed@example.com", 1, Duration::from_secs(30))
        .await;
    assert_eq!(mail.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = app
        .query_string(
            "SELECT CAST(COUNT(*) AS CHAR) AS v FROM outbox WHERE payload IS NOT NULL OR sent_at IS NULL",
        )
        .await;
    assert_eq!(left, "0");
}

// ---- without a mail server -----------------------------------------------------------

#[tokio::test]
async fn without_smtp_outside_development_the_mailing_flows_answer_503() {
    let app = spawn_app_with(&[]).await;
    let user = app.register_and_login("nomail@example.com").await;
    for (path, body) in [
        (
            "/api/v1/auth/password/forgot",
            json!({"email": "nomail@example.com"}),
        ),
        (
            "/api/v1/auth/verify-email/request",
            json!({"email": "nomail@example.com"}),
        ),
    ] {
        assert_detail(
            app.post_json(path, &body).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "Mail delivery is not configured",
        )
        .await;
    }
    let change = app
        .change_email(access(&user), "x@example.com", PASSWORD)
        .await;
    assert_eq!(change.status(), StatusCode::SERVICE_UNAVAILABLE);
    // What needs no link still works.
    let changed = app
        .change_password(access(&user), PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
}

#[tokio::test]
async fn patch_me_changes_the_name_only_and_names_any_other_field() {
    let app = spawn_app_with(&[]).await;
    let user = app.register_and_login("patch@example.com").await;
    let patch = |body: Value| {
        let app = &app;
        let token = access(&user).to_owned();
        async move {
            app.send(
                reqwest::Method::PATCH,
                "/api/v1/auth/me",
                Some(&token),
                Some(&body),
            )
            .await
        }
    };
    let named = patch(json!({"full_name": "Ada Lovelace"})).await;
    assert_eq!(named.status(), StatusCode::OK);
    assert_eq!(body(named).await["full_name"], "Ada Lovelace");
    let rejected =
        patch(json!({"full_name": "X", "email": "evil@example.com", "is_superuser": true})).await;
    assert_eq!(rejected.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = body(rejected).await["detail"].clone();
    let locs: Vec<Value> = detail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        [json!(["body", "email"]), json!(["body", "is_superuser"])]
    );
    assert_eq!(detail[0]["type"], "extra_forbidden");
    let cleared = patch(json!({"full_name": null})).await;
    assert_eq!(body(cleared).await["full_name"], Value::Null);
    let me = body(app.get_me(access(&user)).await).await;
    assert_eq!(me["email"], "patch@example.com", "nothing else changed");
    assert_eq!(
        patch(json!({"full_name": "x".repeat(256)})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn an_expired_link_is_refused_like_a_used_one() {
    let (smtp, app) = mailing(&[]).await;
    app.register("late@example.com").await;
    let token = mail_about(&smtp, "late@example.com", "Verify")
        .await
        .token()
        .unwrap();
    app.execute_sql("UPDATE one_time_tokens SET expires_at = created_at")
        .await;
    assert_invalid_link(app.confirm(VERIFY_CONFIRM, &token).await).await;
    let page = app.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(
        page.status(),
        StatusCode::BAD_REQUEST,
        "the page says so too"
    );
}
