//! Passkeys end to end over HTTP, with a software authenticator (`webauthn-authenticator-rs`'s
//! `SoftPasskey`) in the browser's place: register → list → sign in without an address →
//! tokens with `amr` `["passkey"]` at `aal2`; single-use ceremonies; an assertion whose
//! signature counter went backwards (a cloned authenticator) refused; foreign origins
//! refused; removal; and `aal2` to add one when the account has a second factor.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{PASSWORD, TestApp, access, assert_detail, body, claims, spawn_app_with};

/// The front end's origin the test server allows (the relying party is `localhost`).
const ORIGIN: &str = "http://localhost:3000";

/// The relying party of these tests.
pub(crate) const RELYING_PARTY: [(&str, &str); 2] = [
    ("WEBAUTHN_RP_ID", "localhost"),
    ("WEBAUTHN_ORIGINS", ORIGIN),
];

pub(crate) async fn app() -> TestApp {
    spawn_app_with(&RELYING_PARTY).await
}

fn origin() -> Url {
    Url::parse(ORIGIN).expect("origin")
}

impl TestApp {
    /// `POST /passkeys/register/start` as the holder of `bearer`, with the current
    /// password as fresh proof.
    pub(crate) async fn start_registration(&self, bearer: &str) -> Response {
        self.post_as(
            "/api/v1/auth/passkeys/register/start",
            bearer,
            &json!({ "current_password": PASSWORD }),
        )
        .await
    }

    /// The passkeys of the holder of `bearer`, as `GET /passkeys` lists them.
    pub(crate) async fn passkeys_of(&self, bearer: &str) -> Value {
        let listed = self
            .call(
                Method::GET,
                "/api/v1/auth/passkeys",
                Some(bearer),
                &json!({}),
            )
            .await;
        body(listed).await
    }

    /// Registers a passkey held by `authenticator` for the user of `bearer`: its id as
    /// the API lists it, and its credential id.
    pub(crate) async fn register_passkey(
        &self,
        bearer: &str,
        authenticator: &mut SoftPasskey,
    ) -> (i64, String) {
        let start = self.start_registration(bearer).await;
        assert_eq!(start.status(), StatusCode::OK);
        let start = body(start).await;
        let options: CreationChallengeResponse =
            serde_json::from_value(json!({ "publicKey": start["publicKey"] })).expect("options");
        let credential = authenticator
            .do_registration(origin(), options)
            .expect("the authenticator registers");
        let credential_id = credential.id.clone();
        let finish = self
            .call(
                Method::POST,
                "/api/v1/auth/passkeys/register/finish",
                Some(bearer),
                &json!({
                    "ceremony_id": start["ceremony_id"],
                    "credential": credential,
                    "name": "Laptop",
                }),
            )
            .await;
        assert_eq!(finish.status(), StatusCode::CREATED);
        let finish = body(finish).await;
        assert_eq!(finish["name"], "Laptop");
        (finish["id"].as_i64().expect("id"), credential_id)
    }

    /// Starts a sign-in and has `authenticator` answer it with `credential_id` (a
    /// discoverable credential needs no list; the software authenticator does): the
    /// ceremony id and the assertion.
    pub(crate) async fn assertion(
        &self,
        authenticator: &mut SoftPasskey,
        credential_id: &str,
    ) -> (String, Value) {
        let start = self
            .call(
                Method::POST,
                "/api/v1/auth/passkeys/login/start",
                None,
                &json!({}),
            )
            .await;
        assert_eq!(start.status(), StatusCode::OK);
        let start = body(start).await;
        assert_eq!(start["publicKey"]["rpId"], "localhost");
        assert_eq!(start["publicKey"]["userVerification"], "required");
        let mut public_key = start["publicKey"].clone();
        public_key["allowCredentials"] = json!([{ "type": "public-key", "id": credential_id }]);
        let options: RequestChallengeResponse =
            serde_json::from_value(json!({ "publicKey": public_key })).expect("options");
        let assertion = authenticator
            .do_authentication(origin(), options)
            .expect("the authenticator signs");
        (
            start["ceremony_id"].as_str().expect("id").to_owned(),
            serde_json::to_value(assertion).expect("json"),
        )
    }

    pub(crate) async fn passkey_login(&self, ceremony_id: &str, assertion: &Value) -> Response {
        self.post_json(
            "/api/v1/auth/passkeys/login/finish",
            &json!({ "ceremony_id": ceremony_id, "credential": assertion }),
        )
        .await
    }
}

#[tokio::test]
async fn register_list_and_sign_in_without_an_address_at_aal2() {
    let app = app().await;
    let tokens = app.register_verified_and_login("keys@example.com").await;
    let bearer = access(&tokens);
    let mut authenticator = SoftPasskey::new(true);
    let (id, credential_id) = app.register_passkey(bearer, &mut authenticator).await;

    let listed = app.passkeys_of(bearer).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    assert!(
        listed[0].get("credential").is_none(),
        "no key material listed"
    );

    let (ceremony, assertion) = app.assertion(&mut authenticator, &credential_id).await;
    let signed_in = app.passkey_login(&ceremony, &assertion).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let signed_in = body(signed_in).await;
    let access = access(&signed_in);
    assert_eq!(claims(access)["amr"], json!(["passkey"]));
    assert_eq!(claims(access)["aal"], "aal2");
    let me = body(app.get_me(access).await).await;
    assert_eq!(me["email"], "keys@example.com");

    // The ceremony is used up.
    let again = app.passkey_login(&ceremony, &assertion).await;
    assert_detail(
        again,
        StatusCode::BAD_REQUEST,
        "Invalid or expired ceremony",
    )
    .await;
    // An old assertion does not answer a new ceremony's challenge.
    let (fresh, _) = app.assertion(&mut authenticator, &credential_id).await;
    let replayed = app.passkey_login(&fresh, &assertion).await;
    assert_detail(replayed, StatusCode::UNAUTHORIZED, "Passkey not accepted").await;

    let listed = app.passkeys_of(bearer).await;
    assert_ne!(listed[0]["last_used_at"], Value::Null);
}

#[tokio::test]
async fn a_signature_counter_that_goes_backwards_is_refused() {
    let app = app().await;
    let tokens = app.register_verified_and_login("clone@example.com").await;
    let bearer = access(&tokens);
    let mut authenticator = SoftPasskey::new(true);
    let (_, credential_id) = app.register_passkey(bearer, &mut authenticator).await;
    // Two assertions, counters n and n + 1; the later one is used first (as a clone of
    // the authenticator would), then the earlier one comes in with a lower counter.
    let (first_ceremony, first) = app.assertion(&mut authenticator, &credential_id).await;
    let (second_ceremony, second) = app.assertion(&mut authenticator, &credential_id).await;
    assert_eq!(
        app.passkey_login(&second_ceremony, &second).await.status(),
        StatusCode::OK
    );
    let stale = app.passkey_login(&first_ceremony, &first).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_origin_or_a_foreign_credential_is_refused() {
    let app = app().await;
    let tokens = app.register_verified_and_login("origin@example.com").await;
    let bearer = access(&tokens);
    let start = body(app.start_registration(bearer).await).await;
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": start["publicKey"] })).expect("options");
    let mut authenticator = SoftPasskey::new(true);
    let elsewhere = authenticator
        .do_registration(Url::parse("http://localhost:9999").expect("url"), options)
        .expect("registers");
    let refused = app
        .call(
            Method::POST,
            "/api/v1/auth/passkeys/register/finish",
            Some(bearer),
            &json!({ "ceremony_id": start["ceremony_id"], "credential": elsewhere }),
        )
        .await;
    assert_detail(
        refused,
        StatusCode::BAD_REQUEST,
        "Passkey registration failed",
    )
    .await;
    let nul = app
        .call(
            Method::POST,
            "/api/v1/auth/passkeys/register/finish",
            Some(bearer),
            &json!({ "ceremony_id": "x", "credential": {}, "name": "a\u{0}b" }),
        )
        .await;
    assert_eq!(nul.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A credential nobody registered signs nothing in; garbage is a 422 or a refusal.
    let mut stranger = SoftPasskey::new(true);
    let other_app_tokens = app
        .register_verified_and_login("stranger@example.com")
        .await;
    let (_, strangers) = app
        .register_passkey(access(&other_app_tokens), &mut stranger)
        .await;
    let (ceremony, mut assertion) = app.assertion(&mut stranger, &strangers).await;
    assertion["rawId"] = json!("AAAA");
    assertion["id"] = json!("AAAA");
    let unknown = app.passkey_login(&ceremony, &assertion).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let garbage = app
        .post_json(
            "/api/v1/auth/passkeys/login/finish",
            &json!({ "ceremony_id": "x", "credential": "nope" }),
        )
        .await;
    assert_eq!(garbage.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let not_a_credential = app
        .post_json(
            "/api/v1/auth/passkeys/login/finish",
            &json!({ "ceremony_id": "x", "credential": {} }),
        )
        .await;
    assert_eq!(not_a_credential.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_removed_passkey_signs_nothing_in_and_adding_one_needs_aal2_with_a_second_factor() {
    let app = app().await;
    let tokens = app.register_verified_and_login("remove@example.com").await;
    let bearer = access(&tokens);
    let mut authenticator = SoftPasskey::new(true);
    let (id, credential_id) = app.register_passkey(bearer, &mut authenticator).await;
    let path = format!("/api/v1/auth/passkeys/{id}");
    let removed = app
        .call(Method::DELETE, &path, Some(bearer), &json!({}))
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = app
        .call(Method::DELETE, &path, Some(bearer), &json!({}))
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let (ceremony, assertion) = app.assertion(&mut authenticator, &credential_id).await;
    assert_eq!(
        app.passkey_login(&ceremony, &assertion).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // With TOTP on, an aal1 session may not add a passkey.
    let enrolled = body(
        app.call(
            Method::POST,
            "/api/v1/auth/mfa/totp/enroll",
            Some(bearer),
            &json!({ "current_password": PASSWORD }),
        )
        .await,
    )
    .await;
    let secret = enrolled["secret"].as_str().expect("secret");
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret.to_owned())
            .to_bytes()
            .expect("secret"),
        None,
        String::new(),
    )
    .generate_current()
    .expect("code");
    let activated = app
        .call(
            Method::POST,
            "/api/v1/auth/mfa/totp/activate",
            Some(bearer),
            &json!({ "code": code }),
        )
        .await;
    assert_eq!(activated.status(), StatusCode::OK);
    let refused = app.start_registration(bearer).await;
    assert_detail(refused, StatusCode::FORBIDDEN, "aal2_required").await;
    let remove = app
        .call(Method::DELETE, &path, Some(bearer), &json!({}))
        .await;
    assert_eq!(
        remove.status(),
        StatusCode::FORBIDDEN,
        "removing needs aal2 too"
    );
}

#[tokio::test]
async fn once_verified_addresses_are_required_an_unverified_account_signs_in_with_a_passkey_no_more()
 {
    let app = app().await;
    let email = "unverified-keys@example.com";
    let tokens = app.register_verified_and_login(email).await;
    let mut authenticator = SoftPasskey::new(true);
    let (_, credential_id) = app
        .register_passkey(access(&tokens), &mut authenticator)
        .await;
    // An account from before a verified address was needed to add one.
    app.execute_sql(&format!(
        "UPDATE users SET is_verified = false WHERE email = '{email}'"
    ))
    .await;
    // The operator turns the rule on; the address was never verified.
    let [rp_id, origins] = RELYING_PARTY;
    let app = app
        .restart_with(&[rp_id, origins, ("REQUIRE_VERIFIED_EMAIL", "true")])
        .await;
    assert_detail(
        app.login(email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "Email not verified",
    )
    .await;
    // The passkey verifies, and gets the same answer as the right password.
    let (ceremony, assertion) = app.assertion(&mut authenticator, &credential_id).await;
    let refused = app.passkey_login(&ceremony, &assertion).await;
    assert_detail(refused, StatusCode::FORBIDDEN, "Email not verified").await;
}
