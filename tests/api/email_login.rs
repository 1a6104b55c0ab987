//! Sign-in by email over a real SMTP server (aiosmtpd on loopback, read back as MIME): the
//! link's page, whose `GET` never spends, and whose `POST` ends in the one-time exchange
//! code; the code; used, replaced and wrong codes; the uniform answer; second factors;
//! verifying; two instances on one database. `#[ignore]`d: `.ci/run` installs aiosmtpd and
//! runs them on SQLite, PostgreSQL and MariaDB.

use flowrex_infrastructure::test_support::smtp::{PrivateSmtp, Received};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, access, assert_detail, body, claims, header, spawn_app_on_database,
};
use crate::lifecycle::app_mailing_to;
use crate::mfa::code as totp_code;

const FRONT_END: &str = "http://localhost:3000/signed-in";
const REQUESTED: &str = "If the address can sign in, a sign-in link and code have been sent";

fn on(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("EMAIL_LOGIN_ENABLED", "true"),
        ("OAUTH_RETURN_URLS", FRONT_END),
        ("EMAIL_RESEND_INTERVAL_SECONDS", "0"),
    ];
    vars.extend_from_slice(extra);
    vars
}

async fn mailing(extra: &[(&'static str, &'static str)]) -> (PrivateSmtp, TestApp) {
    let smtp = PrivateSmtp::start();
    let app = app_mailing_to(&smtp, &on(extra)).await;
    (smtp, app)
}

impl TestApp {
    async fn ask_email_login(&self, email: &str) -> reqwest::Response {
        self.post_json("/api/v1/auth/email-login", &json!({ "email": email }))
            .await
    }

    async fn email_code(&self, email: &str, code: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/email-login/verify",
            &json!({ "email": email, "code": code }),
        )
        .await
    }

    /// The page's `POST` with `token`.
    async fn press_sign_in(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/email-login"))
            .form(&[("token", token)])
            .send()
            .await
            .expect("page post")
    }
}

/// The six-digit code of a sign-in mail.
fn code_of(mail: &Received) -> String {
    let at = mail.text.find("where you asked: ").expect("a code") + "where you asked: ".len();
    mail.text[at..].chars().take(6).collect()
}

/// The `n`-th (from 1) sign-in mail to `to`, once it arrived.
async fn nth_mail(smtp: &PrivateSmtp, to: &str, n: usize) -> Received {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = sign_in_mails(smtp, to).into_iter().nth(n - 1);
        if let Some(mail) = found {
            return mail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sign-in mail {n} to {to}: {:?}",
            smtp.messages_to(to)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The sign-in mails `to` received so far, oldest first.
fn sign_in_mails(smtp: &PrivateSmtp, to: &str) -> Vec<Received> {
    smtp.messages_to(to)
        .into_iter()
        .filter(|m| m.subject == "Your sign-in link")
        .collect()
}

/// The value of the `flowrex_oauth` cookie a response sets.
fn flow_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("flowrex_oauth="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
}

async fn assert_invalid_code(response: reqwest::Response) {
    assert_detail(response, StatusCode::UNAUTHORIZED, "Invalid code").await;
}

async fn amr(tokens: &Value) -> Value {
    claims(access(tokens))["amr"].clone()
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn the_link_page_spends_nothing_on_get_and_its_post_signs_in_once_by_the_exchange() {
    let (smtp, app) = mailing(&[]).await;
    app.register_verified_and_login("ada@example.com").await;
    let answer = app.ask_email_login("Ada@Example.com").await;
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    assert_eq!(body(answer).await, json!({ "message": REQUESTED }));
    let mail = nth_mail(&smtp, "ada@example.com", 1).await;
    let link = mail.link().expect("a link");
    assert!(
        link.starts_with(&format!("{}/email-login?token=", app.address)),
        "{link}"
    );
    assert_eq!(code_of(&mail).len(), 6);
    // A scanner (or the person) opens the link any number of times: nothing is spent.
    for _ in 0..3 {
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("sign in as ada@example.com"), "{html}");
        assert!(html.contains("<form method=\"post\""), "{html}");
    }
    let token = mail.token().unwrap();
    // Another site's form cannot sign a visitor in to an account of its choosing.
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let forged = app
            .client
            .post(app.url("/email-login"))
            .header(name, value)
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{name}");
    }
    let pressed = app.press_sign_in(&token).await;
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    let location = header(&pressed, "location").unwrap().to_owned();
    let code = location
        .strip_prefix(&format!("{FRONT_END}?code="))
        .unwrap_or_else(|| panic!("{location}"))
        .to_owned();
    assert!(flow_cookie(&pressed).is_some(), "the flow cookie");
    // Only the browser that pressed exchanges the code.
    let stranger = app
        .post_json("/api/v1/auth/oauth/exchange", &json!({ "code": code }))
        .await;
    assert_detail(stranger, StatusCode::BAD_REQUEST, "Invalid code").await;
    let pressed_again = app.press_sign_in(&token).await;
    assert_eq!(
        pressed_again.status(),
        StatusCode::BAD_REQUEST,
        "the link is spent"
    );
    // The stranger's try spent that exchange code: a new mail, and this time the browser.
    app.ask_email_login("ada@example.com").await;
    let mail = nth_mail(&smtp, "ada@example.com", 2).await;
    let pressed = app.press_sign_in(&mail.token().unwrap()).await;
    let location = header(&pressed, "location").unwrap().to_owned();
    let code = location.rsplit_once("code=").unwrap().1.to_owned();
    let cookie = flow_cookie(&pressed).expect("the flow cookie");
    let exchanged = app
        .client
        .post(app.url("/api/v1/auth/oauth/exchange"))
        .header("cookie", format!("flowrex_oauth={cookie}"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), StatusCode::OK);
    let tokens = body(exchanged).await;
    assert_eq!(amr(&tokens).await, json!(["email"]));
    let me = app.get_me(access(&tokens)).await;
    assert_eq!(me.status(), StatusCode::OK);
    // The link and the code are one sign-in: the code of the spent mail is dead.
    assert_invalid_code(app.email_code("ada@example.com", &code_of(&mail)).await).await;
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn the_code_signs_in_once_and_a_used_replaced_or_wrong_code_is_refused() {
    let (smtp, app) = mailing(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "20")]).await;
    app.register_verified_and_login("bo@example.com").await;
    app.ask_email_login("bo@example.com").await;
    let first = nth_mail(&smtp, "bo@example.com", 1).await;
    app.ask_email_login("bo@example.com").await;
    let second = nth_mail(&smtp, "bo@example.com", 2).await;
    // The newer mail replaced the older: its link and code are dead.
    assert_eq!(
        app.press_sign_in(&first.token().unwrap()).await.status(),
        StatusCode::BAD_REQUEST
    );
    if code_of(&first) != code_of(&second) {
        assert_invalid_code(app.email_code("bo@example.com", &code_of(&first)).await).await;
    }
    let wrong = if code_of(&second).starts_with('9') {
        "000000"
    } else {
        "999999"
    };
    assert_invalid_code(app.email_code("bo@example.com", wrong).await).await;
    assert_invalid_code(app.email_code("bo@example.com", "not a code").await).await;
    let signed_in = app.email_code("BO@example.com", &code_of(&second)).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let tokens = body(signed_in).await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(amr(&tokens).await, json!(["email"]));
    assert_invalid_code(app.email_code("bo@example.com", &code_of(&second)).await).await;
    assert_eq!(
        app.press_sign_in(&second.token().unwrap()).await.status(),
        StatusCode::BAD_REQUEST,
        "the code spent the link too"
    );
    // Five wrong codes end a mail.
    app.ask_email_login("bo@example.com").await;
    let third = nth_mail(&smtp, "bo@example.com", 3).await;
    let wrong = if code_of(&third).starts_with('9') {
        "000000"
    } else {
        "999999"
    };
    for _ in 0..5 {
        assert_invalid_code(app.email_code("bo@example.com", wrong).await).await;
    }
    assert_invalid_code(app.email_code("bo@example.com", &code_of(&third)).await).await;
    let audit = app
        .query_string(
            "SELECT CAST(COUNT(*) AS CHAR(20)) AS v FROM audit_events WHERE action = 'login_failed' AND details LIKE '%\"method\":\"email\"%'",
        )
        .await;
    // The replaced mail's code (when it differs), two wrong ones, five more.
    let expected = 7 + usize::from(code_of(&first) != code_of(&second));
    assert_eq!(
        audit.trim(),
        expected.to_string(),
        "each wrong code is a failed login, with its method"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn unknown_inactive_and_throttled_addresses_get_the_same_answer_and_no_mail() {
    let smtp = PrivateSmtp::start();
    let app = app_mailing_to(
        &smtp,
        &[
            ("EMAIL_LOGIN_ENABLED", "true"),
            ("OAUTH_RETURN_URLS", FRONT_END),
            ("EMAIL_RESEND_INTERVAL_SECONDS", "60"),
        ],
    )
    .await;
    app.register_verified_and_login("cy@example.com").await;
    app.register_verified_and_login("gone@example.com").await;
    app.execute_sql("UPDATE users SET is_active = false WHERE email = 'gone@example.com'")
        .await;
    let mut answers = Vec::new();
    for email in [
        "cy@example.com",
        "cy@example.com",
        "nobody@example.com",
        "gone@example.com",
    ] {
        let answer = app.ask_email_login(email).await;
        answers.push((answer.status(), body(answer).await));
    }
    for answer in &answers {
        assert_eq!(
            answer,
            &(StatusCode::ACCEPTED, json!({ "message": REQUESTED }))
        );
    }
    let mail = nth_mail(&smtp, "cy@example.com", 1).await;
    assert_eq!(code_of(&mail).len(), 6);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let count = |to: &str| sign_in_mails(&smtp, to).len();
    assert_eq!(count("cy@example.com"), 1, "the second was throttled");
    assert_eq!(count("nobody@example.com"), 0);
    assert_eq!(count("gone@example.com"), 0);
    assert_eq!(
        app.query_string(
            "SELECT CAST(COUNT(*) AS CHAR(20)) AS v FROM users WHERE email = 'nobody@example.com'"
        )
        .await
        .trim(),
        "0",
        "no account without EMAIL_LOGIN_CREATES_ACCOUNTS"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_second_factor_is_still_asked_and_an_unverified_address_becomes_verified() {
    let (smtp, app) = mailing(&[]).await;
    let tokens = app.register_verified_and_login("di@example.com").await;
    let (secret, _) = app.enable_totp(access(&tokens)).await;
    app.ask_email_login("di@example.com").await;
    let mail = nth_mail(&smtp, "di@example.com", 1).await;
    let half = app.email_code("di@example.com", &code_of(&mail)).await;
    assert_eq!(half.status(), StatusCode::FORBIDDEN);
    let half = body(half).await;
    assert_eq!(half["detail"], "mfa_required");
    assert!(half.get("access_token").is_none());
    let done = app
        .post_json(
            "/api/v1/auth/mfa/verify",
            &json!({ "mfa_token": half["mfa_token"], "code": totp_code(&secret, 1) }),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(amr(&body(done).await).await, json!(["email", "otp"]));

    // An address never verified: the sign-in proves it.
    app.register("fe@example.com").await;
    app.ask_email_login("fe@example.com").await;
    let mail = nth_mail(&smtp, "fe@example.com", 1).await;
    let signed_in = body(app.email_code("fe@example.com", &code_of(&mail)).await).await;
    let me = body(app.get_me(access(&signed_in)).await).await;
    assert_eq!(me["is_verified"], true);
    assert_eq!(
        app.login_status("fe@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the password chosen before the address was proven is gone"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn off_by_default_return_to_allow_listed_and_accounts_created_only_when_allowed() {
    let smtp = PrivateSmtp::start();
    let off = app_mailing_to(&smtp, &[]).await;
    assert_detail(
        off.ask_email_login("ed@example.com").await,
        StatusCode::NOT_FOUND,
        "Not Found",
    )
    .await;
    assert_detail(
        off.email_code("ed@example.com", "123456").await,
        StatusCode::NOT_FOUND,
        "Not Found",
    )
    .await;

    let (smtp, app) = mailing(&[("EMAIL_LOGIN_CREATES_ACCOUNTS", "true")]).await;
    let refused = app
        .post_json(
            "/api/v1/auth/email-login",
            &json!({ "email": "ed@example.com", "return_to": "https://evil.example/" }),
        )
        .await;
    assert_detail(refused, StatusCode::BAD_REQUEST, "return_to is not allowed").await;
    let answer = app.ask_email_login("new@example.com").await;
    assert_eq!(body(answer).await, json!({ "message": REQUESTED }));
    let mail = nth_mail(&smtp, "new@example.com", 1).await;
    let tokens = body(app.email_code("new@example.com", &code_of(&mail)).await).await;
    let me = body(app.get_me(access(&tokens)).await).await;
    assert_eq!(me["email"], "new@example.com");
    assert_eq!(me["is_verified"], true);
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_password_change_after_the_mail_ends_it_and_two_instances_share_one_sign_in() {
    let (smtp, first) = mailing(&[]).await;
    let second = spawn_app_on_database(
        first.database_url.clone(),
        &[
            ("EMAIL_LOGIN_ENABLED", "true"),
            ("OAUTH_RETURN_URLS", FRONT_END),
        ],
    )
    .await;
    let tokens = first.register_verified_and_login("gu@example.com").await;
    first.ask_email_login("gu@example.com").await;
    let mail = nth_mail(&smtp, "gu@example.com", 1).await;
    let changed = first
        .change_password(access(&tokens), PASSWORD, "Changed99")
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_invalid_code(second.email_code("gu@example.com", &code_of(&mail)).await).await;

    // Asked on one instance, used on the other: once.
    first.ask_email_login("gu@example.com").await;
    let mail = nth_mail(&smtp, "gu@example.com", 2).await;
    let used = second.email_code("gu@example.com", &code_of(&mail)).await;
    assert_eq!(used.status(), StatusCode::OK);
    assert_invalid_code(first.email_code("gu@example.com", &code_of(&mail)).await).await;
    assert_eq!(
        first.press_sign_in(&mail.token().unwrap()).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn wrong_codes_count_against_the_login_throttle_like_wrong_passwords() {
    let (smtp, app) = mailing(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5")]).await;
    app.register_verified_and_login("hu@example.com").await;
    app.ask_email_login("hu@example.com").await;
    let mail = nth_mail(&smtp, "hu@example.com", 1).await;
    let wrong = if code_of(&mail).starts_with('9') {
        "000000"
    } else {
        "999999"
    };
    for _ in 0..5 {
        assert_invalid_code(app.email_code("hu@example.com", wrong).await).await;
    }
    let refused = app.email_code("hu@example.com", wrong).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&refused, "retry-after").is_some());
    assert_eq!(
        app.login_status("hu@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the password login of the account is throttled too"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_front_end_takes_the_link_over_and_confirms_its_token_once() {
    let (smtp, app) = mailing(&[(
        "EMAIL_LOGIN_URL",
        "http://localhost:3000/email-login?token={token}",
    )])
    .await;
    app.register_verified_and_login("ja@example.com").await;
    app.ask_email_login("ja@example.com").await;
    let mail = nth_mail(&smtp, "ja@example.com", 1).await;
    let link = mail.link().unwrap();
    assert!(
        link.starts_with("http://localhost:3000/email-login?token="),
        "{link}"
    );
    let token = mail.token().unwrap();
    let confirmed = app
        .post_json(
            "/api/v1/auth/email-login/confirm",
            &json!({ "token": token }),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(amr(&body(confirmed).await).await, json!(["email"]));
    let again = app
        .post_json(
            "/api/v1/auth/email-login/confirm",
            &json!({ "token": token }),
        )
        .await;
    assert_detail(again, StatusCode::BAD_REQUEST, "Invalid or expired token").await;
    assert_invalid_code(app.email_code("ja@example.com", &code_of(&mail)).await).await;
}
