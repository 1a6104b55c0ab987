//! The `flowrex` binary as an operator runs it: configured only by its environment, from a
//! directory with nothing beside it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{BINARY, Running, spare_port};

/// The binary copied into `dir`, run there with exactly `vars` as its environment.
fn command_in(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let copy = dir.join("flowrex");
    std::fs::copy(BINARY, &copy).expect("copy binary");
    let mut command = Command::new(copy);
    command
        .current_dir(dir)
        .env_clear()
        .envs(vars.iter().copied());
    command
}

async fn wait_until_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/health")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become healthy within 20 s");
}

#[test]
fn production_without_a_jwt_secret_exits_non_zero_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = command_in(
        dir.path(),
        &[("APP_ENV", "production"), ("APP_SECRET_KEY", "a")],
    )
    .output()
    .expect("run");
    assert_eq!(output.status.code(), Some(2), "exit status");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("JWT_SECRET_KEY"),
        "names the variable: {stderr}"
    );
}

#[test]
fn a_bad_value_exits_non_zero_naming_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = command_in(dir.path(), &[("PORT", "eighty")])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PORT is invalid"));
}

#[tokio::test]
async fn a_copied_binary_configured_only_by_environment_migrates_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let port = spare_port().to_string();
    let _server = Running(
        command_in(
            dir.path(),
            &[
                // The original service's SQLAlchemy form; the file does not exist yet.
                ("DATABASE_URL", "sqlite+aiosqlite:///./flowrex.db"),
                ("JWT_SECRET_KEY", "binary-test-secret"),
                ("APP_SECRET_KEY", "binary-test-app-secret"),
                ("PORT", port.as_str()),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_until_healthy(&client, &base).await;
    assert!(
        dir.path().join("flowrex.db").is_file(),
        "the SQLite file is created"
    );

    let credentials = json!({"email": "ops@example.com", "password": "TestPass123"});
    let register = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(register.status().as_u16(), 201);
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    let root = client.get(&base).send().await.unwrap();
    assert_eq!(
        root.json::<serde_json::Value>().await.ok(),
        Some(json!({"message": "Flowrex API"}))
    );
}

/// The token of the first link after `marker` in the log at `path`, once the mail
/// delivery worker has logged it (within 10 s).
async fn logged_link_token(path: &Path, marker: &str) -> String {
    for _ in 0..100 {
        let logs = std::fs::read_to_string(path).unwrap_or_default();
        if let Some((_, after)) = logs.split_once(marker) {
            return after.chars().take_while(char::is_ascii_hexdigit).collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {marker} link in the log");
}

#[tokio::test]
async fn no_password_hash_token_or_secret_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let port = spare_port().to_string();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let jwt_secret = "jwt-secret-that-must-not-be-logged";
    let mut server = Running(
        command_in(
            dir.path(),
            &[
                ("DATABASE_URL", "sqlite://./flowrex.db"),
                ("JWT_SECRET_KEY", jwt_secret),
                ("APP_SECRET_KEY", "app-secret-that-must-not-be-logged"),
                ("PORT", port.as_str()),
                ("BCRYPT_COST", "4"),
                // As verbose as an operator would go: SQL statements and debug events.
                ("DEBUG", "true"),
                ("RUST_LOG", "debug"),
            ],
        )
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .user_agent("flowrex-log-test/1.0")
        .build()
        .unwrap();
    wait_until_healthy(&client, &base).await;

    let password = "Sup3rSecretPassw0rd";
    let credentials = json!({"email": "logs@example.com", "password": password});
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).json(&body).send()
    };
    assert_eq!(
        post("/api/v1/auth/register", credentials.clone())
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(201)
    );
    let bad = json!({"email": "logs@example.com", "password": "Wr0ngPassw0rdXyz"});
    assert_eq!(
        post("/api/v1/auth/login", bad)
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(401)
    );
    // Development mails go to the log: the verification link verifies the address (a way
    // to sign in is added below, which needs a verified one).
    let token = logged_link_token(&log_path, "verify-email?token=").await;
    assert_eq!(
        post(
            "/api/v1/auth/verify-email/confirm",
            json!({ "token": token })
        )
        .await
        .map(|r| r.status().as_u16())
        .ok(),
        Some(200)
    );
    let short = json!({"email": "x@example.com", "password": "sh0rtpw"});
    assert_eq!(
        post("/api/v1/auth/register", short)
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(422)
    );
    let tokens: serde_json::Value = post("/api/v1/auth/login", credentials)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let me = client
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(&access)
        .send()
        .await;
    assert_eq!(me.map(|r| r.status().as_u16()).ok(), Some(200));
    let refreshed = post("/api/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(refreshed.map(|r| r.status().as_u16()).ok(), Some(200));
    let forged = client
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth("forged.token.value")
        .send()
        .await;
    assert_eq!(forged.map(|r| r.status().as_u16()).ok(), Some(401));
    let new_password = "N3wSecretPassw0rd";
    let changed = client
        .post(format!("{base}/api/v1/auth/password/change"))
        .bearer_auth(&access)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await;
    assert_eq!(changed.map(|r| r.status().as_u16()).ok(), Some(200));

    // A second factor: its secret, recovery codes and mfa_token stay out of the logs too.
    let call = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&access)
            .json(&body)
            .send()
    };
    let enrolled: serde_json::Value = call(
        "/api/v1/auth/mfa/totp/enroll",
        json!({"current_password": new_password}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let totp_secret = enrolled["secret"].as_str().unwrap_or_default().to_owned();
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(totp_secret.clone())
            .to_bytes()
            .unwrap(),
        None,
        String::new(),
    )
    .generate_current()
    .unwrap();
    let activated: serde_json::Value =
        call("/api/v1/auth/mfa/totp/activate", json!({"code": code}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let recovery = activated["recovery_codes"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let challenged: serde_json::Value = post(
        "/api/v1/auth/login",
        json!({"email": "logs@example.com", "password": new_password}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let mfa_token = challenged["mfa_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let verified: serde_json::Value = post(
        "/api/v1/auth/mfa/verify",
        json!({"mfa_token": mfa_token, "recovery_code": recovery}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let strong_access = verified["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The failed login's audit event is written by a background batch.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let _ = server.0.kill();
    let _ = server.0.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        logs.contains("login succeeded"),
        "the server did log the requests:\n{logs}"
    );
    for action in [
        "user_registered",
        "login_failed",
        "login_succeeded",
        "password_changed",
        "mfa_activated",
        "recovery_code_used",
    ] {
        assert!(
            logs.lines()
                .any(|line| line.contains("flowrex::audit") && line.contains(action)),
            "the audit line of {action} is in the log"
        );
    }
    assert!(
        logs.lines().any(|line| line.contains("flowrex::audit")
            && line.contains("login_succeeded")
            && line.contains("flowrex-log-test/1.0")),
        "the audit line carries the user agent, as the stored event does"
    );
    for (what, secret) in [
        ("password", password),
        ("wrong password", "Wr0ngPassw0rdXyz"),
        ("rejected password", "sh0rtpw"),
        ("new password", new_password),
        ("bcrypt hash", "$2b$04$"),
        ("access token", access.as_str()),
        ("refresh token", refresh.as_str()),
        ("forged token", "forged.token.value"),
        ("JWT secret", jwt_secret),
        ("app secret", "app-secret-that-must-not-be-logged"),
        ("TOTP secret", totp_secret.as_str()),
        ("recovery code", recovery.as_str()),
        (
            "recovery code, undashed",
            recovery.replace('-', "").as_str(),
        ),
        ("mfa_token", mfa_token.as_str()),
        (
            "access token after the second factor",
            strong_access.as_str(),
        ),
    ] {
        assert!(
            !secret.is_empty() && !logs.contains(secret),
            "the {what} appears in the logs"
        );
    }
}
