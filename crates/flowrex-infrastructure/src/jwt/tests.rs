use chrono::{Duration, TimeZone};
use flowrex_domain::AuthMethod;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn tokens(secret: &str) -> JwtTokens {
    JwtTokens::new(
        "HS256",
        &JwtKeys::Secret(SecretString::from(secret)),
        &JwtClaimsPolicy::default(),
    )
    .unwrap()
}

fn request(kind: TokenKind, expires_at: DateTime<Utc>) -> TokenRequest {
    TokenRequest {
        subject: UserId::new(42),
        kind,
        session: SessionId::parse("6f9619ff-8b86-4011-b42d-00c04fc964ff")
            .unwrap_or_else(SessionId::generate),
        issued_at: now(),
        expires_at,
        assurance: Assurance::PASSWORD,
    }
}

fn signed(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

fn decoded(token: &str) -> serde_json::Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(
        token,
        &DecodingKey::from_secret(b"secret"),
        &validation,
    )
    .map(|d| d.claims)
    .unwrap_or_default()
}

fn genuine_claims() -> serde_json::Value {
    serde_json::json!({
        "sub": "42", "exp": (now() + Duration::hours(1)).timestamp(), "type": "access",
        "iss": "flowrex", "aud": "flowrex", "iat": now().timestamp(),
        "jti": "a", "sid": "6f9619ff-8b86-4011-b42d-00c04fc964ff"
    })
}

#[test]
fn an_issued_token_verifies_with_its_claims() {
    let jwt = tokens("secret");
    let exp = now() + Duration::minutes(30);
    let token = jwt
        .issue(&request(TokenKind::Access, exp))
        .unwrap_or_default();
    let verified = jwt.verify(&token, TokenKind::Access, now());
    assert_eq!(
        verified,
        Ok(VerifiedToken {
            subject: UserId::new(42),
            kind: TokenKind::Access,
            session: request(TokenKind::Access, exp).session,
            expires_at: exp,
            assurance: Assurance::PASSWORD,
        })
    );
}

#[test]
fn amr_and_aal_are_signed_claims_and_older_tokens_count_as_a_password_alone() {
    let jwt = tokens("secret");
    let exp = now() + Duration::minutes(30);
    let strong = Assurance::PASSWORD.and(AuthMethod::Otp);
    let token = jwt
        .issue(&TokenRequest {
            assurance: strong,
            ..request(TokenKind::Access, exp)
        })
        .unwrap_or_default();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["flowrex"]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &DecodingKey::from_secret(b"secret"),
        &validation,
    )
    .map(|data| data.claims)
    .unwrap_or_default();
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(
        jwt.verify(&token, TokenKind::Access, now())
            .map(|v| v.assurance),
        Ok(strong)
    );
    // A token of the version before: no amr, no aal.
    let old = signed(
        &serde_json::json!({
            "sub": "42", "exp": exp.timestamp(), "type": "access", "iss": "flowrex",
            "aud": "flowrex", "iat": now().timestamp(), "jti": "j",
            "sid": "6f9619ff-8b86-4011-b42d-00c04fc964ff"
        }),
        "secret",
    );
    assert_eq!(
        jwt.verify(&old, TokenKind::Access, now())
            .map(|v| v.assurance),
        Ok(Assurance::PASSWORD)
    );
}

#[test]
fn the_payload_has_the_spec_claims_and_the_session_ones() {
    let jwt = tokens("secret");
    let token = jwt
        .issue(&request(TokenKind::Refresh, now()))
        .unwrap_or_default();
    let claims = decoded(&token);
    assert_eq!(claims["sub"], "42");
    assert_eq!(claims["exp"], now().timestamp());
    assert_eq!(claims["type"], "refresh");
    assert_eq!(claims["iss"], "flowrex");
    assert_eq!(claims["aud"], "flowrex");
    assert_eq!(claims["iat"], now().timestamp());
    assert_eq!(claims["sid"], "6f9619ff-8b86-4011-b42d-00c04fc964ff");
    let other = jwt
        .issue(&request(TokenKind::Refresh, now()))
        .unwrap_or_default();
    assert_ne!(
        claims["jti"],
        decoded(&other)["jti"],
        "every token has its own jti"
    );
}

#[test]
fn a_token_of_the_other_kind_is_refused() {
    let jwt = tokens("secret");
    let refresh = jwt
        .issue(&request(TokenKind::Refresh, now() + Duration::days(7)))
        .unwrap_or_default();
    assert_eq!(
        jwt.verify(&refresh, TokenKind::Access, now()),
        Err(TokenError::WrongKind)
    );
}

#[test]
fn expiry_allows_the_configured_leeway_and_no_more() {
    let jwt = tokens("secret");
    let token = jwt
        .issue(&request(TokenKind::Access, now()))
        .unwrap_or_default();
    assert!(
        jwt.verify(&token, TokenKind::Access, now() + Duration::seconds(4))
            .is_ok()
    );
    assert_eq!(
        jwt.verify(&token, TokenKind::Access, now() + Duration::seconds(5)),
        Err(TokenError::Expired)
    );
}

#[test]
fn not_before_and_issued_at_in_the_future_are_refused_beyond_the_leeway() {
    let jwt = tokens("secret");
    let with = |name: &str, seconds: i64| {
        let mut claims = genuine_claims();
        claims[name] = serde_json::json!((now() + Duration::seconds(seconds)).timestamp());
        signed(&claims, "secret")
    };
    for name in ["nbf", "iat"] {
        assert_eq!(
            jwt.verify(&with(name, 3600), TokenKind::Access, now()),
            Err(TokenError::NotYetValid),
            "{name} an hour ahead"
        );
        assert_eq!(
            jwt.verify(&with(name, 6), TokenKind::Access, now()),
            Err(TokenError::NotYetValid),
            "{name} just beyond the 5 s leeway"
        );
        assert!(
            jwt.verify(&with(name, 5), TokenKind::Access, now()).is_ok(),
            "{name} within the leeway"
        );
        assert!(
            jwt.verify(&with(name, -60), TokenKind::Access, now())
                .is_ok(),
            "{name} in the past"
        );
    }
    let mut claims = genuine_claims();
    claims["nbf"] = serde_json::json!("later");
    assert_eq!(
        jwt.verify(&signed(&claims, "secret"), TokenKind::Access, now()),
        Err(TokenError::Invalid)
    );
}

#[test]
fn a_critical_header_extension_is_refused() {
    let jwt = tokens("secret");
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["x-probe".to_owned()]);
    let token = jsonwebtoken::encode(
        &header,
        &genuine_claims(),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap_or_default();
    assert_eq!(
        jwt.verify(&token, TokenKind::Access, now()),
        Err(TokenError::Invalid)
    );
}

#[test]
fn forged_garbled_and_misshapen_tokens_are_invalid() {
    let jwt = tokens("secret");
    let genuine = genuine_claims();
    assert!(
        jwt.verify(&signed(&genuine, "secret"), TokenKind::Access, now())
            .is_ok()
    );
    let with = |name: &str, value: serde_json::Value| {
        let mut claims = genuine.clone();
        claims[name] = value;
        signed(&claims, "secret")
    };
    let without = |name: &str| {
        let mut claims = genuine.clone();
        if let Some(object) = claims.as_object_mut() {
            object.remove(name);
        }
        signed(&claims, "secret")
    };
    let payload = signed(&genuine, "secret")
        .split('.')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let cases = [
        signed(&genuine, "other"),
        "not.a.token".to_owned(),
        String::new(),
        with("sub", serde_json::json!(42)),
        with("sub", serde_json::json!("abc")),
        with("sub", serde_json::json!("99999999999999999999999")),
        with("sub", serde_json::json!("-3")),
        with("exp", serde_json::json!("soon")),
        with("iss", serde_json::json!("someone-else")),
        with("aud", serde_json::json!("another-service")),
        with("sid", serde_json::json!("not-a-session")),
        without("exp"),
        without("sub"),
        without("type"),
        without("iss"),
        without("aud"),
        without("sid"),
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
    ];
    for token in cases {
        assert_eq!(
            jwt.verify(&token, TokenKind::Access, now()),
            Err(TokenError::Invalid),
            "{token}"
        );
    }
}

#[test]
fn keys_must_fit_the_algorithm() {
    let secret = JwtKeys::Secret(SecretString::from("s"));
    let policy = JwtClaimsPolicy::default();
    let refused = |algorithm: &str, keys: &JwtKeys| JwtTokens::new(algorithm, keys, &policy).err();
    assert!(JwtTokens::new("HS512", &secret, &policy).is_ok());
    assert_matches!(
        refused("RS256", &secret),
        Some(JwtConfigError::NeedsKeyPair(_))
    );
    assert_matches!(
        refused("EdDSA", &secret),
        Some(JwtConfigError::NeedsKeyPair(_))
    );
    assert_matches!(
        refused("ES256", &secret),
        Some(JwtConfigError::Unsupported(_))
    );
    assert_matches!(
        refused("none", &secret),
        Some(JwtConfigError::UnknownAlgorithm(_))
    );
    let empty = JwtKeys::Secret(SecretString::from(""));
    assert_matches!(refused("HS256", &empty), Some(JwtConfigError::EmptySecret));
    let garbage = JwtKeys::KeyPair {
        private_pem: b"not a key".to_vec(),
        retired_public_pems: Vec::new(),
    };
    assert_matches!(refused("EdDSA", &garbage), Some(JwtConfigError::BadKey(_)));
    assert_matches!(
        refused("HS256", &garbage),
        Some(JwtConfigError::NeedsSecret(_))
    );
}

#[test]
fn a_shared_secret_is_never_published() {
    assert!(tokens("secret").jwks().keys.is_empty());
}
