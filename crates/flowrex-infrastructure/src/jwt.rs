//! JSON Web Tokens with the SPEC's claims — `sub` (the user id as a string), `exp`, `type` —
//! and those of RFC 8725's advice: `iss`, `aud`, `iat`, a unique `jti`, and `sid`, the
//! session the token belongs to. Validation pins the configured algorithm, requires every
//! claim, refuses a `crit` header, and allows a small, configured leeway on `exp`, `nbf`
//! and `iat` alike.

use std::collections::HashSet;
use std::str::FromStr;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{IssueError, TokenError, TokenIssuer, TokenVerifier};
use flowrex_domain::{SessionId, TokenKind, TokenRequest, UserId, VerifiedToken};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Signs and verifies tokens: with one shared secret (HS256 by default, HS384, HS512), or
/// with a key pair (EdDSA with Ed25519, RS256) whose public half, and those of retired
/// verify-only keys, are published as a JWK set so that other services can verify tokens
/// without any secret.
pub struct JwtTokens {
    header: Header,
    encoding: EncodingKey,
    /// Keys that verify: by `kid` for key pairs; one, without `kid`, for a shared secret.
    verifiers: Vec<Verifier>,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    leeway: chrono::Duration,
}

struct Verifier {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

/// Where the signing keys come from.
pub enum JwtKeys {
    /// `JWT_SECRET_KEY`, for HS256/HS384/HS512.
    Secret(SecretString),
    /// PEM files, for EdDSA/RS256: the signing key, and public keys that still verify.
    KeyPair {
        /// The private key that signs new tokens (PKCS#8 PEM).
        private_pem: Vec<u8>,
        /// Public keys of retired signing keys (PEM), accepted for verification only.
        retired_public_pems: Vec<Vec<u8>>,
    },
}

/// Who issues tokens, for whom, and how much clock skew to forgive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaimsPolicy {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Leeway on `exp`, in seconds.
    pub leeway_seconds: u32,
}

impl Default for JwtClaimsPolicy {
    fn default() -> Self {
        Self {
            issuer: "flowrex".to_owned(),
            audience: "flowrex".to_owned(),
            leeway_seconds: 5,
        }
    }
}

/// The JWT settings cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// Not an algorithm name at all.
    #[error("JWT_ALGORITHM `{0}` is not a JWT algorithm; use HS256, HS384 or HS512")]
    UnknownAlgorithm(String),
    /// An algorithm that needs key files rather than a shared secret.
    #[error("JWT_ALGORITHM `{0}` needs a key pair: set JWT_PRIVATE_KEY_FILE")]
    NeedsKeyPair(String),
    /// A key pair given for a shared-secret algorithm.
    #[error("JWT_ALGORITHM `{0}` signs with JWT_SECRET_KEY; key files are for EdDSA and RS256")]
    NeedsSecret(String),
    /// An algorithm we do not sign with.
    #[error("JWT_ALGORITHM `{0}` is not supported; use HS256, HS384, HS512, EdDSA or RS256")]
    Unsupported(String),
    /// An empty secret.
    #[error("JWT_SECRET_KEY must not be empty")]
    EmptySecret,
    /// A key file that is not a key of the algorithm's kind.
    #[error("{0}")]
    BadKey(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(rename = "type")]
    kind: String,
    iss: String,
    aud: String,
    iat: i64,
    /// Never written by us; honoured when present (RFC 7519 §4.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    jti: String,
    sid: String,
}

impl JwtTokens {
    /// Tokens signed by `algorithm` (a name such as `HS256` or `EdDSA`) with `keys`.
    ///
    /// # Errors
    /// [`JwtConfigError`] for an unknown or unsupported algorithm, keys of the wrong kind
    /// for it, an empty secret or an unreadable key.
    pub fn new(
        algorithm: &str,
        keys: &JwtKeys,
        policy: &JwtClaimsPolicy,
    ) -> Result<Self, JwtConfigError> {
        let algorithm = Algorithm::from_str(algorithm.trim())
            .map_err(|_| JwtConfigError::UnknownAlgorithm(algorithm.to_owned()))?;
        let (header, encoding, verifiers, jwks) = match (algorithm, keys) {
            (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, JwtKeys::Secret(secret)) => {
                let secret = secret.expose_secret().as_bytes();
                if secret.is_empty() {
                    return Err(JwtConfigError::EmptySecret);
                }
                let verifier = Verifier {
                    kid: None,
                    key: DecodingKey::from_secret(secret),
                    validation: validation(algorithm, policy),
                };
                // A shared secret is never published.
                let jwks = JwkSet { keys: Vec::new() };
                (
                    Header::new(algorithm),
                    EncodingKey::from_secret(secret),
                    vec![verifier],
                    jwks,
                )
            }
            (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, JwtKeys::KeyPair { .. }) => {
                return Err(JwtConfigError::NeedsSecret(format!("{algorithm:?}")));
            }
            (Algorithm::EdDSA | Algorithm::RS256, JwtKeys::Secret(_)) => {
                return Err(JwtConfigError::NeedsKeyPair(format!("{algorithm:?}")));
            }
            (
                Algorithm::EdDSA | Algorithm::RS256,
                JwtKeys::KeyPair {
                    private_pem,
                    retired_public_pems,
                },
            ) => key_pair(algorithm, private_pem, retired_public_pems, policy)?,
            (other, _) => return Err(JwtConfigError::Unsupported(format!("{other:?}"))),
        };
        Ok(Self {
            header,
            encoding,
            verifiers,
            jwks,
            issuer: policy.issuer.clone(),
            audience: policy.audience.clone(),
            leeway: chrono::Duration::seconds(i64::from(policy.leeway_seconds)),
        })
    }

    /// The public keys that verify tokens, as a JWK set (`GET /.well-known/jwks.json`);
    /// empty for a shared secret.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    fn verifier_for(&self, token: &str) -> Option<&Verifier> {
        match self.verifiers.as_slice() {
            [only] if only.kid.is_none() => Some(only),
            verifiers => {
                let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
                verifiers
                    .iter()
                    .find(|v| v.kid.as_deref() == Some(kid.as_str()))
            }
        }
    }
}

/// Only `algorithm`; our issuer and audience; every registered claim present. Expiry is
/// compared with the service's clock in `verify` (testable), with the configured leeway.
fn validation(algorithm: Algorithm, policy: &JwtClaimsPolicy) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[policy.issuer.as_str()]);
    validation.set_audience(&[policy.audience.as_str()]);
    validation.required_spec_claims = ["exp", "sub", "iss", "aud"]
        .into_iter()
        .map(str::to_owned)
        .collect::<HashSet<_>>();
    validation
}

type KeyMaterial = (Header, EncodingKey, Vec<Verifier>, JwkSet);

/// The signing key, its public JWK (with an RFC 7638 thumbprint as `kid`), and the
/// verify-only keys of retired ones.
fn key_pair(
    algorithm: Algorithm,
    private_pem: &[u8],
    retired_public_pems: &[Vec<u8>],
    policy: &JwtClaimsPolicy,
) -> Result<KeyMaterial, JwtConfigError> {
    let bad = |what: &str, error: jsonwebtoken::errors::Error| {
        JwtConfigError::BadKey(format!("{what} is not a {algorithm:?} key: {error}"))
    };
    let encoding = match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(private_pem),
        _ => EncodingKey::from_rsa_pem(private_pem),
    }
    .map_err(|e| bad("JWT_PRIVATE_KEY_FILE", e))?;
    let current =
        Jwk::from_encoding_key(&encoding, algorithm).map_err(|e| bad("JWT_PRIVATE_KEY_FILE", e))?;
    let mut jwks = vec![published(current, algorithm)?];
    for pem in retired_public_pems {
        let (key, retired_algorithm) = DecodingKey::from_ed_pem(pem)
            .map(|key| (key, Algorithm::EdDSA))
            .or_else(|_| DecodingKey::from_rsa_pem(pem).map(|key| (key, Algorithm::RS256)))
            .map_err(|e| bad("a JWT_RETIRED_PUBLIC_KEY_FILES entry", e))?;
        let jwk = Jwk::from_decoding_key(&key, Some(retired_algorithm))
            .map_err(|e| bad("a JWT_RETIRED_PUBLIC_KEY_FILES entry", e))?;
        jwks.push(published(jwk, retired_algorithm)?);
    }
    let mut verifiers = Vec::with_capacity(jwks.len());
    for (jwk, algorithm) in &jwks {
        verifiers.push(Verifier {
            kid: jwk.common.key_id.clone(),
            key: DecodingKey::from_jwk(jwk).map_err(|e| bad("a public key", e))?,
            validation: validation(*algorithm, policy),
        });
    }
    let mut header = Header::new(algorithm);
    header.kid = jwks.first().and_then(|(jwk, _)| jwk.common.key_id.clone());
    let keys = jwks.into_iter().map(|(jwk, _)| jwk).collect();
    Ok((header, encoding, verifiers, JwkSet { keys }))
}

/// A public JWK as published: `kid` (its SHA-256 thumbprint), `use: sig`, `alg`.
fn published(mut jwk: Jwk, algorithm: Algorithm) -> Result<(Jwk, Algorithm), JwtConfigError> {
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| JwtConfigError::BadKey(format!("cannot fingerprint a key: {e}")))?;
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = KeyAlgorithm::from_str(&format!("{algorithm:?}")).ok();
    Ok((jwk, algorithm))
}

impl TokenIssuer for JwtTokens {
    fn issue(&self, request: &TokenRequest) -> Result<String, IssueError> {
        let claims = Claims {
            sub: request.subject.to_string(),
            exp: request.expires_at.timestamp(),
            kind: request.kind.as_str().to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: request.issued_at.timestamp(),
            nbf: None,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: request.session.to_string(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.encoding)
            .map_err(|e| IssueError(anyhow!(e)))
    }
}

impl TokenVerifier for JwtTokens {
    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError> {
        let verifier = self.verifier_for(token).ok_or(TokenError::Invalid)?;
        let decoded = jsonwebtoken::decode::<Claims>(token, &verifier.key, &verifier.validation)
            .map_err(|_| TokenError::Invalid)?;
        // RFC 7515 §4.1.11: a `crit` header names extensions the recipient MUST understand,
        // and we understand none.
        if decoded.header.crit.is_some() {
            return Err(TokenError::Invalid);
        }
        let claims = decoded.claims;
        // Not valid before `nbf`, nor before its own `iat`: both with the leeway of `exp`.
        let not_before = (now + self.leeway).timestamp();
        if claims.nbf.is_some_and(|nbf| nbf > not_before) || claims.iat > not_before {
            return Err(TokenError::NotYetValid);
        }
        if claims.kind != expected.as_str() {
            return Err(TokenError::WrongKind);
        }
        let subject = claims
            .sub
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(UserId::new)
            .ok_or(TokenError::Invalid)?;
        let session = SessionId::parse(&claims.sid).ok_or(TokenError::Invalid)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(TokenError::Invalid)?;
        if expires_at + self.leeway <= now {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            subject,
            kind: expected,
            session,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

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
                expires_at: exp
            })
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
        assert!(JwtTokens::new("HS512", &secret, &policy).is_ok());
        assert!(matches!(
            JwtTokens::new("RS256", &secret, &policy),
            Err(JwtConfigError::NeedsKeyPair(_))
        ));
        assert!(matches!(
            JwtTokens::new("EdDSA", &secret, &policy),
            Err(JwtConfigError::NeedsKeyPair(_))
        ));
        assert!(matches!(
            JwtTokens::new("ES256", &secret, &policy),
            Err(JwtConfigError::Unsupported(_))
        ));
        assert!(matches!(
            JwtTokens::new("none", &secret, &policy),
            Err(JwtConfigError::UnknownAlgorithm(_))
        ));
        let empty = JwtKeys::Secret(SecretString::from(""));
        assert!(matches!(
            JwtTokens::new("HS256", &empty, &policy),
            Err(JwtConfigError::EmptySecret)
        ));
        let garbage = JwtKeys::KeyPair {
            private_pem: b"not a key".to_vec(),
            retired_public_pems: Vec::new(),
        };
        assert!(matches!(
            JwtTokens::new("EdDSA", &garbage, &policy),
            Err(JwtConfigError::BadKey(_))
        ));
        assert!(matches!(
            JwtTokens::new("HS256", &garbage, &policy),
            Err(JwtConfigError::NeedsSecret(_))
        ));
    }

    #[test]
    fn a_shared_secret_is_never_published() {
        assert!(tokens("secret").jwks().keys.is_empty());
    }
}
