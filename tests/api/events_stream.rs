//! Account events on a real NATS JetStream server (`TEST_NATS_URL`) beside a real webhook
//! receiver: every flow of the lifecycle (over a real SMTP server), the admin API, second
//! factors and passkeys announces its event to both, in order, with one id in both, as a
//! CloudEvent on the stream and as a body signed by the Standard Webhooks specification's
//! own Python package (`TEST_WEBHOOK_PYTHON`: a Python with `standardwebhooks`) on the
//! webhook, and no body holds a password, token, code or secret the flows used. Two
//! instances on one database publish each event once, in order per user. `#[ignore]`d:
//! `.ci/run` runs them with the servers they need.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use flowrex_infrastructure::test_support::smtp::PrivateSmtp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::events::{Delivery, Receiver, add_webhook, admin_of};
use crate::helpers::{PASSWORD, TestApp, access, body, spawn_app_on_database, spawn_app_with};
use crate::lifecycle::{NEW_PASSWORD, VERIFY_CONFIRM, mail_about};
use crate::mfa::code;
use crate::passkeys::RELYING_PARTY;

/// The NATS server to publish to.
pub(crate) fn nats_url() -> String {
    std::env::var("TEST_NATS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("TEST_NATS_URL must name a NATS server with JetStream for this test")
}

/// A stream name and subject prefix no other test uses.
pub(crate) fn unique_stream() -> (String, String) {
    use std::hash::{BuildHasher, RandomState};
    let n = RandomState::new().hash_one(std::time::SystemTime::now()) % 1_000_000_007;
    (format!("FLOWREX_T_{n}"), format!("flowrex_t_{n}.events"))
}

/// One message of the stream.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub msg_id: String,
    pub subject: String,
    pub content_type: String,
    pub raw: String,
    pub event: Value,
}

/// Waits until `stream` holds `count` messages, then reads them all, in order.
pub(crate) async fn read_stream(
    url: &str,
    stream: &str,
    count: u64,
    within: Duration,
) -> Vec<Published> {
    let client = async_nats::connect(url).await.expect("NATS answers");
    let context = jetstream::new(client);
    let deadline = Instant::now() + within;
    let mut handle = loop {
        match context.get_stream(stream).await {
            Ok(handle) => break handle,
            Err(error) => {
                assert!(Instant::now() < deadline, "no stream {stream}: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let state = loop {
        let info = handle.info().await.expect("stream info").clone();
        if info.state.messages >= count {
            break info.state;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages in {stream} after {within:?}",
            info.state.messages
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut messages = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let message = handle
            .get_raw_message(sequence)
            .await
            .expect("a stored message");
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        let raw = String::from_utf8_lossy(&message.payload).into_owned();
        messages.push(Published {
            msg_id: header("Nats-Msg-Id"),
            subject: message.subject.to_string(),
            content_type: header("Content-Type"),
            event: serde_json::from_str(&raw).expect("JSON"),
            raw,
        });
    }
    messages
}

/// Removes `stream` from the shared server.
pub(crate) async fn delete_stream(url: &str, stream: &str) {
    if let Ok(client) = async_nats::connect(url).await {
        let _ = jetstream::new(client).delete_stream(stream).await;
    }
}

/// Checks each delivery's signature with the specification's own package, and that a
/// tampered body and an old timestamp fail.
fn verify_with_standardwebhooks(secret: &str, deliveries: &[Delivery]) {
    let python = std::env::var("TEST_WEBHOOK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("TEST_WEBHOOK_PYTHON must name a Python with the standardwebhooks package");
    let cases: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "timestamp": d.timestamp,
                "signature": d.signature,
                "body": d.raw,
            })
        })
        .collect();
    let script = r#"
import json, sys, time
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
secret, cases = sys.argv[1], json.loads(sys.stdin.read())
hook = Webhook(secret)
for case in cases:
    headers = {"webhook-id": case["id"], "webhook-timestamp": case["timestamp"], "webhook-signature": case["signature"]}
    hook.verify(case["body"], headers)
    for tampered in ({**headers}, {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}):
        body = case["body"] + " " if tampered == headers else case["body"]
        try:
            hook.verify(body, tampered)
        except WebhookVerificationError:
            continue
        sys.exit("a tampered delivery verified")
print("verified", len(cases))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("verified {}", deliveries.len())
    );
}

fn kinds_of_user(events: &[Value], id: i64) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["data"]["user"]["id"] == json!(id))
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
#[ignore = "needs aiosmtpd, TEST_NATS_URL and TEST_WEBHOOK_PYTHON; run by .ci/run"]
async fn lifecycle_events_reach_the_stream_and_webhooks_alike_in_order_and_without_secrets() {
    let nats = nats_url();
    let (stream, prefix) = unique_stream();
    let smtp = PrivateSmtp::start();
    let receiver = Receiver::start().await;
    let smtp_url = smtp.url();
    let mut vars = vec![
        ("SMTP_URL", smtp_url.as_str()),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("MAIL_FROM", "Flowrex Tests <robot@flowrex.test>"),
        ("EVENTS_NATS_URL", nats.as_str()),
        ("EVENTS_NATS_STREAM", stream.as_str()),
        ("EVENTS_NATS_SUBJECT_PREFIX", prefix.as_str()),
        ("EVENTS_POLL_INTERVAL_MS", "100"),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    vars.extend_from_slice(&RELYING_PARTY);
    let app = spawn_app_with(&vars).await;
    let admin = admin_of(&app).await;
    let hook = add_webhook(&app, &admin, &receiver.url(), json!(["*"])).await;
    let hook_secret = hook["secret"].as_str().unwrap().to_owned();
    let mut secrets: Vec<String> = vec![
        PASSWORD.to_owned(),
        NEW_PASSWORD.to_owned(),
        hook_secret.clone(),
        admin.clone(),
    ];

    // Registration and verification over mail.
    let email = "life@example.com";
    let id = app.register(email).await["id"].as_i64().unwrap();
    let token = mail_about(&smtp, email, "Verify").await.token().unwrap();
    secrets.push(token.clone());
    assert_eq!(
        app.confirm(VERIFY_CONFIRM, &token).await.status(),
        StatusCode::OK
    );
    let tokens = app.sign_in(email).await;
    secrets.extend([
        access(&tokens).to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    ]);
    let bearer = access(&tokens).to_owned();
    let renamed = app
        .patch_as("/api/v1/auth/me", &bearer, &json!({ "full_name": "Life" }))
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);

    // A passkey added and removed.
    let mut authenticator = SoftPasskey::new(true);
    let (passkey, credential_id) = app.register_passkey(&bearer, &mut authenticator).await;
    secrets.push(credential_id);
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/auth/passkeys/{passkey}"),
            Some(&bearer),
            &json!({}),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    // TOTP on, a login with a recovery code, TOTP off.
    let (totp_secret, recovery) = app.enable_totp(&bearer).await;
    secrets.push(totp_secret.clone());
    secrets.extend(recovery.iter().cloned());
    let challenge = app.challenge(email).await;
    secrets.push(challenge.clone());
    let strong = body(
        app.post_json(
            "/api/v1/auth/mfa/verify",
            &json!({ "mfa_token": challenge, "recovery_code": recovery[0] }),
        )
        .await,
    )
    .await;
    let totp_code = code(&totp_secret, 1);
    let off = app
        .call(
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(access(&strong)),
            &json!({ "current_password": PASSWORD, "code": totp_code }),
        )
        .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);

    // The admin API.
    let path = format!("/api/v1/admin/users/{id}");
    for change in [
        json!({ "is_active": false }),
        json!({ "is_active": true }),
        json!({ "is_superuser": true }),
        json!({ "is_superuser": false }),
    ] {
        assert_eq!(
            app.patch_as(&path, &admin, &change).await.status(),
            StatusCode::OK
        );
    }

    // Password change, email change, reset, deletion.
    let tokens = app.sign_in(email).await;
    let bearer = access(&tokens).to_owned();
    secrets.push(bearer.clone());
    let changed = app.change_password(&bearer, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let moved = "life2@example.com";
    let asked = app.change_email(&bearer, moved, NEW_PASSWORD).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let token = mail_about(&smtp, moved, "Confirm").await.token().unwrap();
    secrets.push(token.clone());
    assert_eq!(
        app.confirm("/api/v1/auth/email/confirm", &token)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.forgot(moved).await.status(), StatusCode::ACCEPTED);
    let token = mail_about(&smtp, moved, "Reset").await.token().unwrap();
    secrets.push(token.clone());
    let third = "Third333x";
    secrets.push(third.to_owned());
    assert_eq!(
        app.reset_password(&token, third).await.status(),
        StatusCode::OK
    );
    let response = app.login(moved, third).await;
    assert_eq!(response.status(), StatusCode::OK);
    let last = body(response).await;
    assert_eq!(
        app.delete_me(access(&last), third).await.status(),
        StatusCode::NO_CONTENT
    );

    let expected = [
        "user.created",
        "user.verified",
        "user.updated",
        "user.passkey_added",
        "user.passkey_removed",
        "user.mfa_enabled",
        "user.mfa_disabled",
        "user.deactivated",
        "user.reactivated",
        "user.superuser_changed",
        "user.superuser_changed",
        "user.password_changed",
        "user.email_changed",
        "user.password_changed",
        "user.deleted",
    ];
    let delivered = receiver
        .wait_delivered(expected.len(), Duration::from_secs(30))
        .await;
    let bodies: Vec<Value> = delivered.iter().map(|d| d.body.clone()).collect();
    assert_eq!(kinds_of_user(&bodies, id), expected);
    // The stream holds the admin's creation too (before the webhook existed).
    let published = read_stream(
        &nats,
        &stream,
        expected.len() as u64 + 1,
        Duration::from_secs(30),
    )
    .await;
    let events: Vec<Value> = published.iter().map(|p| p.event.clone()).collect();
    assert_eq!(kinds_of_user(&events, id), expected);
    let stream_ids: Vec<&str> = published
        .iter()
        .filter(|p| p.event["data"]["user"]["id"] == json!(id))
        .map(|p| p.msg_id.as_str())
        .collect();
    let hook_ids: Vec<&str> = delivered
        .iter()
        .filter(|d| d.body["data"]["user"]["id"] == json!(id))
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(stream_ids, hook_ids, "one id for one event in both sinks");
    for message in &published {
        let event = &message.event;
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["id"].as_str(), Some(message.msg_id.as_str()));
        assert_eq!(event["source"].as_str(), Some(app.address.as_str()));
        assert_eq!(event["datacontenttype"], "application/json");
        assert_eq!(
            message.subject,
            format!("{prefix}.{}", event["type"].as_str().unwrap())
        );
        assert_eq!(message.content_type, "application/cloudevents+json");
        assert_eq!(
            event["subject"],
            json!(event["data"]["user"]["id"].to_string())
        );
    }
    let email_changed = &events
        .iter()
        .find(|e| e["type"] == "user.email_changed")
        .unwrap()["data"];
    assert_eq!(email_changed["previous_email"], email);
    assert_eq!(email_changed["user"]["email"], moved);
    // No password, token, code or secret in anything either sink carried.
    let requests = receiver.requests();
    let everything: Vec<&str> = published
        .iter()
        .map(|p| p.raw.as_str())
        .chain(requests.iter().map(|d| d.raw.as_str()))
        .collect();
    for secret in &secrets {
        for carried in &everything {
            assert!(!carried.contains(secret.as_str()), "{secret} in {carried}");
        }
    }
    for carried in &everything {
        assert!(!carried.contains("$2b$"), "a hash in {carried}");
    }
    verify_with_standardwebhooks(&hook_secret, &delivered);
    delete_stream(&nats, &stream).await;
}

#[tokio::test]
#[ignore = "needs TEST_NATS_URL; run by .ci/run"]
async fn two_instances_publish_each_event_once_in_order_per_user() {
    let nats = nats_url();
    let (stream, prefix) = unique_stream();
    let receiver = Receiver::start().await;
    let vars = [
        ("EVENTS_NATS_URL", nats.as_str()),
        ("EVENTS_NATS_STREAM", stream.as_str()),
        ("EVENTS_NATS_SUBJECT_PREFIX", prefix.as_str()),
        ("EVENTS_POLL_INTERVAL_MS", "50"),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    let first = spawn_app_with(&vars).await;
    let second = spawn_app_on_database(first.database_url.clone(), &vars).await;
    let admin = admin_of(&first).await;
    add_webhook(&first, &admin, &receiver.url(), json!(["*"])).await;
    // Each user's events made alternately on both instances.
    let mut ids = Vec::new();
    let mut made = 0;
    for n in 0..10 {
        let app: &TestApp = if n % 2 == 0 { &first } else { &second };
        let id = app.register(&format!("pair{n}@example.com")).await["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/admin/users/{id}");
        let other: &TestApp = if n % 2 == 0 { &second } else { &first };
        for change in [
            json!({ "is_verified": true }),
            json!({ "full_name": "Pair" }),
        ] {
            assert_eq!(
                other.patch_as(&path, &admin, &change).await.status(),
                StatusCode::OK
            );
        }
        ids.push(id);
        made += 3;
    }
    let delivered = receiver.wait_delivered(made, Duration::from_secs(30)).await;
    // The admin's own creation is on the stream too.
    let published = read_stream(&nats, &stream, made as u64 + 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut stream_ids: Vec<&str> = published.iter().map(|p| p.msg_id.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    assert_eq!(
        stream_ids.len(),
        published.len(),
        "no duplicate in the stream"
    );
    let requests = receiver.requests();
    let mut hook_ids: Vec<&str> = requests.iter().map(|d| d.id.as_str()).collect();
    hook_ids.sort_unstable();
    hook_ids.dedup();
    assert_eq!(hook_ids.len(), delivered.len(), "no webhook sent twice");
    let bodies: Vec<Value> = delivered.iter().map(|d| d.body.clone()).collect();
    let events: Vec<Value> = published.iter().map(|p| p.event.clone()).collect();
    for id in ids {
        let order = ["user.created", "user.verified", "user.updated"];
        assert_eq!(kinds_of_user(&bodies, id), order, "webhook order of {id}");
        assert_eq!(kinds_of_user(&events, id), order, "stream order of {id}");
    }
    delete_stream(&nats, &stream).await;
}

/// A private NATS server with JetStream on `port`, storing in `store`.
struct PrivateNats {
    port: u16,
    store: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl PrivateNats {
    fn start(store: &std::path::Path) -> Self {
        let mut nats = Self {
            port: flowrex_infrastructure::test_support::spare_port(),
            store: store.to_path_buf(),
            child: None,
        };
        nats.resume();
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn resume(&mut self) {
        let child = std::process::Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts (Debian's nats-server package)");
        self.child = Some(child);
        flowrex_infrastructure::test_support::wait_for_port(
            self.port,
            "nats-server",
            Duration::from_secs(20),
        );
    }

    /// Stops the server as an operator does (SIGTERM), and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
#[ignore = "starts a private nats-server; run by .ci/run"]
async fn a_nats_server_restarted_during_a_burst_misses_no_event_and_holds_none_twice() {
    let store = tempfile::tempdir().unwrap();
    let mut nats = PrivateNats::start(store.path());
    let url = nats.url();
    let (stream, prefix) = unique_stream();
    let app = spawn_app_with(&[
        ("EVENTS_NATS_URL", url.as_str()),
        ("EVENTS_NATS_STREAM", stream.as_str()),
        ("EVENTS_NATS_SUBJECT_PREFIX", prefix.as_str()),
        ("EVENTS_POLL_INTERVAL_MS", "50"),
    ])
    .await;
    let burst = 60;
    let mut registered = Vec::new();
    for chunk in 0..6 {
        let answers = futures::future::join_all((0..10).map(|n| {
            let email = format!("burst{}@example.com", chunk * 10 + n);
            let app = &app;
            async move {
                app.register(&email).await;
                email
            }
        }))
        .await;
        registered.extend(answers);
        if chunk == 2 {
            nats.stop();
        }
        if chunk == 4 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            nats.resume();
        }
    }
    read_stream(&url, &stream, burst, Duration::from_secs(60)).await;
    // Time for a late retry to land, if one would.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = read_stream(&url, &stream, burst, Duration::from_secs(5)).await;
    assert_eq!(messages.len() as u64, burst, "each event once");
    let mut ids: Vec<&str> = messages.iter().map(|m| m.msg_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), messages.len(), "no event twice in the stream");
    let mut emails: Vec<String> = messages
        .iter()
        .map(|m| {
            m.event["data"]["user"]["email"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    emails.sort();
    registered.sort();
    assert_eq!(emails, registered, "no event missing");
}
