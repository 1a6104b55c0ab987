//! Account events end to end: every lifecycle, admin, MFA and passkey flow announces its
//! event to a real NATS JetStream stream and to a real HTTP receiver, in order per user,
//! with one id in both, signed as the Standard Webhooks specification says (checked by its
//! own Python package), and holding none of the passwords, tokens and codes the flows
//! used; a change that rolls back announces nothing; a receiver that fails, is slow or is
//! down gets every event, with one `webhook-id` on every try; the admin webhook routes;
//! webhook URLs that reach private addresses are refused.
//!
//! The stream tests need `TEST_NATS_URL` (and the mail flows aiosmtpd): they are
//! `#[ignore]`d, and `.ci/run` runs them.

use std::time::{Duration, Instant};

pub(crate) use flowrex_infrastructure::test_support::webhooks::{Delivery, Receiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, access, body, spawn_app_with};

/// How long an event may take to arrive in these tests (first retries are 5 s apart).
const ARRIVAL: Duration = Duration::from_secs(30);

/// A server whose webhooks may reach loopback, with a superuser: the superuser's access
/// token.
pub(crate) async fn app_with_admin(extra: &[(&str, &str)]) -> (TestApp, String) {
    let mut vars = vec![
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("EVENTS_POLL_INTERVAL_MS", "100"),
    ];
    vars.extend_from_slice(extra);
    let app = spawn_app_with(&vars).await;
    let admin = admin_of(&app).await;
    (app, admin)
}

/// Registers a superuser on `app`: its access token.
pub(crate) async fn admin_of(app: &TestApp) -> String {
    let email = format!("root{}@example.com", rand_suffix());
    app.register_superuser(&email).await;
    access(&app.sign_in(&email).await).to_owned()
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) % 1_000_000_007
}

/// Registers `url` for `events`: the endpoint's body (with its secret).
pub(crate) async fn add_webhook(app: &TestApp, admin: &str, url: &str, events: Value) -> Value {
    let made = app
        .post_as(
            "/api/v1/admin/webhooks",
            admin,
            &json!({ "url": url, "events": events, "description": "tests" }),
        )
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    body(made).await
}

/// The `user.*` deliveries about the user `id`, in the order they were delivered.
fn about(deliveries: &[Delivery], id: i64) -> Vec<Delivery> {
    deliveries
        .iter()
        .filter(|d| d.body["data"]["user"]["id"] == json!(id))
        .cloned()
        .collect()
}

fn types(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| d.body["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The signature a receiver computes, for the tests that run without Python.
fn verifies(secret: &str, delivery: &Delivery) -> bool {
    let expected = flowrex_infrastructure::webhook::signature(
        &[secrecy::SecretString::from(secret.to_owned())],
        &delivery.id,
        delivery.timestamp.parse().unwrap(),
        delivery.raw.as_bytes(),
    );
    delivery.signature.split(' ').any(|part| part == expected)
}

#[tokio::test]
async fn a_registration_is_delivered_signed_with_the_documented_body() {
    let receiver = Receiver::start().await;
    let (app, admin) = app_with_admin(&[]).await;
    let hook = add_webhook(&app, &admin, &receiver.url(), json!(["*"])).await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{hook}");
    let user = app.register("ada@example.com").await;
    let delivered = receiver.wait_delivered(1, ARRIVAL).await;
    let event = &delivered[0];
    assert!(verifies(secret, event), "{event:?}");
    assert_eq!(event.body["type"], "user.created");
    assert!(
        event.body["timestamp"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{}",
        event.body
    );
    let shown = body(
        app.get_as(&format!("/api/v1/admin/users/{}", user["id"]), &admin)
            .await,
    )
    .await;
    assert_eq!(
        event.body["data"]["user"], shown,
        "the user as the admin API shows it"
    );
    assert_eq!(event.id.len(), 36, "the event's id is a UUID: {}", event.id);
    assert!(!event.raw.contains("hashed_password") && !event.raw.contains("$2b$"));
    let timestamp: i64 = event.timestamp.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
}

#[tokio::test]
async fn admin_flows_announce_their_events_in_order_and_a_filter_limits_them() {
    let all = Receiver::start().await;
    let deletions = Receiver::start().await;
    let (app, admin) = app_with_admin(&[]).await;
    add_webhook(&app, &admin, &all.url(), json!(["*"])).await;
    add_webhook(&app, &admin, &deletions.url(), json!(["user.deleted"])).await;
    let user = app.register("flows@example.com").await;
    let id = user["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/users/{id}");
    for change in [
        json!({ "is_verified": true }),
        json!({ "full_name": "Flo" }),
        json!({ "is_superuser": true }),
        json!({ "is_superuser": false }),
        json!({ "is_active": false }),
        json!({ "is_active": true }),
        json!({ "is_verified": true }),
    ] {
        let changed = app.patch_as(&path, &admin, &change).await;
        assert_eq!(changed.status(), StatusCode::OK, "{change}");
    }
    let deleted = app.delete_as(&path, &admin).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let expected = [
        "user.created",
        "user.verified",
        "user.updated",
        "user.superuser_changed",
        "user.superuser_changed",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
    ];
    all.wait_delivered(expected.len(), ARRIVAL).await;
    let received = about(&all.delivered(), id);
    assert_eq!(
        types(&received),
        expected,
        "the same value twice announces nothing"
    );
    assert_eq!(received[2].body["data"]["user"]["full_name"], "Flo");
    assert_eq!(received[3].body["data"]["user"]["is_superuser"], true);
    assert_eq!(
        received[7].body["data"]["user"]["email"],
        "flows@example.com"
    );
    let only = deletions.wait_delivered(1, ARRIVAL).await;
    assert_eq!(types(&only), ["user.deleted"]);
    assert_eq!(
        only[0].id, received[7].id,
        "one id for one event in every sink"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deletions.requests().len(), 1);
}

#[tokio::test]
async fn a_change_that_rolls_back_announces_nothing() {
    let receiver = Receiver::start().await;
    let (app, admin) = app_with_admin(&[]).await;
    add_webhook(&app, &admin, &receiver.url(), json!(["*"])).await;
    // The audit row is the change set's last write, after its events are queued: make it
    // fail, and the registration (with its event) rolls back.
    let url = app.database_url.clone();
    let trigger = if url.starts_with("postgres") {
        vec![
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ]
    } else if url.starts_with("mysql") {
        vec![
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'",
        ]
    } else {
        vec![
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'refused'); END",
        ]
    };
    for statement in trigger {
        app.execute_sql(statement).await;
    }
    let refused = app
        .post_register(&json!({ "email": "never@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        app.query_string(
            "SELECT CAST(COUNT(*) AS CHAR(8)) AS v FROM account_events WHERE payload LIKE '%never@example.com%'"
        )
        .await
        .trim(),
        "0"
    );
    let drop = if url.starts_with("postgres") {
        "DROP TRIGGER refuse_audit ON audit_events"
    } else {
        "DROP TRIGGER refuse_audit"
    };
    app.execute_sql(drop).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
    app.register("later@example.com").await;
    let delivered = receiver.wait_delivered(1, ARRIVAL).await;
    assert_eq!(
        delivered[0].body["data"]["user"]["email"],
        "later@example.com"
    );
}

#[tokio::test]
async fn a_receiver_answering_500_then_200_gets_each_event_with_one_id() {
    let receiver = Receiver::start().await;
    // A redirect is a failure too: it is not followed.
    receiver.answer_next(&[500, 302]);
    let (app, admin) = app_with_admin(&[]).await;
    add_webhook(&app, &admin, &receiver.url(), json!(["user.created"])).await;
    let first = app.register("one@example.com").await["id"]
        .as_i64()
        .unwrap();
    let delivered = receiver.wait_delivered(1, ARRIVAL).await;
    let tries = receiver.requests();
    assert_eq!(tries.len(), 3, "{tries:?}");
    assert!(tries.iter().all(|t| t.id == delivered[0].id), "{tries:?}");
    assert!(tries.iter().all(|t| t.raw == delivered[0].raw));
    assert_eq!(delivered[0].body["data"]["user"]["id"], json!(first));
    let log = body(
        app.get_as(&format!("/api/v1/admin/webhooks/{}/deliveries", 1), &admin)
            .await,
    )
    .await;
    let entry = &log["items"][0];
    assert_eq!(entry["event_id"].as_str(), Some(delivered[0].id.as_str()));
    assert_eq!(entry["status"], "delivered");
    assert_eq!(entry["attempts"], 3);
    assert_eq!(entry["status_code"], 200);
    assert_eq!(entry["next_attempt_at"], Value::Null);
}

#[tokio::test]
async fn a_receiver_slow_past_the_timeout_gets_the_event_again() {
    let receiver = Receiver::start().await;
    receiver.delay_next(Duration::from_secs(12));
    let (app, admin) = app_with_admin(&[]).await;
    add_webhook(&app, &admin, &receiver.url(), json!(["user.created"])).await;
    app.register("slow@example.com").await;
    let delivered = receiver.wait_delivered(2, ARRIVAL).await;
    // The first (slow) answer came after the sender gave up at 10 s: the event went again,
    // with the same id.
    assert_eq!(delivered[0].id, delivered[1].id);
}

#[tokio::test]
async fn a_receiver_down_for_30_seconds_gets_every_event_within_30_more() {
    let mut receiver = Receiver::start().await;
    let (app, admin) = app_with_admin(&[]).await;
    add_webhook(&app, &admin, &receiver.url(), json!(["*"])).await;
    receiver.stop().await;
    assert_eq!(
        app.get("/health/ready").await.status(),
        StatusCode::OK,
        "a sink that is down does not make the service unready"
    );
    let mut ids = Vec::new();
    for n in 0..3 {
        let user = app.register(&format!("down{n}@example.com")).await;
        ids.push(user["id"].as_i64().unwrap());
        let path = format!("/api/v1/admin/users/{}", ids[n]);
        app.patch_as(&path, &admin, &json!({ "is_verified": true }))
            .await;
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    receiver.resume().await;
    let back = Instant::now();
    let delivered = receiver.wait_delivered(6, Duration::from_secs(30)).await;
    assert!(back.elapsed() <= Duration::from_secs(30));
    for id in ids {
        assert_eq!(
            types(&about(&delivered, id)),
            ["user.created", "user.verified"],
            "in order per user"
        );
    }
    let mut seen: Vec<&str> = delivered.iter().map(|d| d.id.as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 6, "each event once");
}

#[tokio::test]
async fn webhook_endpoints_are_managed_by_superusers_and_never_show_a_secret_again() {
    let receiver = Receiver::start().await;
    let (app, admin) = app_with_admin(&[]).await;
    let user = app.register_verified_and_login("plain@example.com").await;
    let refused = app
        .post_as(
            "/api/v1/admin/webhooks",
            access(&user),
            &json!({ "url": receiver.url(), "events": ["*"] }),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    for bad in [
        json!({ "url": receiver.url(), "events": [] }),
        json!({ "url": receiver.url(), "events": ["user.nope"] }),
        json!({ "url": receiver.url(), "events": "*" }),
        json!({ "url": "ftp://example.com/x", "events": ["*"] }),
        json!({ "url": receiver.url() }),
        json!({ "url": receiver.url(), "events": ["*"], "secret": "mine" }),
    ] {
        let answer = app.post_as("/api/v1/admin/webhooks", &admin, &bad).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(body(answer).await["detail"].is_array());
    }
    let made = add_webhook(&app, &admin, &receiver.url(), json!(["user.deleted"])).await;
    let id = made["id"].as_i64().unwrap();
    let first_secret = made["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/webhooks/{id}");
    let listed = body(app.get_as("/api/v1/admin/webhooks", &admin).await).await;
    assert_eq!(listed["items"][0]["id"], json!(id));
    assert!(!listed.to_string().contains("whsec_"), "{listed}");
    let shown = body(app.get_as(&path, &admin).await).await;
    assert_eq!(shown["events"], json!(["user.deleted"]));
    assert!(shown.get("secret").is_none());
    let changed = app
        .patch_as(
            &path,
            &admin,
            &json!({ "events": ["*"], "description": null }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed = body(changed).await;
    assert_eq!(changed["events"], json!(["*"]));
    assert_eq!(changed["description"], Value::Null);
    // A test event, signed by the secret; then a rotation: both secrets sign for a day.
    let tested = app
        .post_as(&format!("{path}/test"), &admin, &json!({}))
        .await;
    assert_eq!(tested.status(), StatusCode::ACCEPTED);
    let test_id = body(tested).await["event_id"].as_str().unwrap().to_owned();
    let delivered = receiver.wait_delivered(1, ARRIVAL).await;
    assert_eq!(delivered[0].id, test_id);
    assert_eq!(delivered[0].body["type"], "webhook.test");
    assert!(verifies(&first_secret, &delivered[0]));
    let rotated = app
        .post_as(&format!("{path}/rotate-secret"), &admin, &json!({}))
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated = body(rotated).await;
    let second_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(second_secret, first_secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    app.post_as(&format!("{path}/test"), &admin, &json!({}))
        .await;
    let delivered = receiver.wait_delivered(2, ARRIVAL).await;
    assert_eq!(delivered[1].signature.split(' ').count(), 2);
    assert!(verifies(&first_secret, &delivered[1]));
    assert!(verifies(&second_secret, &delivered[1]));
    // Disabled, then removed: nothing more is sent.
    let disabled = app
        .patch_as(&path, &admin, &json!({ "enabled": false }))
        .await;
    assert_eq!(body(disabled).await["enabled"], false);
    let refused = app
        .post_as(&format!("{path}/test"), &admin, &json!({}))
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    app.register("quiet@example.com").await;
    let gone = app.delete_as(&path, &admin).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(&path, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    app.register("quieter@example.com").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.requests().len(), 2);
    // Audited, without the secret.
    let audit = body(
        app.get_as("/api/v1/admin/audit?action=webhook_created", &admin)
            .await,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
    let trail = body(app.get_as("/api/v1/admin/audit", &admin).await).await;
    assert!(!trail.to_string().contains("whsec_"));
    for action in [
        "webhook_updated",
        "webhook_secret_rotated",
        "webhook_deleted",
    ] {
        assert!(trail.to_string().contains(action), "{action}: {trail}");
    }
}

#[tokio::test]
async fn urls_reaching_private_addresses_are_refused_unless_allowed() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&[]).await;
    let admin = admin_of(&app).await;
    for url in [
        receiver.url(),
        format!("http://localhost:{}/hook", receiver.port),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]/hook".to_owned(),
        "http://10.0.0.8/hook".to_owned(),
    ] {
        let refused = app
            .post_as(
                "/api/v1/admin/webhooks",
                &admin,
                &json!({ "url": url, "events": ["*"] }),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let detail = body(refused).await;
        assert_eq!(
            detail["detail"][0]["loc"],
            json!(["body", "url"]),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn the_event_schemas_are_published() {
    let app = spawn_app_with(&[]).await;
    let schemas = app.get("/api/v1/events/schema").await;
    assert_eq!(schemas.status(), StatusCode::OK);
    let schemas = body(schemas).await;
    for kind in [
        "user.created",
        "user.verified",
        "user.updated",
        "user.email_changed",
        "user.password_changed",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
        "user.superuser_changed",
        "user.mfa_enabled",
        "user.mfa_disabled",
        "user.passkey_added",
        "user.passkey_removed",
        "user.identity_linked",
        "user.identity_unlinked",
        "webhook.test",
    ] {
        assert!(schemas["events"][kind].is_object(), "{kind}: {schemas}");
    }
}
