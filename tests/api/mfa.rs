//! Second factors end to end over HTTP: enrol → activate → a login that answers
//! `mfa_required` → verify with a code → tokens carrying `amr`/`aal`; replays refused
//! (sequentially, concurrently, across two instances on one database); recovery codes
//! single use; the `aal2` rules; removal; and the untouched login of users without one.
//! Codes are computed from the enrolment's secret as an authenticator app would.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{
    PASSWORD, TestApp, access, assert_detail, assert_refused, body, claims, refresh, spawn_app,
    spawn_app_on_database,
};

/// The code of the step `offset` steps from now (an app whose clock is that far off).
pub(crate) fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    let now = chrono::Utc::now().timestamp() + offset * 30;
    totp.generate(u64::try_from(now).expect("time"))
}

impl TestApp {
    /// Enrols and activates TOTP for the user of `bearer`: the secret and the recovery
    /// codes.
    pub(crate) async fn enable_totp(&self, bearer: &str) -> (String, Vec<String>) {
        let enrolled = self
            .call(
                Method::POST,
                "/api/v1/auth/mfa/totp/enroll",
                Some(bearer),
                &json!({ "current_password": PASSWORD }),
            )
            .await;
        assert_eq!(enrolled.status(), StatusCode::OK);
        let enrolled = body(enrolled).await;
        let secret = enrolled["secret"].as_str().expect("secret").to_owned();
        let uri = enrolled["otpauth_uri"].as_str().expect("uri");
        assert!(uri.starts_with("otpauth://totp/Flowrex:"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(enrolled["qr_svg"].as_str().expect("svg").contains("<svg"));
        let activated = self
            .call(
                Method::POST,
                "/api/v1/auth/mfa/totp/activate",
                Some(bearer),
                &json!({ "code": code(&secret, 0) }),
            )
            .await;
        assert_eq!(activated.status(), StatusCode::OK);
        let codes: Vec<String> = body(activated).await["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        (secret, codes)
    }

    /// A login that must answer `mfa_required`: its `mfa_token`.
    pub(crate) async fn challenge(&self, email: &str) -> String {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let answer = body(response).await;
        assert_eq!(answer["detail"], "mfa_required");
        assert_eq!(answer["methods"], json!(["totp", "recovery_code"]));
        assert!(answer.get("access_token").is_none(), "no tokens: {answer}");
        assert!(answer.get("refresh_token").is_none(), "no tokens: {answer}");
        answer["mfa_token"].as_str().expect("mfa_token").to_owned()
    }

    async fn verify(&self, proof: &Value) -> Response {
        self.post_json("/api/v1/auth/mfa/verify", proof).await
    }

    /// Answers the challenge `mfa_token` with a TOTP code.
    async fn verify_code(&self, mfa_token: &str, code: &str) -> Response {
        self.verify(&json!({ "mfa_token": mfa_token, "code": code }))
            .await
    }
}

/// Asserts a challenge that is used up or unknown: 401 `Invalid or expired mfa_token`.
async fn assert_mfa_token_refused(response: Response) {
    assert_detail(
        response,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired mfa_token",
    )
    .await;
}

#[tokio::test]
async fn enrol_activate_login_verify_and_tokens_carry_amr_and_aal() {
    let app = spawn_app().await;
    let email = "mfa@example.com";
    let first = app.register_verified_and_login(email).await;
    assert_eq!(claims(access(&first))["amr"], json!(["pwd"]));
    assert_eq!(claims(access(&first))["aal"], "aal1");
    let (secret, recovery) = app.enable_totp(access(&first)).await;
    assert_eq!(recovery.len(), 10);
    assert!(recovery.iter().all(|c| c.len() == 19), "{recovery:?}");

    let token = app.challenge(email).await;
    // The activating code's step is spent: the next step's code (within the window) is not.
    let spent = app.verify_code(&token, &code(&secret, 0)).await;
    assert_detail(spent, StatusCode::UNAUTHORIZED, "Invalid code").await;
    let next = code(&secret, 1);
    let verified = app.verify_code(&token, &next).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let tokens = body(verified).await;
    assert_eq!(tokens["token_type"], "bearer");
    let claimed = claims(access(&tokens));
    assert_eq!(claimed["amr"], json!(["pwd", "otp"]));
    assert_eq!(claimed["aal"], "aal2");
    assert_eq!(app.get_me(access(&tokens)).await.status(), StatusCode::OK);

    // The same code again, on a fresh challenge: refused.
    let again = app.challenge(email).await;
    let replay = app.verify_code(&again, &next).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    // The used mfa_token is gone.
    let reused = app.verify_code(&token, &code(&secret, 1)).await;
    assert_mfa_token_refused(reused).await;

    // Refreshed tokens keep amr and aal; the sessions list shows them.
    let refreshed = app.post_refresh(refresh(&tokens)).await;
    let refreshed = body(refreshed).await;
    assert_eq!(claims(access(&refreshed))["amr"], json!(["pwd", "otp"]));
    let sessions = app
        .call(
            Method::GET,
            "/api/v1/auth/sessions",
            Some(access(&refreshed)),
            &json!({}),
        )
        .await;
    let sessions = body(sessions).await;
    let current = sessions
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session");
    assert_eq!(current["amr"], json!(["pwd", "otp"]));
    assert_eq!(current["aal"], "aal2");
    let first_session = sessions
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["aal"] == "aal1")
        .expect("the first login");
    assert_eq!(first_session["amr"], json!(["pwd"]));
}

#[tokio::test]
async fn a_recovery_code_works_exactly_once() {
    let app = spawn_app().await;
    let email = "recovery@example.com";
    let first = app.register_verified_and_login(email).await;
    let (_, recovery) = app.enable_totp(access(&first)).await;
    let token = app.challenge(email).await;
    let used = app
        .verify(&json!({ "mfa_token": token, "recovery_code": recovery[0].to_uppercase() }))
        .await;
    assert_eq!(used.status(), StatusCode::OK);
    let tokens = body(used).await;
    assert_eq!(claims(access(&tokens))["amr"], json!(["pwd", "recovery"]));
    assert_eq!(claims(access(&tokens))["aal"], "aal2");
    let token = app.challenge(email).await;
    let again = app
        .verify(&json!({ "mfa_token": token, "recovery_code": recovery[0] }))
        .await;
    assert_detail(again, StatusCode::UNAUTHORIZED, "Invalid code").await;
    // Another code of the set still works, and the use is in the user's security history.
    let other = app
        .verify(&json!({ "mfa_token": token, "recovery_code": recovery[1] }))
        .await;
    assert_eq!(other.status(), StatusCode::OK);
    let events = app
        .call(
            Method::GET,
            "/api/v1/auth/security-events",
            Some(access(&tokens)),
            &json!({}),
        )
        .await;
    let events = body(events).await.to_string();
    assert!(events.contains("recovery_code_used"), "{events}");
    assert!(events.contains("mfa_activated"), "{events}");
    assert!(!events.contains(&recovery[0]), "no code in the trail");
}

#[tokio::test]
async fn an_mfa_token_allows_five_tries() {
    let app = spawn_app().await;
    let email = "tries@example.com";
    let first = app.register_verified_and_login(email).await;
    let (secret, _) = app.enable_totp(access(&first)).await;
    let token = app.challenge(email).await;
    for _ in 0..5 {
        let wrong = app.verify_code(&token, "000000").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let sixth = app.verify_code(&token, &code(&secret, 1)).await;
    assert_mfa_token_refused(sixth).await;
    let garbled = app.verify(&json!({ "mfa_token": "x" })).await;
    assert_eq!(garbled.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let both = app
        .verify(&json!({ "mfa_token": "x", "code": "1", "recovery_code": "2" }))
        .await;
    assert_eq!(both.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn one_code_sent_to_two_instances_at_once_signs_in_once() {
    let first = spawn_app().await;
    let second = spawn_app_on_database(first.database_url.clone(), &[]).await;
    let email = "twice@example.com";
    let tokens = first.register_verified_and_login(email).await;
    let (secret, _) = first.enable_totp(access(&tokens)).await;
    // Four challenges, two on each instance, and one code (the next step's: the current
    // one activated the factor) sent with all four at once.
    let mut challenges = Vec::new();
    for app in [&first, &second, &first, &second] {
        challenges.push((app, app.challenge(email).await));
    }
    let code = code(&secret, 1);
    let proofs: Vec<(&TestApp, Value)> = challenges
        .into_iter()
        .map(|(app, token)| (app, json!({ "mfa_token": token, "code": code })))
        .collect();
    let answers =
        futures::future::join_all(proofs.iter().map(|(app, proof)| app.verify(proof))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(Response::status).collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn managing_the_factor_and_changing_the_password_need_an_aal2_session() {
    let app = spawn_app().await;
    let email = "aal@example.com";
    let weak = app.register_verified_and_login(email).await;
    let (secret, _) = app.enable_totp(access(&weak)).await;
    let weak = access(&weak);
    // The session that enrolled is still aal1.
    for (method, path, request) in [
        (
            Method::POST,
            "/api/v1/auth/mfa/totp/enroll",
            json!({ "current_password": PASSWORD }),
        ),
        (
            Method::POST,
            "/api/v1/auth/mfa/recovery-codes",
            json!({ "code": code(&secret, 1) }),
        ),
        (
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            json!({ "current_password": PASSWORD, "code": code(&secret, 1) }),
        ),
        (
            Method::POST,
            "/api/v1/auth/password/change",
            json!({ "current_password": PASSWORD, "new_password": "Changed99" }),
        ),
        (
            Method::DELETE,
            "/api/v1/auth/me",
            json!({ "current_password": PASSWORD }),
        ),
    ] {
        let response = app.call(method, path, Some(weak), &request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            body(response).await,
            json!({ "detail": "aal2_required" }),
            "{path}"
        );
    }
    let token = app.challenge(email).await;
    let strong = body(app.verify_code(&token, &code(&secret, 1)).await).await;
    let strong = access(&strong);
    // A fresh set needs a current code too; the one just used is spent.
    let spent = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/recovery-codes",
            Some(strong),
            &json!({ "code": code(&secret, 1) }),
        )
        .await;
    assert_detail(spent, StatusCode::BAD_REQUEST, "Invalid code").await;
    let changed = app
        .call(
            Method::POST,
            "/api/v1/auth/password/change",
            Some(strong),
            &json!({ "current_password": PASSWORD, "new_password": "Changed99" }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
}

#[tokio::test]
async fn disabling_ends_the_other_sessions_and_the_password_alone_logs_in_again() {
    let app = spawn_app().await;
    let email = "off@example.com";
    let weak = app.register_verified_and_login(email).await;
    let (secret, recovery) = app.enable_totp(access(&weak)).await;
    let token = app.challenge(email).await;
    let strong = body(
        app.verify(&json!({ "mfa_token": token, "recovery_code": recovery[0] }))
            .await,
    )
    .await;
    let wrong = app
        .call(
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(access(&strong)),
            &json!({ "current_password": PASSWORD, "code": "000000" }),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let removed = app
        .call(
            Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(access(&strong)),
            &json!({ "current_password": PASSWORD, "code": code(&secret, 1) }),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_me(access(&weak)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get_me(access(&strong)).await.status(), StatusCode::OK);
    let plain = app.login(email, PASSWORD).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(claims(access(&body(plain).await))["amr"], json!(["pwd"]));
}

#[tokio::test]
async fn the_login_of_a_user_without_a_factor_is_unchanged() {
    let app = spawn_app().await;
    app.register("plain@example.com").await;
    let response = app.login("plain@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut headers: Vec<String> = response
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| !["date", "x-request-id"].contains(&k.as_str()))
        .collect();
    headers.sort();
    let text = response.text().await.expect("body");
    // The SPEC's body, keys in the SPEC's order, nothing more.
    let shape = tokens_elided(&text);
    assert_eq!(
        shape,
        r#"{"access_token":"…","refresh_token":"…","token_type":"bearer","expires_in":1800}"#
    );
    assert_eq!(
        headers,
        [
            "cache-control",
            "content-length",
            "content-type",
            "referrer-policy",
            "vary",
            "x-content-type-options",
            "x-frame-options"
        ],
        "no header added"
    );
    // Wrong passwords answer as before.
    let wrong = app.login("plain@example.com", "Wrong1234").await;
    assert_refused(wrong).await;
}

/// The body with each token replaced by `…`.
fn tokens_elided(text: &str) -> String {
    let value: Value = serde_json::from_str(text).expect("JSON");
    let mut shape = text.to_owned();
    for key in ["access_token", "refresh_token"] {
        if let Some(token) = value[key].as_str() {
            shape = shape.replace(token, "…");
        }
    }
    shape
}
