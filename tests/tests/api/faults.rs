//! Fault tests: the database or Redis goes away under load and comes back. They start
//! private servers (see `services`), so they are `#[ignore]`d by default and run by
//! `.ci/run` with `--run-ignored only`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, body, spawn_app_on_database, spawn_app_with};
use crate::services::{PrivatePostgres, PrivateRedis};

const ACQUIRE_TIMEOUT_SECONDS: u64 = 2;

/// Sends `GET /me` from `clients` concurrent clients for `duration`; returns every
/// (status, latency).
async fn load_me(
    app: &TestApp,
    token: &str,
    clients: usize,
    duration: Duration,
) -> Vec<(StatusCode, Duration)> {
    let deadline = Instant::now() + duration;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = app.url("/api/v1/auth/me");
    let workers = (0..clients).map(|_| {
        let (client, url, token) = (client.clone(), url.clone(), token.to_owned());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let status = match client.get(&url).bearer_auth(&token).send().await {
                    Ok(response) => response.status(),
                    Err(error) => panic!("request failed or hung: {error}"),
                };
                seen.push((status, started.elapsed()));
            }
            seen
        })
    });
    futures::future::join_all(workers)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a private PostgreSQL; run by .ci/run"]
async fn a_database_outage_gives_only_503s_then_the_service_recovers_by_itself() {
    let postgres = PrivatePostgres::start();
    let timeout = ACQUIRE_TIMEOUT_SECONDS.to_string();
    let app = spawn_app_on_database(
        postgres.url(),
        &[
            ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", timeout.as_str()),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ],
    )
    .await;
    let tokens = app.register_and_login("outage@example.com").await;
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let before = load_me(&app, &token, 4, Duration::from_secs(1)).await;
    assert!(
        before.iter().all(|(s, _)| *s == StatusCode::OK),
        "all 200 before the outage"
    );

    postgres.stop();
    let during = load_me(&app, &token, 8, Duration::from_secs(4)).await;
    let limit = Duration::from_secs(ACQUIRE_TIMEOUT_SECONDS) + Duration::from_millis(1500);
    let unexpected: Vec<_> = during
        .iter()
        .filter(|(s, _)| *s != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 503 while the database is down: {unexpected:?}"
    );
    let slowest = during.iter().map(|(_, d)| *d).max().unwrap_or_default();
    assert!(
        slowest <= limit,
        "no request waits longer than the acquire timeout: {slowest:?}"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body(ready).await["checks"]["database"], "unavailable");
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::OK,
        "liveness stays up"
    );
    let body_503 = app.get_me(&token).await;
    assert_eq!(
        body(body_503).await,
        json!({"detail": "Service unavailable"})
    );

    postgres.resume();
    let restarted = Instant::now();
    loop {
        if app.get_me(&token).await.status() == StatusCode::OK {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "2xx again within 5 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "outage: {} requests, all 503, slowest {slowest:?}; recovered {:?} after restart",
        during.len(),
        restarted.elapsed()
    );
    let after = load_me(&app, &token, 4, Duration::from_secs(1)).await;
    assert!(
        after.iter().all(|(s, _)| *s == StatusCode::OK),
        "all 200 after recovery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a private Redis; run by .ci/run"]
async fn a_redis_outage_falls_back_to_in_process_limits_and_recovers() {
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let app = spawn_app_with(&[
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", "fault"),
        ("RATE_LIMIT_PER_MINUTE", "5"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    }
    assert!(
        redis.has_key_starting_with("fault:rl:ip:"),
        "counted in Redis while it is up"
    );

    redis.stop();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let started = Instant::now();
        statuses.push(app.get("/health").await.status());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no request waits for Redis"
        );
    }
    assert_eq!(
        statuses,
        [
            [StatusCode::OK; 5].as_slice(),
            &[StatusCode::TOO_MANY_REQUESTS]
        ]
        .concat(),
        "served, and limited in process, while Redis is down"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body(ready).await["checks"]["redis"], "unavailable");

    redis.resume();
    let restarted = Instant::now();
    loop {
        // In-process counters are spent; an OK means Redis (emptied by the restart) decides.
        if app.get("/health").await.status() == StatusCode::OK {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "back on Redis within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        redis.has_key_starting_with("fault:rl:ip:"),
        "counting in Redis again"
    );
    assert_eq!(app.get("/health/ready").await.status(), StatusCode::OK);
}
