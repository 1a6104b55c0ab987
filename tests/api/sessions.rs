//! Server-side sessions (issue 6): refresh rotation with reuse detection, logout that
//! revokes, logout everywhere, the sessions list, and strict token validation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    JWT_SECRET, PASSWORD, TestApp, access, assert_detail, assert_invalid_credentials,
    assert_invalid_token, assert_logged_out, body, exp_in, header, refresh, spawn_app,
    spawn_app_on_database, spawn_app_with,
};

async fn assert_refresh_refused(app: &TestApp, refresh: &str) {
    assert_invalid_token(app.post_refresh(refresh).await).await;
}

async fn assert_me_refused(app: &TestApp, access: &str) {
    assert_invalid_credentials(app.get_me(access).await).await;
}

#[tokio::test]
async fn a_rotated_refresh_token_presented_again_revokes_the_whole_family() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE_SECONDS", "1")]).await;
    let first = app.register_and_login("rotate@example.com").await;
    let response = app.post_refresh(refresh(&first)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "refresh gives a new pair"
    );
    let second = body(response).await;
    assert_ne!(refresh(&second), refresh(&first));
    assert_eq!(app.get_me(access(&second)).await.status(), StatusCode::OK);

    // The old refresh token again (after the grace period): a replay.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_refresh_refused(&app, refresh(&first)).await;
    assert_refresh_refused(&app, refresh(&second)).await;
    assert_me_refused(&app, access(&second)).await;
    assert_me_refused(&app, access(&first)).await;
}

#[tokio::test]
async fn the_same_refresh_twice_at_once_does_not_log_the_client_out() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("tabs@example.com").await;
    let refresh_token = refresh(&tokens);
    let (a, b) = tokio::join!(
        app.post_refresh(refresh_token),
        app.post_refresh(refresh_token)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 401],
        "one rotation wins, the other is refused"
    );
    let winner = if a.status() == StatusCode::OK {
        body(a).await
    } else {
        body(b).await
    };
    let again = app.post_refresh(refresh(&winner)).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the family survives a replay within the grace period"
    );
}

#[tokio::test]
async fn logout_revokes_that_sessions_access_and_refresh_tokens_only() {
    let app = spawn_app().await;
    let phone = app.register_and_login("out@example.com").await;
    let laptop = app.sign_in("out@example.com").await;
    let response = app.logout(Some(access(&phone)), None).await;
    assert_logged_out(response).await;
    assert_me_refused(&app, access(&phone)).await;
    assert_refresh_refused(&app, refresh(&phone)).await;
    assert_eq!(
        app.get_me(access(&laptop)).await.status(),
        StatusCode::OK,
        "other sessions stay"
    );
}

#[tokio::test]
async fn logout_with_the_refresh_token_in_the_body_revokes_its_session() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("body@example.com").await;
    let response = app
        .logout(None, Some(&json!({"refresh_token": refresh(&tokens)})))
        .await;
    assert_logged_out(response).await;
    assert_refresh_refused(&app, refresh(&tokens)).await;
    assert_me_refused(&app, access(&tokens)).await;
}

#[tokio::test]
async fn logout_everywhere_revokes_every_session() {
    let app = spawn_app().await;
    let sessions = [
        app.register_and_login("all@example.com").await,
        app.sign_in("all@example.com").await,
        app.sign_in("all@example.com").await,
    ];
    let response = app
        .logout(Some(access(&sessions[0])), Some(&json!({"scope": "all"})))
        .await;
    assert_logged_out(response).await;
    for tokens in &sessions {
        assert_me_refused(&app, access(tokens)).await;
        assert_refresh_refused(&app, refresh(tokens)).await;
    }
    assert_eq!(
        app.sign_in("all@example.com").await["token_type"],
        "bearer",
        "a new login works"
    );
}

#[tokio::test]
async fn logout_without_or_with_a_bad_token_still_answers_the_specs_body() {
    let app = spawn_app().await;
    assert_logged_out(app.logout(None, None).await).await;
    assert_logged_out(
        app.logout(Some("garbage"), Some(&json!({"scope": "all"})))
            .await,
    )
    .await;
}

#[tokio::test]
async fn sessions_are_listed_and_one_can_be_revoked() {
    let app = spawn_app().await;
    let first = app.register_and_login("list@example.com").await;
    let second = app
        .post_json_with(
            "/api/v1/auth/login",
            &[("user-agent", "flowrex-test/1.0")],
            &json!({"email": "list@example.com", "password": PASSWORD}),
        )
        .await;
    let second = body(second).await;
    let response = app
        .request(
            Method::GET,
            "/api/v1/auth/sessions",
            Some(access(&second)),
            &[("user-agent", "flowrex-test/1.0")],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let list = body(response).await;
    let entries = list.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{list}");
    let current: Vec<_> = entries.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one is the caller's");
    assert_eq!(
        current[0]["user_agent"], "flowrex-test/1.0",
        "the login's User-Agent is kept"
    );
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for entry in &entries {
        for field in ["id", "created_at", "last_used_at", "expires_at"] {
            assert!(entry[field].is_string(), "{field} in {entry}");
        }
        assert!(
            entry.get("refresh_token_hash").is_none(),
            "no secret material: {entry}"
        );
    }
    let other = entries
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| s["id"].clone())
        .unwrap_or_default();
    let other = other.as_str().unwrap_or_default();

    let revoke = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{other}")))
        .bearer_auth(access(&second))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_me_refused(&app, access(&first)).await;
    assert_refresh_refused(&app, refresh(&first)).await;
    assert_eq!(app.get_me(access(&second)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_users_or_an_unknown_session_cannot_be_revoked() {
    let app = spawn_app().await;
    let alice = app.register_and_login("alice@example.com").await;
    let mallory = app.register_and_login("mallory@example.com").await;
    let list = app.get_as("/api/v1/auth/sessions", access(&alice)).await;
    let alices = body(list).await[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for id in [
        alices.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-a-session",
    ] {
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/auth/sessions/{id}")))
            .bearer_auth(access(&mallory))
            .send()
            .await
            .unwrap();
        assert_detail(response, StatusCode::NOT_FOUND, "Session not found").await;
    }
    assert_eq!(app.get_me(access(&alice)).await.status(), StatusCode::OK);
    let anonymous = app.get("/api/v1/auth/sessions").await;
    assert_detail(anonymous, StatusCode::UNAUTHORIZED, "Not authenticated").await;
}

fn signed(claims: &Value, secret: &str, algorithm: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn tokens_are_checked_for_algorithm_signature_audience_issuer_expiry_and_type() {
    let app = spawn_app().await;
    let tokens = app.register_and_login("claims@example.com").await;
    let access = access(&tokens);
    let payload = access.split('.').nth(1).unwrap_or_default();
    let claims: Value = {
        use base64_decode::decode;
        serde_json::from_slice(&decode(payload)).unwrap_or_default()
    };
    assert_eq!(claims["type"], "access");
    for name in ["sub", "exp", "iat", "jti", "sid", "iss", "aud"] {
        assert!(
            !claims[name].is_null(),
            "the access token carries {name}: {claims}"
        );
    }
    let with = |name: &str, value: Value| {
        let mut changed = claims.clone();
        changed[name] = value;
        changed
    };
    for forged in [
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        signed(&claims, "not-the-secret", jsonwebtoken::Algorithm::HS256),
        signed(&claims, JWT_SECRET, jsonwebtoken::Algorithm::HS512),
        signed(
            &with("aud", json!("another-service")),
            JWT_SECRET,
            jsonwebtoken::Algorithm::HS256,
        ),
        signed(
            &with("iss", json!("someone-else")),
            JWT_SECRET,
            jsonwebtoken::Algorithm::HS256,
        ),
        signed(
            &with("exp", json!(exp_in(-60))),
            JWT_SECRET,
            jsonwebtoken::Algorithm::HS256,
        ),
        signed(
            &with("type", json!("refresh")),
            JWT_SECRET,
            jsonwebtoken::Algorithm::HS256,
        ),
        signed(
            &with("sid", json!("00000000-0000-4000-8000-000000000000")),
            JWT_SECRET,
            jsonwebtoken::Algorithm::HS256,
        ),
    ] {
        assert_me_refused(&app, &forged).await;
    }
    let genuine = signed(&claims, JWT_SECRET, jsonwebtoken::Algorithm::HS256);
    assert_eq!(
        app.get_me(&genuine).await.status(),
        StatusCode::OK,
        "the same claims, properly signed, pass"
    );
}

#[tokio::test]
async fn a_logout_on_one_instance_is_enforced_by_another_at_once() {
    let first = spawn_app().await;
    let second = spawn_app_on_database(first.database_url.clone(), &[]).await;
    let tokens = first.register_and_login("shared@example.com").await;
    assert_eq!(
        second.get_me(access(&tokens)).await.status(),
        StatusCode::OK
    );
    first.logout(Some(access(&tokens)), None).await;
    assert_me_refused(&second, access(&tokens)).await;
    assert_refresh_refused(&second, refresh(&tokens)).await;
}

/// Base64url without padding, for reading a JWT payload.
mod base64_decode {
    pub fn decode(input: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        };
        let mut out = Vec::new();
        let (mut buffer, mut bits) = (0u32, 0);
        for sixbits in input.bytes().filter_map(value) {
            buffer = (buffer << 6) | u32::from(sixbits);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        out
    }
}
