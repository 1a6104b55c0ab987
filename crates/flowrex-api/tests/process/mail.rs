//! Mail as an operator and a person meet it, on the release-like binary and a real SMTP
//! server (aiosmtpd on loopback): a server killed between a request and its mail's
//! delivery sends it once after a restart; an SMTP server down for 30 seconds delays mail
//! and fails no request; and a real headless Chromium walks the link pages in production
//! mode (the CSRF rule on): register → mail → verify page → button, and forgot → mail →
//! reset page → the new password twice → login. `#[ignore]`d by default; `.ci/run`
//! installs aiosmtpd and Chromium and runs them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flowrex_infrastructure::test_support::smtp::PrivateSmtp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{BINARY, Running, browser, screenshot, spare_port, start_quiet};

const PASSWORD: &str = "Mail1234";

/// The binary on `port`, over the SQLite file in `dir`, mailing through `smtp_url`.
fn start(dir: &Path, port: u16, smtp_url: &str, extra: &[(&str, &str)]) -> Running {
    let database = format!("sqlite://{}", dir.join("mail.db").display());
    start_quiet(
        Command::new(BINARY)
            .env_clear()
            .envs([
                ("APP_ENV", "test"),
                ("PORT", &port.to_string()),
                ("DATABASE_URL", &database),
                ("JWT_SECRET_KEY", "mail-test-secret"),
                ("APP_SECRET_KEY", "mail-test-app-secret"),
                ("BCRYPT_COST", "4"),
                ("SMTP_URL", smtp_url),
                ("RUST_LOG", "warn"),
            ])
            .envs(extra.iter().copied()),
        dir,
        port,
    )
}

async fn post(base: &str, path: &str, body: &Value) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("X-CSRF-Token", "1")
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn register_and_forget(base: &str, email: &str) {
    let credentials = json!({"email": email, "password": PASSWORD});
    assert_eq!(
        post(base, "/api/v1/auth/register", &credentials).await,
        StatusCode::CREATED
    );
    assert_eq!(
        post(
            base,
            "/api/v1/auth/password/forgot",
            &json!({ "email": email })
        )
        .await,
        StatusCode::ACCEPTED
    );
}

/// The subjects of the mails each of `recipients` got.
fn subjects(smtp: &PrivateSmtp, recipients: &[String]) -> Vec<Vec<String>> {
    recipients
        .iter()
        .map(|to| {
            let mut subjects: Vec<String> = smtp
                .messages_to(to)
                .into_iter()
                .map(|m| m.subject)
                .collect();
            subjects.sort();
            subjects
        })
        .collect()
}

fn both_mails() -> Vec<String> {
    vec![
        "Reset your password".to_owned(),
        "Verify your email address".to_owned(),
    ]
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_server_killed_before_sending_delivers_each_mail_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = PrivateSmtp::start();
    let port = spare_port();
    let base = format!("http://127.0.0.1:{port}");
    // The worker looks at start-up, then not for an hour: what the requests queue waits.
    let mut server = start(
        dir.path(),
        port,
        &smtp.url(),
        &[("MAIL_POLL_INTERVAL_MS", "3600000")],
    );
    let recipients: Vec<String> = (0..3).map(|n| format!("killed{n}@example.com")).collect();
    for email in &recipients {
        register_and_forget(&base, email).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.messages().is_empty(), "nothing sent before the kill");
    server.0.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.0.wait().unwrap();
    drop(server);

    let _restarted = start(
        dir.path(),
        port,
        &smtp.url(),
        &[("MAIL_POLL_INTERVAL_MS", "100")],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while smtp.messages().len() < 6 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        subjects(&smtp, &recipients),
        vec![both_mails(); 3],
        "each mail exactly once"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn an_smtp_server_down_for_30_seconds_delays_mail_and_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut smtp = PrivateSmtp::stopped();
    let port = spare_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = start(
        dir.path(),
        port,
        &smtp.url(),
        &[("MAIL_POLL_INTERVAL_MS", "200")],
    );
    let recipients: Vec<String> = (0..5).map(|n| format!("down{n}@example.com")).collect();
    let down_since = Instant::now();
    for email in &recipients {
        register_and_forget(&base, email).await;
    }
    // Requests keep working while mail cannot go out.
    while down_since.elapsed() < Duration::from_secs(30) {
        let login = post(
            &base,
            "/api/v1/auth/login",
            &json!({"email": recipients[0], "password": PASSWORD}),
        )
        .await;
        assert_eq!(login, StatusCode::OK);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("flowrex_mail_queued 10"), "all ten wait");
    smtp.resume();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(90);
    while smtp.messages().len() < 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "all mail delivered {:?} after the SMTP server came back",
        back.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(subjects(&smtp, &recipients), vec![both_mails(); 5]);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("flowrex_mail_queued 0"), "{metrics}");
    assert!(metrics.contains("flowrex_mail_sent_total 10"), "{metrics}");
    assert!(
        !metrics.contains("flowrex_mail_retried_total 0\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs aiosmtpd and Debian's chromium; run by .ci/run"]
async fn a_person_verifies_and_resets_through_the_pages_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = PrivateSmtp::start();
    let port = spare_port();
    let base = format!("http://127.0.0.1:{port}");
    // Production: the CSRF rule applies to every POST, the pages' forms included.
    let _server = start(
        dir.path(),
        port,
        &smtp.url(),
        &[("APP_ENV", "production"), ("MAIL_POLL_INTERVAL_MS", "100")],
    );
    let email = "person@example.com";
    assert_eq!(
        post(
            &base,
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD})
        )
        .await,
        StatusCode::CREATED
    );
    let verify = smtp.wait_for(email, 1, Duration::from_secs(10)).await;
    let verify_link = verify
        .first()
        .and_then(|m| m.link())
        .expect("verification mail");

    let profile = dir.path().join("profile");
    let new_password = "Browser987";
    let reset_link = {
        let smtp = &smtp;
        let base = base.clone();
        async move {
            assert_eq!(
                post(
                    &base,
                    "/api/v1/auth/password/forgot",
                    &json!({ "email": email })
                )
                .await,
                StatusCode::ACCEPTED
            );
            let mails = smtp.wait_for(email, 2, Duration::from_secs(10)).await;
            mails
                .iter()
                .find(|m| m.subject == "Reset your password")
                .and_then(|m| m.link())
                .expect("reset mail")
        }
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (verified_text, reset_text) = {
        let browser = browser(&profile);
        let tab = browser.new_tab().unwrap();
        tab.navigate_to(&verify_link).unwrap();
        tab.wait_until_navigated().unwrap();
        screenshot(&tab, &shots.join("verify-page.png"));
        tab.wait_for_element("button").unwrap().click().unwrap();
        tab.wait_until_navigated().unwrap();
        let verified_text = tab
            .wait_for_element("main")
            .unwrap()
            .get_inner_text()
            .unwrap();

        let reset_link = reset_link.await;
        tab.navigate_to(&reset_link).unwrap();
        tab.wait_until_navigated().unwrap();
        tab.wait_for_element("#new_password")
            .unwrap()
            .click()
            .unwrap();
        tab.type_str(new_password).unwrap();
        tab.wait_for_element("#confirm_password")
            .unwrap()
            .click()
            .unwrap();
        tab.type_str(new_password).unwrap();
        screenshot(&tab, &shots.join("reset-page.png"));
        tab.wait_for_element("button").unwrap().click().unwrap();
        tab.wait_until_navigated().unwrap();
        let reset_text = tab
            .wait_for_element("main")
            .unwrap()
            .get_inner_text()
            .unwrap();
        (verified_text, reset_text)
    };
    println!("screenshots: {}", shots.display());
    assert!(verified_text.contains("is verified"), "{verified_text}");
    assert!(reset_text.contains("password is changed"), "{reset_text}");

    let login = |password: &'static str| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(login(PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let fresh = login(new_password).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let tokens: Value = fresh.json().await.unwrap();
    let me: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["is_verified"], true);
}
