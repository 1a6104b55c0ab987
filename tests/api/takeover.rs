//! The account-takeover paths a security probe found (issue 22), end to end: a credential
//! change ends everything issued under the old credentials, and adding a way to sign in
//! needs fresh proof and a verified address, announced by mail. Links come from a real
//! SMTP server (aiosmtpd on loopback) where a flow mails one: those tests are `#[ignore]`d
//! and run by `.ci/run` on SQLite, PostgreSQL and MariaDB; the others run everywhere.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{
    PASSWORD, THROTTLED, TestApp, access, assert_detail, body, claims, spawn_app_with,
};
use crate::lifecycle::{NEW_PASSWORD, VERIFY_CONFIRM, assert_invalid_link, mail_about, mailing};
use crate::mfa::code;
use crate::passkeys::RELYING_PARTY;

const EMAIL_CONFIRM: &str = "/api/v1/auth/email/confirm";
const REGISTER_START: &str = "/api/v1/auth/passkeys/register/start";

/// A server mailing through a private SMTP server, with passkeys for the test origin and
/// no per-recipient mail limit (each test mails one address several times).
async fn mailing_app() -> (
    flowrex_infrastructure::test_support::smtp::PrivateSmtp,
    TestApp,
) {
    let [rp_id, origins] = RELYING_PARTY;
    mailing(&[rp_id, origins, ("EMAIL_RESEND_INTERVAL_SECONDS", "0")]).await
}

/// The token of the newest mail to `to` about `subject_has`, once it has arrived.
async fn newest_link(
    smtp: &flowrex_infrastructure::test_support::smtp::PrivateSmtp,
    to: &str,
    subject_has: &str,
    count: usize,
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let matching: Vec<_> = smtp
            .messages_to(to)
            .into_iter()
            .filter(|m| m.subject.contains(subject_has))
            .collect();
        if matching.len() >= count {
            return matching[count - 1].token().expect("a token");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail {count} to {to} about {subject_has:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl TestApp {
    /// Resets `email`'s password to `new` through the mailed link (the `nth` reset mail).
    async fn reset_through_mailbox(
        &self,
        smtp: &flowrex_infrastructure::test_support::smtp::PrivateSmtp,
        email: &str,
        nth: usize,
        new: &str,
    ) {
        assert_eq!(self.forgot(email).await.status(), StatusCode::ACCEPTED);
        let token = newest_link(smtp, email, "Reset", nth).await;
        let reset = self.reset_password(&token, new).await;
        assert_eq!(reset.status(), StatusCode::OK, "the owner's reset works");
    }

    /// The number of rows `sql` (a `SELECT COUNT(*) AS v …`) counts.
    async fn count(&self, sql: &str) -> i64 {
        self.query_string(&sql.replace("COUNT(*) AS v", "CAST(COUNT(*) AS CHAR(20)) AS v"))
            .await
            .trim()
            .parse()
            .expect("a count")
    }
}

// ---- item 1: a pending email change survives the owner's password reset or change ----

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_pending_email_change_dies_with_the_owners_password_reset_or_change() {
    let (smtp, app) = mailing_app().await;
    for (owner, intruder, by_reset) in [
        ("owner1@example.com", "intruder1@example.com", true),
        ("owner2@example.com", "intruder2@example.com", false),
    ] {
        // The intruder knows the password and asks to move the account to their address.
        let tokens = app.register_verified_and_login(owner).await;
        let asked = app.change_email(access(&tokens), intruder, PASSWORD).await;
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
        let link = newest_link(&smtp, intruder, "Confirm", 1).await;
        // The owner gets the notice and does what it says.
        if by_reset {
            app.reset_through_mailbox(&smtp, owner, 1, NEW_PASSWORD)
                .await;
        } else {
            let owners = app.sign_in(owner).await;
            let changed = app
                .change_password(access(&owners), PASSWORD, NEW_PASSWORD)
                .await;
            assert_eq!(changed.status(), StatusCode::OK);
        }
        // The intruder's link is dead: the account stays where it is.
        assert_invalid_link(app.confirm(EMAIL_CONFIRM, &link).await).await;
        assert_eq!(
            app.login_status(intruder, NEW_PASSWORD).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.login_status(owner, NEW_PASSWORD).await, StatusCode::OK);
    }
}

// ---- item 2: a bearer token alone adds a passkey ---------------------------------------

#[tokio::test]
async fn adding_a_passkey_needs_the_current_password_and_a_verified_address() {
    let [rp_id, origins] = RELYING_PARTY;
    let app = spawn_app_with(&[rp_id, origins, ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")]).await;
    let email = "bearer@example.com";
    let tokens = app.register_and_login(email).await;
    let bearer = access(&tokens);
    // An unverified address adds no way to sign in, whatever the proof.
    let unverified = app
        .post_as(
            REGISTER_START,
            bearer,
            &json!({ "current_password": PASSWORD }),
        )
        .await;
    assert_detail(unverified, StatusCode::FORBIDDEN, "Email not verified").await;
    app.mark_verified(email).await;
    // A bearer token alone is not enough (an aal1 session): no password, no ceremony.
    for no_proof in [json!({}), json!({ "current_password": null })] {
        let refused = app.post_as(REGISTER_START, bearer, &no_proof).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{no_proof}"
        );
        let detail = body(refused).await["detail"].clone();
        assert_eq!(detail[0]["loc"], json!(["body", "current_password"]));
    }
    let empty = app
        .request(Method::POST, REGISTER_START, Some(bearer), &[], None)
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A wrong password is refused and counted like a failed login.
    let wrong = json!({ "current_password": "Wrong1234" });
    for _ in 0..3 {
        let refused = app.post_as(REGISTER_START, bearer, &wrong).await;
        assert_detail(
            refused,
            StatusCode::BAD_REQUEST,
            "Current password is incorrect",
        )
        .await;
    }
    let throttled = app.post_as(REGISTER_START, bearer, &wrong).await;
    assert_detail(throttled, StatusCode::TOO_MANY_REQUESTS, THROTTLED).await;
    assert_eq!(
        app.login_status(email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the wrong passwords counted against the account's logins"
    );
}

#[tokio::test]
async fn the_right_password_or_an_aal2_session_adds_a_passkey() {
    let app = crate::passkeys::app().await;
    let tokens = app.register_verified_and_login("proof@example.com").await;
    let with_password = app.start_registration(access(&tokens)).await;
    assert_eq!(with_password.status(), StatusCode::OK);
    // A passkey sign-in is aal2: adding another needs no password.
    let mut authenticator = SoftPasskey::new(true);
    let (_, credential) = app
        .register_passkey(access(&tokens), &mut authenticator)
        .await;
    let (ceremony, assertion) = app.assertion(&mut authenticator, &credential).await;
    let strong = body(app.passkey_login(&ceremony, &assertion).await).await;
    assert_eq!(claims(access(&strong))["aal"], "aal2");
    let no_password = app
        .post_as(REGISTER_START, access(&strong), &json!({}))
        .await;
    assert_eq!(no_password.status(), StatusCode::OK);
    // A password given is checked even then.
    let wrong = app
        .post_as(
            REGISTER_START,
            access(&strong),
            &json!({ "current_password": "Wrong1234" }),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn enrolling_totp_needs_a_verified_address() {
    let app = spawn_app_with(&[]).await;
    let email = "totp-unverified@example.com";
    let tokens = app.register_and_login(email).await;
    let enroll = json!({ "current_password": PASSWORD });
    let refused = app
        .post_as("/api/v1/auth/mfa/totp/enroll", access(&tokens), &enroll)
        .await;
    assert_detail(refused, StatusCode::FORBIDDEN, "Email not verified").await;
    app.mark_verified(email).await;
    let enrolled = app
        .post_as("/api/v1/auth/mfa/totp/enroll", access(&tokens), &enroll)
        .await;
    assert_eq!(enrolled.status(), StatusCode::OK);
}

// ---- item 3: a squatter keeps control after the owner proves the mailbox -----------------

/// An account squatted before adding a way to sign in needed a verified address: the
/// squatter registered the victim's address, added a passkey and TOTP, and never verified
/// it (its rows made as then: the factors through the API while the flag was set by SQL,
/// then the flag cleared). The squatter's tokens, authenticator and TOTP secret.
async fn squatted(app: &TestApp, victim: &str) -> (Value, SoftPasskey, String, String) {
    let squatter = app.register_verified_and_login(victim).await;
    let mut authenticator = SoftPasskey::new(true);
    let (_, credential) = app
        .register_passkey(access(&squatter), &mut authenticator)
        .await;
    let (secret, _) = app.enable_totp(access(&squatter)).await;
    app.execute_sql(&format!(
        "UPDATE users SET is_verified = false WHERE email = '{victim}'"
    ))
    .await;
    (squatter, authenticator, credential, secret)
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn the_owners_reset_takes_a_squatted_account_back_from_the_squatters_passkey_and_totp() {
    let (smtp, app) = mailing_app().await;
    let victim = "victim@example.com";
    let (squatter, mut authenticator, credential, _) = squatted(&app, victim).await;
    // The victim cannot register ("Email already registered") and resets the password
    // through the mailbox: the first proof that someone holds the address.
    app.reset_through_mailbox(&smtp, victim, 1, NEW_PASSWORD)
        .await;
    // The squatter's passkey no longer signs in, and their TOTP no longer locks the owner
    // out: the password alone logs in, at aal1.
    let (ceremony, assertion) = app.assertion(&mut authenticator, &credential).await;
    let refused = app.passkey_login(&ceremony, &assertion).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let owner = app.login(victim, NEW_PASSWORD).await;
    assert_eq!(owner.status(), StatusCode::OK, "no mfa_required");
    let owner = body(owner).await;
    assert_eq!(claims(access(&owner))["aal"], "aal1");
    app.assert_session_ended(&squatter).await;
    let notice = mail_about(&smtp, victim, "were removed").await;
    assert!(notice.text.contains("passkey"), "{}", notice.text);
    let events = body(
        app.get_as("/api/v1/auth/security-events", access(&owner))
            .await,
    )
    .await;
    let removed = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["action"] == "sign_in_methods_removed")
        .cloned()
        .expect("the removal is audited");
    assert_eq!(removed["details"]["totp"], true);
    assert_eq!(removed["details"]["passkeys"], 1);
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn verifying_the_address_takes_back_an_account_squatted_in_rows_made_by_sql() {
    let (smtp, app) = mailing_app().await;
    let victim = "rows@example.com";
    app.register(victim).await;
    let verify = newest_link(&smtp, victim, "Verify", 1).await;
    // Rows as an account squatted before the fix holds them: an active TOTP factor and a
    // passkey, added while the address was unverified.
    let id = app
        .query_string(&format!(
            "SELECT CAST(id AS CHAR(20)) AS v FROM users WHERE email = '{victim}'"
        ))
        .await
        .trim()
        .to_owned();
    app.execute_sql(&format!(
        "INSERT INTO totp_factors (user_id, secret, active, last_used_step, created_at, \
         activated_at) VALUES ({id}, 'sealed', true, NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ))
    .await;
    app.execute_sql(&format!(
        "INSERT INTO passkeys (user_id, name, credential_id, credential_hash, credential, \
         created_at) VALUES ({id}, 'squatter', 'c3F1YXR0ZXI', '{}', '{{}}', CURRENT_TIMESTAMP)",
        "ab".repeat(32)
    ))
    .await;
    let locked = app.login(victim, PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::FORBIDDEN,
        "the squatter's factor asks"
    );
    // The owner follows the verification link: the first proof of the mailbox.
    let confirmed = app.confirm(VERIFY_CONFIRM, &verify).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(app.login_status(victim, PASSWORD).await, StatusCode::OK);
    for table in ["totp_factors", "passkeys"] {
        let left = app
            .count(&format!(
                "SELECT COUNT(*) AS v FROM {table} WHERE user_id = {id}"
            ))
            .await;
        assert_eq!(left, 0, "{table}");
    }
    mail_about(&smtp, victim, "were removed").await;
}

// ---- item 4: a reset link mailed to the old address outlives the move ------------------

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn a_reset_link_mailed_to_the_old_address_dies_when_the_account_moves() {
    let (smtp, app) = mailing_app().await;
    let old = "moving@example.com";
    let new = "moved@example.com";
    let tokens = app.register_verified_and_login(old).await;
    assert_eq!(app.forgot(old).await.status(), StatusCode::ACCEPTED);
    let reset = newest_link(&smtp, old, "Reset", 1).await;
    let asked = app.change_email(access(&tokens), new, PASSWORD).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let link = newest_link(&smtp, new, "Confirm", 1).await;
    assert_eq!(
        app.confirm(EMAIL_CONFIRM, &link).await.status(),
        StatusCode::OK
    );
    // Whoever holds the old mailbox cannot set the password of the account at its new one.
    let refused = app.reset_password(&reset, "Hijack123").await;
    assert_invalid_link(refused).await;
    assert_eq!(app.login_status(new, PASSWORD).await, StatusCode::OK);
}

// ---- item 5: the last superuser deletes their own account ------------------------------

#[tokio::test]
async fn the_last_superuser_cannot_delete_their_own_account() {
    let app = spawn_app_with(&[]).await;
    app.register_superuser("only-root@example.com").await;
    let root = app.sign_in("only-root@example.com").await;
    let refused = app.delete_me(access(&root), PASSWORD).await;
    assert_detail(
        refused,
        StatusCode::CONFLICT,
        "The last active superuser cannot be removed",
    )
    .await;
    assert_eq!(app.get_me(access(&root)).await.status(), StatusCode::OK);
    // With another superuser, the first may go.
    app.register_superuser("second-root@example.com").await;
    let deleted = app.delete_me(access(&root), PASSWORD).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_two_superusers_deleting_themselves_at_once_leave_one() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "0")]).await;
    for round in 0..5 {
        let (first, second) = (
            format!("a{round}@example.com"),
            format!("b{round}@example.com"),
        );
        app.register_superuser(&first).await;
        app.register_superuser(&second).await;
        if round > 0 {
            // Only this round's two are superusers.
            app.execute_sql(&format!(
                "UPDATE users SET is_superuser = false WHERE email NOT IN ('{first}', '{second}')"
            ))
            .await;
        }
        let a = app.sign_in(&first).await;
        let b = app.sign_in(&second).await;
        let (one, other) = tokio::join!(
            app.delete_me(access(&a), PASSWORD),
            app.delete_me(access(&b), PASSWORD)
        );
        let mut statuses = [one.status().as_u16(), other.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 409], "round {round}: one goes, one stays");
    }
}

// ---- item 7: a login waiting for its second factor survives ending every session -------

#[tokio::test]
async fn ending_every_session_ends_the_logins_waiting_for_a_second_factor() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "0")]).await;
    app.register_superuser("root@example.com").await;
    let root = app.sign_in("root@example.com").await;
    let email = "waiting@example.com";
    let tokens = app.register_verified_and_login(email).await;
    let id = body(app.get_me(access(&tokens)).await).await["id"].clone();
    let (secret, _) = app.enable_totp(access(&tokens)).await;
    let strong = |mfa_token: String| {
        let secret = secret.clone();
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/mfa/verify",
                &json!({ "mfa_token": mfa_token, "code": code(&secret, 1) }),
            )
            .await
        }
    };
    // "Log out everywhere", then an administrator's "end sessions".
    let waiting = app.challenge(email).await;
    let everywhere = app
        .logout(Some(access(&tokens)), Some(&json!({ "scope": "all" })))
        .await;
    assert_eq!(everywhere.status(), StatusCode::OK);
    assert_detail(
        strong(waiting).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired mfa_token",
    )
    .await;
    let waiting = app.challenge(email).await;
    let ended = app
        .delete_as(&format!("/api/v1/admin/users/{id}/sessions"), access(&root))
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_detail(
        strong(waiting).await,
        StatusCode::UNAUTHORIZED,
        "Invalid or expired mfa_token",
    )
    .await;
    // A challenge opened after them completes.
    let fresh = app.challenge(email).await;
    assert_eq!(strong(fresh).await.status(), StatusCode::OK);
}

// ---- item 8: adding or removing a passkey mails no notice ------------------------------

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn adding_and_removing_a_passkey_mail_a_notice() {
    let (smtp, app) = mailing_app().await;
    let email = "noticed@example.com";
    let tokens = app.register_verified_and_login(email).await;
    let mut authenticator = SoftPasskey::new(true);
    let (id, _) = app
        .register_passkey(access(&tokens), &mut authenticator)
        .await;
    let added = mail_about(&smtp, email, "passkey was added").await;
    assert!(added.text.contains("remove it"), "{}", added.text);
    let removed = app
        .delete_as(&format!("/api/v1/auth/passkeys/{id}"), access(&tokens))
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    mail_about(&smtp, email, "passkey was removed").await;
}

// ---- item 9: a user's own log shows the administrator ----------------------------------

#[tokio::test]
async fn a_users_own_log_says_an_administrator_acted_and_nothing_more() {
    let app = spawn_app_with(&[]).await;
    app.register_superuser("admin@example.com").await;
    let admin = app.sign_in("admin@example.com").await;
    let admin_id = body(app.get_me(access(&admin)).await).await["id"].clone();
    let tokens = app.register_and_login("watched@example.com").await;
    let id = body(app.get_me(access(&tokens)).await).await["id"].clone();
    let changed = app
        .request(
            Method::PATCH,
            &format!("/api/v1/admin/users/{id}"),
            Some(access(&admin)),
            &[("User-Agent", "admin-console/1.0")],
            Some(&json!({ "is_verified": true })),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let own = body(
        app.get_as("/api/v1/auth/security-events", access(&tokens))
            .await,
    )
    .await;
    let event = own["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["action"] == "admin_user_updated")
        .cloned()
        .expect("the change is in the user's log");
    assert_eq!(event["details"]["by"], "administrator");
    for field in ["actor_id", "session_id", "ip", "user_agent", "request_id"] {
        assert_eq!(event[field], Value::Null, "{field}: {event}");
    }
    // The administrators' trail keeps who it was.
    let trail = body(
        app.get_as(
            &format!("/api/v1/admin/audit?action=admin_user_updated&user_id={id}"),
            access(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(trail["items"][0]["actor_id"], admin_id);
    assert_eq!(trail["items"][0]["user_agent"], "admin-console/1.0");
}
