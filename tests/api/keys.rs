//! Key-pair signing (issue 6): Ed25519 tokens verify against the published JWK set with a
//! standard JWT library; after a key rotation, tokens of the retired key still verify while
//! it is listed as verify-only, and stop when it is removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, access, assert_invalid_credentials, assert_json, body, header, refresh, spawn_app,
    spawn_app_on_database,
};

/// A new Ed25519 key pair (PKCS#8 private PEM, SPKI public PEM), made with openssl.
fn ed25519(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        &private.display().to_string(),
    ]);
    run(&[
        "pkey",
        "-in",
        &private.display().to_string(),
        "-pubout",
        "-out",
        &public.display().to_string(),
    ]);
    (private, public)
}

/// A server signing with a new Ed25519 key `name` made in `dir`.
async fn eddsa_app(dir: &Path, name: &str) -> TestApp {
    let (private, _) = ed25519(dir, name);
    let private = private.display().to_string();
    crate::helpers::spawn_app_with(&[
        ("JWT_ALGORITHM", "EdDSA"),
        ("JWT_PRIVATE_KEY_FILE", private.as_str()),
    ])
    .await
}

async fn jwks(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_value(body(response).await).expect("not a JWK set")
}

async fn login(app: &TestApp, email: &str) -> String {
    access(&app.sign_in(email).await).to_owned()
}

/// Verifies `token` the way another service would: by its `kid`, against the JWK set only.
fn verify_with_jwks(token: &str, keys: &JwkSet) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = keys.find(&kid).ok_or("kid not published")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["flowrex"]);
    validation.set_issuer(&["flowrex"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn ed25519_tokens_verify_against_the_published_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let app = eddsa_app(dir.path(), "current").await;
    app.register("keys@example.com").await;
    let token = login(&app, "keys@example.com").await;
    let keys = jwks(&app).await;
    assert_eq!(keys.keys.len(), 1);
    let claims = verify_with_jwks(&token, &keys).unwrap();
    assert_eq!(claims["type"], "access");
    assert_eq!(app.get_me(&token).await.status(), StatusCode::OK);
    let published = serde_json::to_value(&keys.keys[0]).unwrap_or_default();
    assert_eq!(
        (
            published["kty"].clone(),
            published["crv"].clone(),
            published["use"].clone()
        ),
        (json!("OKP"), json!("Ed25519"), json!("sig"))
    );
    assert!(
        published.get("d").is_none(),
        "never the private part: {published}"
    );
}

#[tokio::test]
async fn a_retired_key_verifies_while_listed_and_not_after() {
    let dir = tempfile::tempdir().unwrap();
    let (old_private, old_public) = ed25519(dir.path(), "old");
    let (new_private, _) = ed25519(dir.path(), "new");
    let (old_private, old_public, new_private) = (
        old_private.display().to_string(),
        old_public.display().to_string(),
        new_private.display().to_string(),
    );
    let before = crate::helpers::spawn_app_with(&[
        ("JWT_ALGORITHM", "EdDSA"),
        ("JWT_PRIVATE_KEY_FILE", old_private.as_str()),
    ])
    .await;
    before.register("rotate@example.com").await;
    let old_token = login(&before, "rotate@example.com").await;

    let rotated = spawn_app_on_database(
        before.database_url.clone(),
        &[
            ("JWT_ALGORITHM", "EdDSA"),
            ("JWT_PRIVATE_KEY_FILE", new_private.as_str()),
            ("JWT_RETIRED_PUBLIC_KEY_FILES", old_public.as_str()),
        ],
    )
    .await;
    assert_eq!(
        rotated.get_me(&old_token).await.status(),
        StatusCode::OK,
        "the retired key still verifies"
    );
    let new_token = login(&rotated, "rotate@example.com").await;
    let keys = jwks(&rotated).await;
    assert_eq!(keys.keys.len(), 2, "the new key and the verify-only one");
    let kid = |token: &str| jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
    assert_ne!(
        kid(&old_token),
        kid(&new_token),
        "new tokens are signed with the new key"
    );
    for token in [&old_token, &new_token] {
        assert!(verify_with_jwks(token, &keys).is_ok());
    }

    let retired = spawn_app_on_database(
        before.database_url.clone(),
        &[
            ("JWT_ALGORITHM", "EdDSA"),
            ("JWT_PRIVATE_KEY_FILE", new_private.as_str()),
        ],
    )
    .await;
    assert_invalid_credentials(retired.get_me(&old_token).await).await;
    assert_eq!(retired.get_me(&new_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_shared_secret_publishes_no_keys() {
    let app = spawn_app().await;
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(
        header(&response, "cache-control"),
        Some("public, max-age=300")
    );
    assert_json(response, StatusCode::OK, json!({"keys": []})).await;
}

#[tokio::test]
async fn rs256_tokens_verify_against_the_published_jwks_too() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("rsa.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .status()
        .expect("openssl");
    assert!(status.success());
    let private = private.display().to_string();
    let app = crate::helpers::spawn_app_with(&[
        ("JWT_ALGORITHM", "RS256"),
        ("JWT_PRIVATE_KEY_FILE", private.as_str()),
    ])
    .await;
    app.register("rsa@example.com").await;
    let token = login(&app, "rsa@example.com").await;
    let keys = jwks(&app).await;
    let kid = jsonwebtoken::decode_header(&token)
        .ok()
        .and_then(|h| h.kid)
        .unwrap_or_default();
    let jwk = keys
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not published"));
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["flowrex"]);
    validation.set_issuer(&["flowrex"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_ok());
    let published = serde_json::to_value(jwk).unwrap_or_default();
    assert_eq!(published["kty"], "RSA");
    assert!(
        published.get("d").is_none() && published.get("p").is_none(),
        "public only: {published}"
    );
}

/// The verify-only adapter another Flowrex service embeds: built from the JSON the server
/// publishes, it accepts the server's access tokens and refuses anything else.
#[tokio::test]
async fn the_jwks_verifier_accepts_the_servers_tokens_from_its_published_keys() {
    use flowrex_domain::TokenKind;
    use flowrex_domain::ports::{TokenError, TokenVerifier};
    use flowrex_infrastructure::JwtClaimsPolicy;
    use flowrex_infrastructure::jwt::JwksVerifier;

    let dir = tempfile::tempdir().unwrap();
    let app = eddsa_app(dir.path(), "embedded").await;
    app.register("embed@example.com").await;
    let tokens = app.sign_in("embed@example.com").await;
    let published = app
        .get("/.well-known/jwks.json")
        .await
        .bytes()
        .await
        .unwrap();
    let verifier = JwksVerifier::from_json(&published, &JwtClaimsPolicy::default()).unwrap();
    let now = chrono::Utc::now();
    let access_token = access(&tokens);
    let verified = verifier
        .verify(access_token, TokenKind::Access, now)
        .unwrap();
    let me = body(app.get_me(access_token).await).await;
    assert_eq!(Some(verified.subject.get()), me["id"].as_i64());
    let refresh_token = refresh(&tokens);
    assert_eq!(
        verifier.verify(refresh_token, TokenKind::Access, now).err(),
        Some(TokenError::WrongKind)
    );
    let stranger = eddsa_app(dir.path(), "other").await;
    stranger.register("embed@example.com").await;
    let foreign = stranger.sign_in("embed@example.com").await;
    assert_eq!(
        verifier
            .verify(access(&foreign), TokenKind::Access, now)
            .err(),
        Some(TokenError::Invalid),
        "a token signed by another key"
    );
    assert!(JwksVerifier::from_json(b"{\"keys\": 5}", &JwtClaimsPolicy::default()).is_err());
}
