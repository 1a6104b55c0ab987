//! A flood of failed logins against the audit trail: starts the real server (release
//! build, SQLite) and sends 4,000 wrong-password logins, 32 at a time, for an existing
//! account — its 5 checked failures are `login_failed` events, the 3,995 that the throttle
//! refuses unchecked are only counted (one `login_throttled` event when the window ends) —
//! and then as many for an unknown address, which records nothing. The audit trail must not
//! be the bottleneck: the first flood's rate must be at least 80% of the second's, and
//! exactly the 5 checked failures are stored, one row each.
//!
//! `cargo bench -p flowrex-tests --bench audit_flood`. Exits non-zero when a bound is
//! missed.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use migration::sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

const ATTEMPTS: usize = 4_000;
const CONCURRENCY: usize = 32;

/// `ATTEMPTS` wrong-password logins for `email`; the rate and how many were 429.
async fn flood(client: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<(f64, usize)> {
    let url = Arc::new(format!("{base}/api/v1/auth/login"));
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..ATTEMPTS)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            async move {
                client
                    .post(url.as_str())
                    .json(&json!({"email": email, "password": "Wrong1234"}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let rate = ATTEMPTS as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "unexpected answers"
    );
    Ok((rate, statuses.iter().filter(|s| **s == 429).count()))
}

async fn run() -> anyhow::Result<bool> {
    let dir = tempfile::tempdir()?;
    let url = support::sqlite_url(dir.path());
    let base = support::start(
        &url,
        &[
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"),
            ("LOGIN_MAX_FAILURES_PER_IP", "0"),
        ],
    )
    .await?;
    let client = reqwest::Client::new();
    support::register(&client, &base, "target@example.com").await?;

    let (audited, audited_429) = flood(&client, &base, "target@example.com").await?;
    let (plain, plain_429) = flood(&client, &base, "ghost@example.com").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let db = Database::connect(url.as_str()).await?;
    let stored: i64 = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'login_failed'",
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or_default();
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let dropped = metrics
        .lines()
        .find(|l| l.starts_with("flowrex_audit_dropped_total "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned();
    let ratio = audited / plain;
    let rate_ok = ratio >= 0.8;
    let stored_ok = stored == 5;
    println!("{ATTEMPTS} failed logins, {CONCURRENCY} at a time (SQLite, this machine)");
    println!("  existing account (audited): {audited:>8.0} req/s, {audited_429} × 429");
    println!("  unknown address (no event): {plain:>8.0} req/s, {plain_429} × 429");
    println!(
        "  ratio {ratio:.2} (bound ≥ 0.80: {}); login_failed events stored {stored} (the 5 checked: {}); dropped {dropped}",
        if rate_ok { "ok" } else { "MISSED" },
        if stored_ok { "ok" } else { "MISSED" }
    );
    Ok(rate_ok && stored_ok)
}

fn main() -> ExitCode {
    support::main_of("audit_flood", run())
}
