//! The `flowrex` command line, run as an operator would.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{BINARY, Running, spare_port};

/// `flowrex args…` in `dir`, configured only by `vars`, with `stdin` as standard input.
fn flowrex(dir: &Path, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BINARY)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const BASE: [(&str, &str); 4] = [
    ("DATABASE_URL", "sqlite://./cli.db"),
    ("JWT_SECRET_KEY", "cli-test-secret"),
    ("APP_SECRET_KEY", "cli-test-app-secret"),
    ("BCRYPT_COST", "4"),
];

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["migrate", "up", "--help"],
        vec!["migrate", "down", "--help"],
        vec!["migrate", "status", "--help"],
        vec!["migrate", "fresh", "--help"],
        vec!["user", "--help"],
        vec!["user", "create", "--help"],
        vec!["user", "deactivate", "--help"],
        vec!["user", "superuser", "--help"],
        vec!["config", "--help"],
        vec!["password", "--help"],
        vec!["password", "check", "--help"],
        vec!["config", "check", "--help"],
    ] {
        let output = flowrex(dir.path(), &BASE, &args, "");
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn migrate_up_status_down_status() {
    let dir = tempfile::tempdir().unwrap();
    let up = flowrex(dir.path(), &BASE, &["migrate", "up"], "");
    assert!(up.status.success(), "{}", text(&up));
    let status = flowrex(dir.path(), &BASE, &["migrate", "status"], "");
    let listing = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(
        listing.lines().filter(|l| l.starts_with("Applied")).count(),
        14,
        "{listing}"
    );
    let down = flowrex(dir.path(), &BASE, &["migrate", "down", "--num", "14"], "");
    assert!(down.status.success(), "{}", text(&down));
    let status = flowrex(dir.path(), &BASE, &["migrate", "status"], "");
    let listing = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(
        listing.lines().filter(|l| l.starts_with("Pending")).count(),
        14,
        "{listing}"
    );
}

#[test]
fn config_check_prints_the_configuration_without_secrets_and_fails_on_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        (
            "DATABASE_URL",
            "postgresql+asyncpg://app:db-password@db/flowrex",
        ),
        ("JWT_SECRET_KEY", "jwt-secret-value"),
        ("APP_SECRET_KEY", "app-secret-value"),
    ];
    let output = flowrex(dir.path(), &vars, &["config", "check"], "");
    assert!(output.status.success(), "{}", text(&output));
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    for line in [
        "APP_ENV = development",
        "JWT_ALGORITHM = HS256",
        "PORT = 8000",
        "DATABASE_URL = postgres://app:***@db/flowrex",
    ] {
        assert!(printed.contains(line), "{line} in {printed}");
    }
    for secret in ["jwt-secret-value", "app-secret-value", "db-password"] {
        assert!(!printed.contains(secret), "{secret} printed");
    }
    let bad = flowrex(dir.path(), &[("PORT", "eighty")], &["config", "check"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("PORT is invalid"));
}

#[test]
fn an_unknown_key_in_a_settings_file_stops_config_check_and_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("default.toml"), "port = 0\nbcrypt_rounds = 5\n").unwrap();
    let vars: Vec<_> = BASE
        .iter()
        .copied()
        .chain([("CONFIG_DIR", "config")])
        .collect();
    for args in [&["config", "check"][..], &[][..]] {
        let output = flowrex(dir.path(), &vars, args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(
            text(&output).contains("default.toml: unknown setting `bcrypt_rounds`"),
            "{args:?}: {}",
            text(&output)
        );
    }
}

#[test]
fn config_check_refuses_what_start_up_would_refuse_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the check must not need the database or the relay.
    let offline = [("DATABASE_URL", "postgresql://app@127.0.0.1:1/flowrex")];
    for (vars, named) in [
        (vec![("WEBAUTHN_RP_ID", "127.0.0.1")], "WEBAUTHN_RP_ID"),
        (
            vec![("WEBAUTHN_ORIGINS", "not-an-origin")],
            "WEBAUTHN_ORIGINS",
        ),
        (
            vec![
                ("WEBAUTHN_RP_ID", "example.com"),
                ("WEBAUTHN_ORIGINS", "https://example.org"),
            ],
            "WEBAUTHN_ORIGINS",
        ),
    ] {
        let vars: Vec<_> = offline.iter().copied().chain(vars).collect();
        let output = flowrex(dir.path(), &vars, &["config", "check"], "");
        assert_eq!(output.status.code(), Some(2), "{vars:?}: {}", text(&output));
        assert!(text(&output).contains(named), "{vars:?}: {}", text(&output));
    }
    let fine = flowrex(
        dir.path(),
        &[
            offline[0],
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGINS", "https://app.example.com"),
        ],
        &["config", "check"],
        "",
    );
    assert!(fine.status.success(), "{}", text(&fine));
    // Start-up refuses the same, with the same status and line.
    let serve = flowrex(
        dir.path(),
        &[("WEBAUTHN_RP_ID", "127.0.0.1"), ("PORT", "0")],
        &[],
        "",
    );
    assert_eq!(serve.status.code(), Some(2), "{}", text(&serve));
    assert!(
        text(&serve).contains("flowrex: configuration error: WEBAUTHN_RP_ID"),
        "{}",
        text(&serve)
    );
}

async fn serve(dir: &Path) -> (Running, String) {
    let port = spare_port().to_string();
    let mut vars: Vec<(&str, &str)> = BASE.to_vec();
    vars.push(("PORT", port.as_str()));
    let server = Running(
        Command::new(BINARY)
            .current_dir(dir)
            .env_clear()
            .envs(vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

async fn login(base: &str, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_user_created_from_the_command_line_logs_in_and_a_deactivated_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let created = flowrex(
        dir.path(),
        &BASE,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--superuser",
        ],
        "Operat0rPass\n",
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(String::from_utf8_lossy(&created.stdout).contains("<ops@example.com> (superuser)"));
    let again = flowrex(
        dir.path(),
        &BASE,
        &["user", "create", "--email", "OPS@example.com"],
        "Operat0rPass\n",
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let weak = flowrex(
        dir.path(),
        &BASE,
        &["user", "create", "--email", "weak@example.com"],
        "short\n",
    );
    assert!(
        !weak.status.success() && text(&weak).contains("Password must be"),
        "{}",
        text(&weak)
    );
    assert!(
        !text(&weak).contains("short\n"),
        "the password is not echoed"
    );

    let (server, base) = serve(dir.path()).await;
    assert_eq!(login(&base, "ops@example.com", "Operat0rPass").await, 200);

    let deactivated = flowrex(
        dir.path(),
        &BASE,
        &["user", "deactivate", "--email", "ops@example.com"],
        "",
    );
    assert!(deactivated.status.success(), "{}", text(&deactivated));
    assert_eq!(login(&base, "ops@example.com", "Operat0rPass").await, 401);
    let unknown = flowrex(
        dir.path(),
        &BASE,
        &["user", "deactivate", "--email", "nobody@example.com"],
        "",
    );
    assert_eq!(unknown.status.code(), Some(1));
    drop(server);
}

#[test]
fn the_first_superuser_is_made_without_sql_and_the_last_one_cannot_be_revoked() {
    let dir = tempfile::tempdir().unwrap();
    for email in ["first@example.com", "second@example.com"] {
        let created = flowrex(
            dir.path(),
            &BASE,
            &["user", "create", "--email", email],
            "Operat0rPass\n",
        );
        assert!(created.status.success(), "{}", text(&created));
    }
    let made = flowrex(
        dir.path(),
        &BASE,
        &["user", "superuser", "first@example.com"],
        "",
    );
    assert!(made.status.success(), "{}", text(&made));
    assert!(
        text(&made).contains("first@example.com is now a superuser"),
        "{}",
        text(&made)
    );
    let last = flowrex(
        dir.path(),
        &BASE,
        &["user", "superuser", "FIRST@example.com", "--revoke"],
        "",
    );
    assert_eq!(last.status.code(), Some(1), "{}", text(&last));
    assert!(
        text(&last).contains("last active superuser"),
        "{}",
        text(&last)
    );
    let second = flowrex(
        dir.path(),
        &BASE,
        &["user", "superuser", "second@example.com"],
        "",
    );
    assert!(second.status.success(), "{}", text(&second));
    let revoked = flowrex(
        dir.path(),
        &BASE,
        &["user", "superuser", "first@example.com", "--revoke"],
        "",
    );
    assert!(revoked.status.success(), "{}", text(&revoked));
    assert!(
        text(&revoked).contains("no longer a superuser"),
        "{}",
        text(&revoked)
    );
    let unknown = flowrex(
        dir.path(),
        &BASE,
        &["user", "superuser", "nobody@example.com"],
        "",
    );
    assert_eq!(unknown.status.code(), Some(1));
}

#[tokio::test]
async fn sigterm_during_a_slow_login_lets_it_finish_and_exits_0() {
    graceful_stop("-TERM").await;
}

#[tokio::test]
async fn sigint_during_a_slow_login_lets_it_finish_and_exits_0() {
    graceful_stop("-INT").await;
}

async fn graceful_stop(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let created = flowrex(
        dir.path(),
        &BASE,
        &["user", "create", "--email", "slow@example.com"],
        "SlowLogin1\n",
    );
    assert!(created.status.success(), "{}", text(&created));
    let port = spare_port().to_string();
    let mut vars: Vec<(&str, &str)> = BASE.to_vec();
    // A costly hash, so that the login is still running when SIGTERM arrives.
    vars.retain(|(name, _)| *name != "BCRYPT_COST");
    vars.extend([
        ("PORT", port.as_str()),
        ("BCRYPT_COST", "12"),
        ("SHUTDOWN_GRACE_SECONDS", "30"),
    ]);
    let mut server = Command::new(BINARY)
        .current_dir(dir.path())
        .env_clear()
        .envs(vars)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending = tokio::spawn(async move { login(&base, "slow@example.com", "SlowLogin1").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let sent = Command::new("kill")
        .args([signal, &server.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()));
    assert_eq!(
        pending.await.unwrap_or_default(),
        200,
        "the in-flight login finishes"
    );
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit 0 after the graceful stop");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_graceful_stop_writes_the_throttled_logins_counted_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let created = flowrex(
        dir.path(),
        &BASE,
        &["user", "create", "--email", "flooded@example.com"],
        "Flooded123\n",
    );
    assert!(created.status.success(), "{}", text(&created));
    let port = spare_port().to_string();
    let mut vars: Vec<(&str, &str)> = BASE.to_vec();
    vars.extend([
        ("PORT", port.as_str()),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
    ]);
    let mut server = Command::new(BINARY)
        .current_dir(dir.path())
        .env_clear()
        .envs(vars)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One checked failure, then six refused unchecked in the window (15 minutes).
    let statuses = wrong_logins(&base).await;
    assert_eq!(statuses, [401, 429, 429, 429, 429, 429, 429]);
    let sent = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()));
    assert_eq!(server.wait().unwrap().code(), Some(0));
    let db =
        sea_orm::Database::connect(format!("sqlite://{}", dir.path().join("cli.db").display()))
            .await
            .unwrap();
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        &db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT action, details FROM audit_events \
             WHERE action IN ('login_failed', 'login_throttled') ORDER BY id",
        ),
    )
    .await
    .unwrap();
    let events: Vec<(String, serde_json::Value)> = rows
        .iter()
        .map(|row| {
            let action: String = row.try_get("", "action").unwrap();
            let details: String = row.try_get("", "details").unwrap();
            (action, serde_json::from_str(&details).unwrap())
        })
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "login_failed");
    assert_eq!(events[1].0, "login_throttled");
    assert_eq!(events[1].1["count"], 6);
    assert_eq!(events[1].1["scope"], "account");
}

/// Seven wrong-password logins of `flooded@example.com`, one after the other: their statuses.
async fn wrong_logins(base: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(login(base, "flooded@example.com", "Wrong1234").await);
    }
    statuses
}

#[test]
fn password_check_says_whether_a_password_is_in_the_configured_ranges() {
    use flowrex_infrastructure::test_support::ranges::{RangeServer, range_dir};
    let dir = tempfile::tempdir().unwrap();
    let ranges = range_dir(&[("Breached1", 42)], &["Padded123"]);
    let folder = ranges.path().display().to_string();
    let server = RangeServer::start(ranges.path(), Duration::ZERO);
    let url = server.url();
    let files: Vec<(&str, &str)> = BASE
        .iter()
        .copied()
        .chain([
            ("PASSWORD_BREACH_CHECK", "range-files"),
            ("PASSWORD_BREACH_RANGE_DIR", folder.as_str()),
        ])
        .collect();
    let api: Vec<(&str, &str)> = BASE
        .iter()
        .copied()
        .chain([
            ("PASSWORD_BREACH_CHECK", "range-api"),
            ("PASSWORD_BREACH_RANGE_URL", url.as_str()),
        ])
        .collect();
    for vars in [&files, &api] {
        let breached = flowrex(dir.path(), vars, &["password", "check"], "Breached1\n");
        assert_eq!(breached.status.code(), Some(1), "{}", text(&breached));
        assert!(
            text(&breached).contains("breached: found 42 times"),
            "{}",
            text(&breached)
        );
        assert!(!text(&breached).contains("Breached1"), "never echoed");
        // Only as padding (count 0): not a breach.
        let clean = flowrex(dir.path(), vars, &["password", "check"], "Padded123\n");
        assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
        assert!(
            text(&clean).contains("not breached: not found"),
            "{}",
            text(&clean)
        );
    }
    let off = flowrex(dir.path(), &BASE, &["password", "check"], "Breached1\n");
    assert_eq!(off.status.code(), Some(2), "{}", text(&off));
    assert!(text(&off).contains("PASSWORD_BREACH_CHECK is off"));
    drop(server);
    let down = flowrex(dir.path(), &api, &["password", "check"], "Breached1\n");
    assert_eq!(down.status.code(), Some(2), "{}", text(&down));
    assert!(text(&down).contains("could not answer"), "{}", text(&down));
}
