//! Criterion benchmarks of the hot pure code: issuing and verifying tokens, the password
//! policy, email parsing, and one bcrypt verification at the configured cost (the figure
//! that bounds logins: cores ÷ this time).
//!
//! `cargo bench -p flowrex-infrastructure --bench hot_paths` (`BENCH_BCRYPT_COST`, default
//! 12, sets the cost of the bcrypt benchmark).

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use flowrex_domain::ports::{TokenIssuer, TokenVerifier};
use flowrex_domain::{EmailAddress, NewPassword, SessionId, TokenKind, TokenRequest, UserId};
use flowrex_infrastructure::{JwtClaimsPolicy, JwtKeys, JwtTokens};
use secrecy::SecretString;

fn tokens(c: &mut Criterion) {
    let jwt = JwtTokens::new(
        "HS256",
        &JwtKeys::Secret(SecretString::from("bench-secret-0123456789abcdef")),
        &JwtClaimsPolicy::default(),
    )
    .unwrap();
    let now = Utc::now();
    let request = TokenRequest {
        subject: UserId::new(42),
        kind: TokenKind::Access,
        session: SessionId::generate(),
        issued_at: now,
        expires_at: now + chrono::Duration::minutes(30),
        assurance: flowrex_domain::Assurance::PASSWORD,
    };
    let token = jwt.issue(&request).unwrap_or_default();
    c.bench_function("token issue (HS256)", |b| {
        b.iter(|| jwt.issue(black_box(&request)))
    });
    c.bench_function("token verify (HS256)", |b| {
        b.iter(|| jwt.verify(black_box(&token), TokenKind::Access, now))
    });
}

fn values(c: &mut Criterion) {
    c.bench_function("password policy", |b| {
        b.iter(|| NewPassword::parse(black_box("Corr3ct-Horse-Battery".to_owned())))
    });
    c.bench_function("email parse", |b| {
        b.iter(|| EmailAddress::parse(black_box("  Some.User+tag@Example.COM ")))
    });
}

fn bcrypt_verify(c: &mut Criterion) {
    let cost: u32 = std::env::var("BENCH_BCRYPT_COST")
        .ok()
        .and_then(|cost| cost.parse().ok())
        .unwrap_or(12);
    let hash = bcrypt::hash("Corr3ct-Horse-Battery", cost).unwrap_or_default();
    let mut group = c.benchmark_group("bcrypt");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function(format!("verify (cost {cost})"), |b| {
        b.iter(|| bcrypt::verify(black_box("Corr3ct-Horse-Battery"), &hash))
    });
    group.finish();
}

criterion_group!(benches, tokens, values, bcrypt_verify);
criterion_main!(benches);
