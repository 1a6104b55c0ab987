//! Two `flowrex` processes on different loopback ports, sharing one PostgreSQL database and
//! one Redis, behind nginx round-robin: the deployment of docs/deployment.md, without Docker.
//!
//! `#[ignore]`d by default (it needs nginx and the servers named by `TEST_POSTGRES_URL` and
//! `TEST_REDIS_URL`); `.ci/run` runs it with `--run-ignored only`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use serde_json::{Value, json};

use crate::support::{BINARY, Running, spare_port};

const LIMIT: usize = 30;

fn required(variable: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{variable} must be set for the cluster test"))
}

fn instance(port: u16, database_url: &str, redis_url: &str, prefix: &str, log: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(BINARY)
        .env_clear()
        .envs([
            ("APP_ENV", "production"),
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("DATABASE_URL", database_url),
            ("REDIS_URL", redis_url),
            ("REDIS_KEY_PREFIX", prefix),
            ("JWT_SECRET_KEY", "cluster-shared-jwt-secret"),
            ("APP_SECRET_KEY", "cluster-shared-app-secret"),
            ("AUTO_MIGRATE", "false"),
            ("BCRYPT_COST", "4"),
            ("RATE_LIMIT_PER_MINUTE", &LIMIT.to_string()),
            ("CSRF_PROTECTION_ENABLED", "false"),
            ("WORKERS", "1"),
        ])
        .current_dir(std::env::temp_dir())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn flowrex");
    Running(child)
}

fn nginx(dir: &Path, port: u16, upstreams: [u16; 2]) -> Running {
    let config = format!(
        r"
worker_processes 1;
error_log {dir}/nginx-error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$request_uri $upstream_addr $status';
    access_log {dir}/access.log upstreams;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream flowrex {{
        server 127.0.0.1:{a} max_fails=0;
        server 127.0.0.1:{b} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://flowrex;
            proxy_http_version 1.1;
            proxy_set_header Connection '';
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
",
        dir = dir.display(),
        a = upstreams[0],
        b = upstreams[1],
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("nginx")
        .args([
            "-p",
            &dir.display().to_string(),
            "-c",
            &path.display().to_string(),
        ])
        .args(["-g", "daemon off; user root;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (install the Debian package)");
    Running(child)
}

async fn wait_until_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/health/ready")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} did not become ready within 30 s");
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs nginx, TEST_POSTGRES_URL and TEST_REDIS_URL; run by .ci/run"]
async fn two_instances_behind_nginx_share_users_tokens_and_the_rate_limit() {
    let database =
        flowrex_infrastructure::test_support::fresh_server_database(&required("TEST_POSTGRES_URL"))
            .await
            .unwrap();
    let redis_url = required("TEST_REDIS_URL");
    let prefix = format!("flowrex_t_cluster_{}", std::process::id());

    // Migrations run once, as their own step, before any instance starts.
    let db = flowrex_infrastructure::database::connect(
        &flowrex_infrastructure::DatabaseSettings::new(database.clone()),
    )
    .await
    .unwrap();
    Migrator::up(&db, None).await.unwrap();
    db.close().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ports = [spare_port(), spare_port()];
    let _a = instance(
        ports[0],
        database.expose(),
        &redis_url,
        &prefix,
        &dir.path().join("a.log"),
    );
    let _b = instance(
        ports[1],
        database.expose(),
        &redis_url,
        &prefix,
        &dir.path().join("b.log"),
    );
    let balancer_port = spare_port();
    let _nginx = nginx(dir.path(), balancer_port, ports);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let [a, b] = ports.map(|port| format!("http://127.0.0.1:{port}"));
    let balancer = format!("http://127.0.0.1:{balancer_port}");
    wait_until_ready(&client, &a).await;
    wait_until_ready(&client, &b).await;
    wait_until_ready(&client, &balancer).await;

    // Register through one instance, log in through the other.
    let credentials = json!({"email": "cluster@example.com", "password": "Cluster123"});
    let (status, _) = post(&client, format!("{a}/api/v1/auth/register"), &credentials).await;
    assert_eq!(status, 201, "register on instance A");
    let (status, _) = post(&client, format!("{b}/api/v1/auth/register"), &credentials).await;
    assert_eq!(status, 400, "instance B sees the same users");
    let (status, tokens) = post(&client, format!("{b}/api/v1/auth/login"), &credentials).await;
    assert_eq!(status, 200, "log in on instance B");

    // A token issued by one is accepted by the other.
    let access = tokens["access_token"].as_str().unwrap_or_default();
    let me = client
        .get(format!("{a}/api/v1/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200, "B's token on A");
    let (status, _) = post(
        &client,
        format!("{a}/api/v1/auth/refresh"),
        &json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 200, "B's refresh token on A");

    // Through nginx: every request works, whichever instance serves it.
    for _ in 0..4 {
        let (status, _) = post(
            &client,
            format!("{balancer}/api/v1/auth/login"),
            &credentials,
        )
        .await;
        assert_eq!(status, 200, "login through the balancer");
    }

    // The rate-limit budget is shared: start a fresh window, then send twice the limit
    // through the balancer, which alternates between the instances.
    let keys = Command::new("redis-cli")
        .args(["-u", &redis_url, "--scan", "--pattern"])
        .arg(format!("{prefix}:*"))
        .output()
        .expect("redis-cli");
    for key in String::from_utf8_lossy(&keys.stdout).lines() {
        let _ = Command::new("redis-cli")
            .args(["-u", &redis_url, "DEL", key])
            .output();
    }
    let mut allowed = 0;
    let mut limited = 0;
    for _ in 0..2 * LIMIT {
        let status = client
            .get(format!("{balancer}/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        match status {
            200 => allowed += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        (allowed, limited),
        (LIMIT, LIMIT),
        "one budget of {LIMIT} for both instances (separate budgets would allow {})",
        2 * LIMIT
    );
    // nginx's log: both instances served /health, and both answered some 429s.
    let access = std::fs::read_to_string(dir.path().join("access.log")).unwrap_or_default();
    for port in ports {
        let upstream = format!("/health 127.0.0.1:{port} 429");
        assert!(
            access.contains(&upstream),
            "instance {port} limited some requests:\n{access}"
        );
    }
}
