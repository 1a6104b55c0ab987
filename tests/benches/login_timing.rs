//! Account enumeration by timing, and throttled logins: starts the real server (release
//! build, SQLite) and measures
//!
//! 1. the median time of a login for an unknown email and for a known email with a wrong
//!    password, 50 tries each, interleaved; their ratio must lie in 0.8–1.25;
//! 2. 30 rapid failed logins for one account: how many are refused with 429, and their median
//!    time next to the 401s' (a 429 that ran bcrypt would take as long as a 401).
//!
//! `cargo bench -p flowrex-tests --bench login_timing` (BCRYPT_COST=12 by default; set
//! `BENCH_BCRYPT_COST` to change it). Exits non-zero when a bound is missed.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use support::median;

use serde_json::json;

const TRIES: usize = 50;

async fn start(dir: &std::path::Path, cost: &str, throttle: bool) -> anyhow::Result<String> {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let (per_account, per_ip) = if throttle { ("5", "1000") } else { ("0", "0") };
    support::start(
        &url,
        &[
            ("BCRYPT_COST", cost),
            ("DEBUG", "false"),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", per_account),
            ("LOGIN_MAX_FAILURES_PER_IP", per_ip),
        ],
    )
    .await
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<(u16, Duration)> {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let status = response.status().as_u16();
    response.bytes().await?;
    Ok((status, started.elapsed()))
}

async fn run() -> anyhow::Result<bool> {
    let cost = std::env::var("BENCH_BCRYPT_COST").unwrap_or_else(|_| "12".to_owned());
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir()?;

    let base = start(dir.path(), &cost, false).await?;
    support::register(&client, &base, "known@example.com").await?;
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for n in 0..TRIES {
        let (status, time) = login(
            &client,
            &base,
            &format!("nobody{n}@example.com"),
            "Wrong1234",
        )
        .await?;
        anyhow::ensure!(status == 401, "unknown email answered {status}");
        unknown.push(time);
        let (status, time) = login(&client, &base, "known@example.com", "Wrong1234").await?;
        anyhow::ensure!(status == 401, "wrong password answered {status}");
        wrong.push(time);
    }
    let (unknown, wrong) = (median(unknown), median(wrong));
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    let timing_ok = (0.8..=1.25).contains(&ratio);
    println!("bcrypt cost {cost}, {TRIES} tries each, interleaved");
    println!(
        "  median login, unknown email:  {:>8.1} ms",
        unknown.as_secs_f64() * 1e3
    );
    println!(
        "  median login, wrong password: {:>8.1} ms",
        wrong.as_secs_f64() * 1e3
    );
    println!(
        "  ratio unknown / wrong:        {ratio:>8.3}  (bound 0.8–1.25: {})",
        if timing_ok { "ok" } else { "MISSED" }
    );

    let throttled_dir = tempfile::tempdir()?;
    let base = start(throttled_dir.path(), &cost, true).await?;
    support::register(&client, &base, "target@example.com").await?;
    let (mut refused, mut throttled) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        match login(&client, &base, "target@example.com", "Wrong1234").await? {
            (401, time) => refused.push(time),
            (429, time) => throttled.push(time),
            (status, _) => anyhow::bail!("failed login answered {status}"),
        }
    }
    let (refused_count, throttled_count) = (refused.len(), throttled.len());
    let (refused_median, throttled_median) = (median(refused), median(throttled));
    // A 429 that ran bcrypt would cost as much as a 401; these must be far cheaper.
    let throttle_ok = refused_count == 5
        && throttled_count == 25
        && throttled_median.as_secs_f64() * 10.0 < refused_median.as_secs_f64();
    println!("30 rapid failed logins for one account");
    println!(
        "  401 (bcrypt ran):       {refused_count:>2}, median {:>8.1} ms",
        refused_median.as_secs_f64() * 1e3
    );
    println!(
        "  429 (no bcrypt):        {throttled_count:>2}, median {:>8.3} ms",
        throttled_median.as_secs_f64() * 1e3
    );
    println!(
        "  bound: 5 × 401 then 25 × 429, each 429 under a tenth of a 401: {}",
        if throttle_ok { "ok" } else { "MISSED" }
    );
    Ok(timing_ok && throttle_ok)
}

fn main() -> ExitCode {
    support::main_of("login_timing", run())
}
