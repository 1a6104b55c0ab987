//! Account enumeration through the mailing flows, by timing: starts the real server
//! (release build, SQLite, mail on through the development log transport) and measures
//! the answers of `POST /password/forgot`, `POST /verify-email/request` and `POST
//! /email-login` (sign-in by email, on here) for each kind of address — an active account (a mail is queued), an unknown address, an inactive account,
//! an account mailed moments ago (the per-recipient limit), and for verification also a
//! verified account — 40 tries each, interleaved. Every kind must answer the same status
//! and body, with a median within 5% of the mailed kind's.
//!
//! `cargo bench -p flowrex-tests --bench forgot_timing`. Exits non-zero when a bound is
//! missed.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use support::median;

use migration::sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

const TRIES: usize = 40;

/// A kind of address: its name, and its address for try `n`.
type Kind<'a> = (&'a str, fn(usize) -> String);

async fn ask(
    client: &reqwest::Client,
    url: &str,
    email: &str,
) -> anyhow::Result<((u16, Value), Duration)> {
    let started = Instant::now();
    let response = client
        .post(url)
        .json(&json!({ "email": email }))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    Ok(((status, body), started.elapsed()))
}

/// Measures `path` for each `(kind, address of try n)`, interleaved; prints the medians and
/// checks the bounds against the first kind.
async fn measure(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    kinds: &[Kind<'_>],
) -> anyhow::Result<bool> {
    let url = format!("{base}{path}");
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    let mut answers: Vec<(u16, Value)> = Vec::new();
    for n in 0..TRIES {
        for (i, (_, address)) in kinds.iter().enumerate() {
            let (answer, time) = ask(client, &url, &address(n)).await?;
            samples[i].push(time);
            answers.push(answer);
        }
    }
    let same = answers.windows(2).all(|pair| pair[0] == pair[1]);
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let reference = medians[0].as_secs_f64();
    println!(
        "POST {path}: {TRIES} tries per kind, interleaved; every answer {:?}",
        answers[0]
    );
    let mut ok = same;
    for ((kind, _), median) in kinds.iter().zip(&medians) {
        let ratio = median.as_secs_f64() / reference;
        let within = (0.95..=1.05).contains(&ratio);
        ok &= within;
        println!(
            "  {kind:<28} median {:>7.2} ms  ratio {ratio:.3} {}",
            median.as_secs_f64() * 1e3,
            if within {
                "ok"
            } else {
                "MISSED (bound 0.95–1.05)"
            }
        );
    }
    if !same {
        println!("  MISSED: the answers differ");
    }
    Ok(ok)
}

async fn run() -> anyhow::Result<bool> {
    let dir = tempfile::tempdir()?;
    let url = support::sqlite_url(dir.path());
    let base = support::start(
        &url,
        &[
            ("APP_ENV", "development"),
            ("EMAIL_LOGIN_ENABLED", "true"),
            ("EMAIL_RESEND_INTERVAL_SECONDS", "3600"),
            ("MAIL_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await?;
    let client = reqwest::Client::new();
    for n in 0..TRIES {
        for kind in ["active", "inactive", "limited", "verified"] {
            support::register(&client, &base, &format!("{kind}{n}@example.com")).await?;
        }
    }
    let db = Database::connect(url.as_str()).await?;
    db.execute_unprepared("UPDATE users SET is_active = false WHERE email LIKE 'inactive%'")
        .await?;
    db.execute_unprepared("UPDATE users SET is_verified = true WHERE email LIKE 'verified%'")
        .await?;
    // The limited kind had its reset link moments ago; the verification kinds had theirs
    // at registration, except `active`, whose limit is spent below by its reset only.
    for n in 0..TRIES {
        ask(
            &client,
            &format!("{base}/api/v1/auth/password/forgot"),
            &format!("limited{n}@example.com"),
        )
        .await?;
    }
    for n in 0..TRIES {
        ask(
            &client,
            &format!("{base}/api/v1/auth/email-login"),
            &format!("limited{n}@example.com"),
        )
        .await?;
    }
    db.close().await?;

    let forgot = measure(
        &client,
        &base,
        "/api/v1/auth/password/forgot",
        &[
            ("active account (mailed)", |n| {
                format!("active{n}@example.com")
            }),
            ("unknown address", |n| format!("nobody{n}@example.com")),
            ("inactive account", |n| format!("inactive{n}@example.com")),
            ("mailed moments ago (limit)", |n| {
                format!("limited{n}@example.com")
            }),
        ],
    )
    .await?;
    let verify = measure(
        &client,
        &base,
        "/api/v1/auth/verify-email/request",
        &[
            ("unverified, limited", |n| format!("active{n}@example.com")),
            ("unknown address", |n| format!("nobody{n}@example.com")),
            ("inactive account", |n| format!("inactive{n}@example.com")),
            ("verified account", |n| format!("verified{n}@example.com")),
        ],
    )
    .await?;
    let email_login = measure(
        &client,
        &base,
        "/api/v1/auth/email-login",
        &[
            ("active account (mailed)", |n| {
                format!("active{n}@example.com")
            }),
            ("unknown address", |n| format!("nobody{n}@example.com")),
            ("inactive account", |n| format!("inactive{n}@example.com")),
            ("mailed moments ago (limit)", |n| {
                format!("limited{n}@example.com")
            }),
        ],
    )
    .await?;
    Ok(forgot && verify && email_login)
}

fn main() -> ExitCode {
    support::main_of("forgot_timing", run())
}
