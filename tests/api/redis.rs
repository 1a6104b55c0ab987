//! Rate limits shared through Redis (`TEST_REDIS_URL`; those tests are `#[ignore]`d and
//! run by `.ci/run`), and the in-process fallback when Redis cannot be reached.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_json, assert_throttled, body, header, spawn_app_with};

/// The Redis server to share. The tests that need one are `#[ignore]`d, so that a run
/// without Redis lists them as skipped; run with `--run-ignored` (as `.ci/run` does) and
/// `TEST_REDIS_URL` unset, they fail rather than pass without having run.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("TEST_REDIS_URL must name a Redis server for this test")
}

/// A key prefix no other test uses.
fn unique_prefix() -> String {
    format!("flowrex_t_{}", rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL; .ci/run runs it"]
async fn two_instances_sharing_redis_share_one_budget() {
    let redis = redis_url();
    let prefix = unique_prefix();
    let vars = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("RATE_LIMIT_PER_MINUTE", "10"),
    ];
    let first = spawn_app_with(&vars).await;
    let second = spawn_app_with(&vars).await;
    for _ in 0..6 {
        assert_eq!(first.get("/health").await.status(), StatusCode::OK);
    }
    for _ in 0..4 {
        assert_eq!(second.get("/health").await.status(), StatusCode::OK);
    }
    let limited = second.get("/health").await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the 11th request of the minute, whichever instance"
    );
    assert_eq!(first.get("/").await.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(&limited, "retry-after").and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL; .ci/run runs it"]
async fn readiness_checks_redis_when_configured() {
    let redis = redis_url();
    let prefix = unique_prefix();
    let app = spawn_app_with(&[
        ("REDIS_URL", redis.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ])
    .await;
    let response = app.get("/health/ready").await;
    assert_json(
        response,
        StatusCode::OK,
        json!({"status": "ready", "checks": {"database": "ok", "redis": "ok"}}),
    )
    .await;
}

#[tokio::test]
async fn without_redis_requests_are_served_and_limited_in_process() {
    // Nothing listens on port 1: every Redis call fails at once.
    let app = spawn_app_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("RATE_LIMIT_PER_MINUTE", "3"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/health").await.status(),
            StatusCode::OK,
            "served while Redis is down"
        );
    }
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "limited in process"
    );
}

#[tokio::test]
async fn readiness_names_redis_when_it_is_down() {
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body(response).await,
        json!({"detail": "Service unavailable", "status": "unavailable",
               "checks": {"database": "ok", "redis": "unavailable"}})
    );
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::OK,
        "liveness does not depend on Redis"
    );
}

#[tokio::test]
#[ignore = "needs TEST_REDIS_URL; .ci/run runs it"]
async fn failed_logins_are_counted_across_instances_sharing_redis() {
    let redis = redis_url();
    let prefix = unique_prefix();
    let vars = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3"),
    ];
    let first = spawn_app_with(&vars).await;
    let second = crate::helpers::spawn_app_on_database(first.database_url.clone(), &vars).await;
    first.register("shared@example.com").await;
    let wrong = json!({"email": "shared@example.com", "password": "Wrong1234"});
    let right = json!({"email": "shared@example.com", "password": crate::helpers::PASSWORD});
    for app in [&first, &second] {
        assert_eq!(
            app.post_login(&wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // A success on one instance resets the account's count for both.
    assert_eq!(second.post_login(&right).await.status(), StatusCode::OK);
    for app in [&first, &second, &first] {
        assert_eq!(
            app.post_login(&wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = second.post_login(&right).await;
    let retry_after = header(&throttled, "retry-after").and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| s > 800),
        "about the 15-minute window: {retry_after:?}"
    );
    assert_throttled(throttled).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs TEST_REDIS_URL; .ci/run runs it"]
async fn parallel_guesses_through_two_instances_get_no_more_checks_than_the_limit() {
    let redis = redis_url();
    let prefix = unique_prefix();
    let vars = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("BCRYPT_COST", "8"),
    ];
    let first = spawn_app_with(&vars).await;
    let second = crate::helpers::spawn_app_on_database(first.database_url.clone(), &vars).await;
    first.register("both@example.com").await;
    assert_eq!(
        crate::helpers::login_burst(
            &[&first, &second],
            &crate::helpers::guesses("both@example.com", 30)
        )
        .await,
        (5, 25),
        "five checked attempts in all, whichever instance"
    );
}
