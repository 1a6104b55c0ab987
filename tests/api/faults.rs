//! Fault tests: the database or Redis goes away under load and comes back. They start
//! private servers (see `services`), so they are `#[ignore]`d by default and run by
//! `.ci/run` with `--run-ignored only`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use flowrex_infrastructure::test_support::smtp::PrivateSmtp;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, access, body, spawn_app_on_database, spawn_app_with};
use crate::services::{PrivateMariaDb, PrivatePostgres, PrivateRedis, Stop};

const ACQUIRE_TIMEOUT_SECONDS: u64 = 2;

/// A database server a test can stop and start.
trait Outage {
    fn url(&self) -> String;
    fn stop(&self, mode: Stop);
    fn resume(&self);
}

impl Outage for PrivatePostgres {
    fn url(&self) -> String {
        PrivatePostgres::url(self)
    }
    fn stop(&self, mode: Stop) {
        PrivatePostgres::stop(self, mode);
    }
    fn resume(&self) {
        PrivatePostgres::resume(self);
    }
}

impl Outage for PrivateMariaDb {
    fn url(&self) -> String {
        PrivateMariaDb::url(self)
    }
    fn stop(&self, mode: Stop) {
        PrivateMariaDb::stop(self, mode);
    }
    fn resume(&self) {
        PrivateMariaDb::resume(self);
    }
}

/// Where the test is: the load runs through all four phases.
const BEFORE: u8 = 0;
const OUTAGE: u8 = 1;
const RESTARTED: u8 = 2;
const AFTER: u8 = 3;
const DONE: u8 = 4;

/// One answer seen by the load.
#[derive(Debug)]
struct Seen {
    phase: u8,
    route: &'static str,
    status: StatusCode,
    latency: Duration,
    /// For 503s: `Retry-After` present and the body `{"detail": "Service unavailable"}`.
    well_formed: bool,
}

/// One client: `route` in a loop until the test is done, with its own session (its refresh
/// token rotates with every successful refresh).
async fn client_loop(
    client: reqwest::Client,
    base: String,
    route: &'static str,
    email: String,
    mut tokens: serde_json::Value,
    phase: Arc<AtomicU8>,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        if phase.load(Ordering::SeqCst) == DONE {
            return seen;
        }
        let request = match route {
            "me" => client
                .get(format!("{base}/api/v1/auth/me"))
                .bearer_auth(access(&tokens)),
            "refresh" => client
                .post(format!("{base}/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": tokens["refresh_token"]})),
            "forgot" => client
                .post(format!("{base}/api/v1/auth/password/forgot"))
                .json(&json!({ "email": email })),
            "profile" => client
                .patch(format!("{base}/api/v1/auth/me"))
                .bearer_auth(access(&tokens))
                .json(&json!({"full_name": "Under Load"})),
            _ => client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD})),
        };
        let started = Instant::now();
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{route}: request failed or hung: {e}"));
        let latency = started.elapsed();
        let status = response.status();
        let retry_after = response.headers().contains_key("retry-after");
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        // Judged by when the answer came: one sent before the stop may end in it.
        let now = phase.load(Ordering::SeqCst);
        if status == StatusCode::OK && route == "refresh" {
            tokens = body.clone();
        }
        let well_formed = status != StatusCode::SERVICE_UNAVAILABLE
            || (retry_after && body == json!({"detail": "Service unavailable"}));
        seen.push(Seen {
            phase: now,
            route,
            status,
            latency,
            well_formed,
        });
    }
}

/// The answer of `route` when all is well.
fn success(route: &str) -> StatusCode {
    if route == "forgot" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

/// Steady load on `/me`, `/refresh`, `/login`, `password/forgot` (which queues mail) and
/// `PATCH /me` while `database` is stopped with `mode` and started again: every answer is
/// the route's success or a well-formed 503, none waits much longer than the acquire
/// timeout, and the service recovers without a restart.
async fn outage_under_load(database: &impl Outage, mode: Stop) {
    let timeout = ACQUIRE_TIMEOUT_SECONDS.to_string();
    let smtp = PrivateSmtp::start();
    let smtp_url = smtp.url();
    let app = spawn_app_on_database(
        database.url(),
        &[
            ("SMTP_URL", smtp_url.as_str()),
            ("MAIL_POLL_INTERVAL_MS", "100"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", timeout.as_str()),
            ("DATABASE_MAX_CONNECTIONS", "4"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("LOGIN_MAX_FAILURES_PER_IP", "0"),
            ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "0"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let phase = Arc::new(AtomicU8::new(BEFORE));
    let mut clients = Vec::new();
    for (n, route) in [
        "me", "me", "refresh", "refresh", "login", "login", "forgot", "profile",
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("load{n}@example.com");
        let tokens = app.register_and_login(&email).await;
        clients.push(tokio::spawn(client_loop(
            client.clone(),
            app.address.clone(),
            route,
            email,
            tokens,
            phase.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    phase.store(OUTAGE, Ordering::SeqCst);
    let stopping = Instant::now();
    tokio::task::block_in_place(|| database.stop(mode));
    let stopped_in = stopping.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;

    tokio::task::block_in_place(|| database.resume());
    phase.store(RESTARTED, Ordering::SeqCst);
    let restarted = Instant::now();
    loop {
        let me = app.get_me_with_new_login().await;
        if me == StatusCode::OK {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "200 again within 10 s of the restart, got {me}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in = restarted.elapsed();
    // Give every client one full round on the recovered database before judging "after".
    tokio::time::sleep(Duration::from_millis(500)).await;
    phase.store(AFTER, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    phase.store(DONE, Ordering::SeqCst);

    let seen: Vec<Seen> = futures::future::join_all(clients)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();
    let count = |phase: u8, status: StatusCode| {
        seen.iter()
            .filter(|s| s.phase == phase && s.status == status)
            .count()
    };
    let succeeded = |phase: u8| {
        seen.iter()
            .filter(|s| s.phase == phase && s.status == success(s.route))
            .count()
    };
    println!(
        "{mode:?} stop took {stopped_in:?}; {} answers: before {} ok; outage {} ok, {} 503; restarted {} ok, {} 503; after {} ok; recovered {recovered_in:?} after the restart",
        seen.len(),
        succeeded(BEFORE),
        succeeded(OUTAGE),
        count(OUTAGE, StatusCode::SERVICE_UNAVAILABLE),
        succeeded(RESTARTED),
        count(RESTARTED, StatusCode::SERVICE_UNAVAILABLE),
        succeeded(AFTER),
    );
    let wrong: Vec<&Seen> = seen
        .iter()
        .filter(|s| match s.phase {
            BEFORE | AFTER => s.status != success(s.route),
            _ => ![success(s.route), StatusCode::SERVICE_UNAVAILABLE].contains(&s.status),
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "only success before and after, success or 503 in between: {wrong:?}"
    );
    let malformed: Vec<&Seen> = seen.iter().filter(|s| !s.well_formed).collect();
    assert!(
        malformed.is_empty(),
        "every 503 has Retry-After and the detail: {malformed:?}"
    );
    assert!(
        count(OUTAGE, StatusCode::SERVICE_UNAVAILABLE) > 0,
        "the outage was seen"
    );
    let limit = Duration::from_secs(2 * ACQUIRE_TIMEOUT_SECONDS) + Duration::from_millis(1500);
    let slowest = seen.iter().map(|s| s.latency).max().unwrap_or_default();
    assert!(
        slowest <= limit,
        "no request waits much longer than the acquire timeout: {slowest:?}"
    );
    for route in ["me", "refresh", "login", "forgot", "profile"] {
        assert!(
            seen.iter()
                .any(|s| s.phase == AFTER && s.route == route && s.status == success(route)),
            "{route} succeeds after the restart"
        );
    }
    // The mail queued by the forgot loop before and after the outage went out.
    let delivered = smtp
        .wait_for("load6@example.com", 2, Duration::from_secs(10))
        .await;
    assert!(
        delivered.iter().any(|m| m.subject == "Reset your password"),
        "the reset mail was delivered: {delivered:?}"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK, "ready again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a private PostgreSQL; run by .ci/run"]
async fn postgres_stopped_fast_under_load_gives_only_503s_and_recovers() {
    outage_under_load(&PrivatePostgres::start(), Stop::Gentle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a private PostgreSQL; run by .ci/run"]
async fn postgres_killed_under_load_gives_only_503s_and_recovers() {
    outage_under_load(&PrivatePostgres::start(), Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a private MariaDB; run by .ci/run"]
async fn mariadb_shut_down_under_load_gives_only_503s_and_recovers() {
    outage_under_load(&PrivateMariaDb::start(), Stop::Gentle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a private MariaDB; run by .ci/run"]
async fn mariadb_killed_under_load_gives_only_503s_and_recovers() {
    outage_under_load(&PrivateMariaDb::start(), Stop::Kill).await;
}

/// `GET /me` with a token the idle pool has not seen yet, as the first request of the
/// restarted database would be.
impl TestApp {
    async fn get_me_with_new_login(&self) -> StatusCode {
        let response = self.login("load0@example.com", PASSWORD).await;
        if response.status() != StatusCode::OK {
            return response.status();
        }
        let tokens = body(response).await;
        self.get_me(access(&tokens)).await.status()
    }
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
    let token = access(&tokens).to_owned();

    postgres.stop(Stop::Kill);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body(ready).await["checks"]["database"], "unavailable");
    assert_eq!(
        app.get("/health").await.status(),
        StatusCode::OK,
        "liveness stays up"
    );
    let response = app.get_me(&token).await;
    let retry_after = response.headers().get("retry-after").cloned();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after.is_some(), "a 503 says when to retry");
    assert_eq!(
        body(response).await,
        json!({"detail": "Service unavailable"})
    );
    postgres.resume();
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
