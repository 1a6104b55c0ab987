//! The audit trail: each flow leaves exactly its events, with actor, subject, session,
//! address, user agent and request id; no event holds a secret; an event commits or rolls
//! back with its change; users read only their own security events.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, access, body, refresh, spawn_app_with};

const AGENT: &str = "AuditTest/1.0";
const NEW_PASSWORD: &str = "Audited987";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    app.request(method, path, token, &[("User-Agent", AGENT)], body.as_ref())
        .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    send(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

/// A server with the superuser `root@example.com`; its token.
async fn with_root(extra: &[(&str, &str)]) -> (TestApp, String) {
    let mut vars = vec![("RATE_LIMIT_PER_MINUTE", "0")];
    vars.extend_from_slice(extra);
    let app = spawn_app_with(&vars).await;
    app.register_superuser("root@example.com").await;
    let root = access(&body(login(&app, "root@example.com", PASSWORD).await).await).to_owned();
    (app, root)
}

/// Every event about `user` (as actor or subject), oldest first.
async fn events_of(app: &TestApp, root: &str, user: i64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/admin/audit?user_id={user}&limit=5&cursor={cursor}");
        let page = send(app, Method::GET, &path, Some(root), None).await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = body(page).await;
        events.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    events.reverse();
    events
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// How many events match the SQL condition `condition`.
async fn count(app: &TestApp, condition: &str) -> u64 {
    app.query_string(&format!(
        "SELECT CAST(COUNT(*) AS CHAR(20)) AS v FROM audit_events WHERE {condition}"
    ))
    .await
    .trim()
    .parse()
    .expect("a count")
}

/// Waits until the buffered failed-login events are written.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_users_flows_leave_exactly_their_events_with_who_and_where() {
    let (app, root) = with_root(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await;
    let registered = send(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": "ada@example.com", "password": PASSWORD})),
    )
    .await;
    let id = body(registered).await["id"].as_i64().unwrap();
    assert_eq!(
        login(&app, "ada@example.com", "Wrong1234").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "nobody@example.com", "Wrong1234")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let first = body(login(&app, "ada@example.com", PASSWORD).await).await;
    let second = body(login(&app, "ada@example.com", PASSWORD).await).await;
    let sessions = body(
        send(
            &app,
            Method::GET,
            "/api/v1/auth/sessions",
            Some(access(&first)),
            None,
        )
        .await,
    )
    .await;
    let other = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .unwrap();
    let revoked = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/auth/sessions/{other}"),
        Some(access(&first)),
        None,
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let changed = app
        .request(
            Method::POST,
            "/api/v1/auth/password/change",
            Some(access(&first)),
            &[("User-Agent", AGENT), ("X-Request-Id", "req-change-1")],
            Some(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let logout = send(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        Some(access(&first)),
        None,
    )
    .await;
    assert_eq!(logout.status(), StatusCode::OK);
    let last = body(login(&app, "ada@example.com", NEW_PASSWORD).await).await;
    let deleted = send(
        &app,
        Method::DELETE,
        "/api/v1/auth/me",
        Some(access(&last)),
        Some(json!({"current_password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    settle().await;

    let events = events_of(&app, &root, id).await;
    assert_eq!(
        actions(&events),
        [
            "user_registered",
            "login_failed",
            "login_succeeded",
            "login_succeeded",
            "session_revoked",
            "password_changed",
            "logout",
            "login_succeeded",
            "account_deleted",
        ],
        "{events:#?}"
    );
    for event in &events {
        assert_eq!(event["subject_id"], id, "{event}");
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        assert_eq!(event["user_agent"], AGENT, "{event}");
        assert!(event["request_id"].is_string(), "{event}");
    }
    assert_eq!(events[1]["actor_id"], Value::Null, "an anonymous attempt");
    assert_eq!(events[1]["details"], json!({"reason": "wrong_password"}));
    assert_eq!(events[2]["actor_id"], id);
    assert!(events[2]["session_id"].is_string());
    assert_eq!(events[4]["details"], json!({"by": "user"}));
    assert_eq!(events[4]["session_id"], other.as_str());
    assert_eq!(events[5]["request_id"], "req-change-1");
    assert_eq!(events[6]["details"], json!({"scope": "session"}));
    // The second session ended with the password change: a revocation, not a logout.
    let _ = second;

    // Nothing secret anywhere in the trail.
    assert!(count(&app, "1 = 1").await >= 9);
    for secret in [
        PASSWORD,
        NEW_PASSWORD,
        "Wrong1234",
        "$2b$",
        refresh(&first),
        access(&last),
    ] {
        let hits = count(
            &app,
            &format!(
                "details LIKE '%{secret}%' OR COALESCE(user_agent, '') LIKE '%{secret}%' \
                 OR COALESCE(session_id, '') LIKE '%{secret}%'"
            ),
        )
        .await;
        assert_eq!(hits, 0, "{secret} found in the trail");
    }
}

#[tokio::test]
async fn refused_logins_are_recorded_with_their_reason_and_throttled_ones_counted_per_window() {
    let (app, root) = with_root(&[
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "2"),
        ("LOGIN_FAILURE_WINDOW_SECONDS", "2"),
    ])
    .await;
    let id = app.register("guess@example.com").await["id"]
        .as_i64()
        .unwrap();
    // Two wrong passwords, then five attempts the throttle refuses unchecked.
    for _ in 0..7 {
        login(&app, "guess@example.com", "Wrong1234").await;
    }
    settle().await;
    let reasons = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["action"] == "login_failed")
            .map(|e| e["details"]["reason"].clone())
            .collect()
    };
    let events = events_of(&app, &root, id).await;
    assert_eq!(
        reasons(&events),
        [json!("wrong_password"), json!("wrong_password")],
        "each checked failure is one event"
    );
    assert!(
        !events.iter().any(|e| e["action"] == "login_throttled"),
        "the window's count is written once the window has ended"
    );
    // The window (2 s) ends: its five refusals are one event.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let events = events_of(&app, &root, id).await;
    let throttled: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "login_throttled")
        .collect();
    assert_eq!(throttled.len(), 1, "{events:?}");
    assert_eq!(throttled[0]["details"]["count"], 5);
    assert_eq!(throttled[0]["details"]["scope"], "account");
    assert_eq!(throttled[0]["subject_id"], id);
    assert_eq!(throttled[0]["ip"], "127.0.0.1");
    let by_action = body(
        send(
            &app,
            Method::GET,
            "/api/v1/admin/audit?action=login_failed",
            Some(&root),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(by_action["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn administration_leaves_its_events_and_a_refused_change_leaves_none() {
    let (app, root) = with_root(&[]).await;
    let root_id =
        body(send(&app, Method::GET, "/api/v1/auth/me", Some(&root), None).await).await["id"]
            .as_i64()
            .unwrap();
    let created = send(
        &app,
        Method::POST,
        "/api/v1/admin/users",
        Some(&root),
        Some(json!({"email": "staff@example.com", "password": "Staff1234"})),
    )
    .await;
    let id = body(created).await["id"].as_i64().unwrap();
    send(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{id}"),
        Some(&root),
        Some(json!({"is_verified": true, "full_name": "Staff"})),
    )
    .await;
    login(&app, "staff@example.com", "Staff1234").await;
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/admin/users/{id}/sessions"),
        Some(&root),
        None,
    )
    .await;
    // Refused: the change and its event roll back together.
    let refused = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{root_id}"),
        Some(&root),
        Some(json!({"is_superuser": false})),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let taken = send(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": "staff@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::BAD_REQUEST);
    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/admin/users/{id}"),
        Some(&root),
        None,
    )
    .await;

    let events = events_of(&app, &root, id).await;
    assert_eq!(
        actions(&events),
        [
            "admin_user_created",
            "admin_user_updated",
            "login_succeeded",
            "admin_sessions_revoked",
            "admin_user_deleted"
        ],
        "{events:#?}"
    );
    for event in events.iter().filter(|e| e["action"] != "login_succeeded") {
        assert_eq!(event["actor_id"], root_id, "{event}");
        assert_eq!(event["subject_id"], id, "{event}");
    }
    assert_eq!(
        events[1]["details"],
        json!({"fields": ["is_verified", "full_name"], "is_verified": {"old": false, "new": true}})
    );
    let root_events = events_of(&app, &root, root_id).await;
    assert!(
        !root_events
            .iter()
            .any(|e| e["action"] == "admin_user_updated" && e["subject_id"] == root_id),
        "the refused demotion left no event: {root_events:#?}"
    );
}

#[tokio::test]
async fn each_user_reads_only_their_own_security_events() {
    let (app, root) = with_root(&[]).await;
    let ada = access(&app.register_and_login("ada@example.com").await).to_owned();
    let bob = access(&app.register_and_login("bob@example.com").await).to_owned();
    login(&app, "bob@example.com", "Wrong1234").await;
    settle().await;
    let mine = body(
        send(
            &app,
            Method::GET,
            "/api/v1/auth/security-events",
            Some(&ada),
            None,
        )
        .await,
    )
    .await;
    let ada_id = body(app.get_me(&ada).await).await["id"].clone();
    let items = mine["items"].as_array().unwrap();
    assert_eq!(
        actions(items),
        ["login_succeeded", "user_registered"],
        "newest first"
    );
    assert!(items.iter().all(|e| e["subject_id"] == ada_id));
    let theirs = body(
        send(
            &app,
            Method::GET,
            "/api/v1/auth/security-events?limit=1",
            Some(&bob),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(theirs["items"][0]["action"], "login_failed");
    assert!(theirs["next_cursor"].is_string());
    assert_eq!(
        send(&app, Method::GET, "/api/v1/admin/audit", Some(&bob), None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, Method::GET, "/api/v1/admin/audit", Some(&root), None)
            .await
            .status(),
        StatusCode::OK
    );
    for bad in [
        "action=password",
        "since=yesterday",
        "limit=500",
        "user_id=x",
    ] {
        let answer = send(
            &app,
            Method::GET,
            &format!("/api/v1/admin/audit?{bad}"),
            Some(&root),
            None,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let future = send(
        &app,
        Method::GET,
        "/api/v1/admin/audit?since=2999-01-01T00:00:00Z",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(body(future).await["items"], json!([]));
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn the_mailed_flows_leave_their_events() {
    let smtp = flowrex_infrastructure::test_support::smtp::PrivateSmtp::start();
    let url = smtp.url();
    let (app, root) = with_root(&[
        ("SMTP_URL", url.as_str()),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("EMAIL_RESEND_INTERVAL_SECONDS", "0"),
    ])
    .await;
    let id = app.register("mail@example.com").await["id"]
        .as_i64()
        .unwrap();
    // The n-th mail to `to` about `subject` (1 for the first).
    let token_of = |to: &'static str, subject: &'static str, n: usize| {
        let smtp = &smtp;
        async move {
            for _ in 0..200 {
                let mails: Vec<_> = smtp
                    .messages_to(to)
                    .into_iter()
                    .filter(|m| m.subject.contains(subject))
                    .collect();
                if mails.len() >= n {
                    return mails[n - 1].token().unwrap();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no mail about {subject}");
        }
    };
    token_of("mail@example.com", "Verify", 1).await;
    app.post_json(
        "/api/v1/auth/verify-email/request",
        &json!({"email": "mail@example.com"}),
    )
    .await;
    let verify = token_of("mail@example.com", "Verify", 2).await;
    app.post_json(
        "/api/v1/auth/verify-email/confirm",
        &json!({ "token": verify }),
    )
    .await;
    app.post_json(
        "/api/v1/auth/password/forgot",
        &json!({"email": "mail@example.com"}),
    )
    .await;
    let reset = token_of("mail@example.com", "Reset", 1).await;
    app.post_json(
        "/api/v1/auth/password/reset",
        &json!({"token": reset, "new_password": NEW_PASSWORD}),
    )
    .await;
    let tokens =
        access(&body(login(&app, "mail@example.com", NEW_PASSWORD).await).await).to_owned();
    let asked = send(
        &app,
        Method::POST,
        "/api/v1/auth/email/change",
        Some(&tokens),
        Some(json!({"new_email": "moved@example.com", "current_password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let change = token_of("moved@example.com", "Confirm", 1).await;
    app.post_json("/api/v1/auth/email/confirm", &json!({ "token": change }))
        .await;
    send(
        &app,
        Method::POST,
        "/api/v1/auth/verify-email/request",
        Some(&tokens),
        None,
    )
    .await;
    let events = events_of(&app, &root, id).await;
    assert_eq!(
        actions(&events),
        [
            "user_registered",
            "email_verification_requested",
            "email_verified",
            "password_reset_requested",
            "password_reset",
            "login_succeeded",
            "email_change_requested",
            "email_changed",
        ],
        "{events:#?}"
    );
    assert_eq!(
        events[7]["details"],
        json!({"from": "mail@example.com", "to": "moved@example.com"})
    );
    assert_eq!(events[6]["details"], json!({"to": "moved@example.com"}));
    for token in [verify, reset, change] {
        assert_eq!(count(&app, &format!("details LIKE '%{token}%'")).await, 0);
    }
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_session_and_says_so() {
    let (app, root) = with_root(&[("REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    let tokens = app.register_and_login("replay@example.com").await;
    let id = body(app.get_me(access(&tokens)).await).await["id"]
        .as_i64()
        .unwrap();
    let old = refresh(&tokens);
    assert_eq!(app.post_refresh(old).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        app.post_refresh(old).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let events = events_of(&app, &root, id).await;
    let revoked: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "session_revoked")
        .collect();
    assert_eq!(revoked.len(), 1, "{events:#?}");
    assert_eq!(revoked[0]["details"], json!({"by": "reuse_detection"}));
    assert_eq!(revoked[0]["actor_id"], Value::Null);
    assert_eq!(revoked[0]["subject_id"], id);
}
