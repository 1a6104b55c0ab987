//! Account events across a crash: the binary is killed (SIGKILL) after changes committed
//! and before their events were delivered (the receiver was down); started again, it
//! delivers every one of them, each with the id it was committed with. On SQLite, or on
//! the server `TEST_DATABASE_URL` names.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use flowrex_infrastructure::test_support::webhooks::Receiver;
use flowrex_infrastructure::test_support::{fresh_database, wait_for_port};
use serde_json::{Value, json};

use crate::support::{BINARY, Running, spare_port};

const PASSWORD: &str = "Crash1234";

fn environment(database: &str, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("APP_ENV", "test".to_owned()),
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".to_owned()),
        ("DATABASE_URL", database.to_owned()),
        ("JWT_SECRET_KEY", "events-test-secret".to_owned()),
        ("APP_SECRET_KEY", "events-test-app-secret".to_owned()),
        ("BCRYPT_COST", "4".to_owned()),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ("EVENTS_POLL_INTERVAL_MS", "100".to_owned()),
    ]
}

/// The service on `port`, up.
fn service(dir: &std::path::Path, database: &str, port: u16) -> Running {
    let running = Running(
        Command::new(BINARY)
            .current_dir(dir)
            .env_clear()
            .envs(environment(database, port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the service starts"),
    );
    wait_for_port(port, "the service", Duration::from_secs(20));
    running
}

async fn post(http: &reqwest::Client, url: String, bearer: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.expect("the service answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "runs the binary; .ci/run runs it"]
async fn events_committed_before_a_sigkill_are_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database(dir.path()).await.unwrap();
    let database = database.expose().to_owned();
    let mut receiver = Receiver::start().await;
    receiver.stop().await;
    let port = spare_port();
    let mut running = service(dir.path(), &database, port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // An administrator (by the command line), and a webhook for every event.
    let mut create = Command::new(BINARY)
        .args([
            "user",
            "create",
            "--email",
            "root@example.com",
            "--superuser",
        ])
        .current_dir(dir.path())
        .env_clear()
        .envs(environment(&database, port))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(create.wait().unwrap().success());
    let login = post(
        &http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({ "email": "root@example.com", "password": PASSWORD }),
    )
    .await;
    let admin = login["access_token"].as_str().unwrap().to_owned();
    post(
        &http,
        format!("{base}/api/v1/admin/webhooks"),
        Some(&admin),
        json!({ "url": receiver.url(), "events": ["*"] }),
    )
    .await;

    // Changes that commit while the receiver is down; then the process dies.
    let mut users = Vec::new();
    for n in 0..5 {
        let user = post(
            &http,
            format!("{base}/api/v1/auth/register"),
            None,
            json!({ "email": format!("crash{n}@example.com"), "password": PASSWORD }),
        )
        .await;
        users.push(user["id"].as_i64().unwrap());
    }
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    assert!(receiver.requests().is_empty());

    receiver.resume().await;
    let _restarted = service(dir.path(), &database, port);
    // A delivery the killed process had taken but not recorded waits for its lease (30 s).
    let delivered = receiver.wait_delivered(5, Duration::from_secs(60)).await;
    let mut delivered_users: Vec<i64> = delivered
        .iter()
        .map(|d| d.body["data"]["user"]["id"].as_i64().unwrap())
        .collect();
    delivered_users.sort_unstable();
    assert_eq!(delivered_users, users, "every committed event arrives");
    let mut ids: Vec<&str> = delivered.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.delivered().len(), 5, "each once");
}
