//! JSON Web Tokens with the SPEC's claims — `sub` (the user id as a string), `exp`, `type` —
//! and those of RFC 8725's advice: `iss`, `aud`, `iat`, a unique `jti`, and `sid`, the
//! session the token belongs to; and `amr` (RFC 8176) and `aal`, how that session was
//! authenticated. Validation pins the configured algorithm, requires every
//! claim, refuses a `crit` header, and allows a small, configured leeway on `exp`, `nbf`
//! and `iat` alike.
//!
//! [`JwtTokens`] signs and verifies (the service itself); [`JwksVerifier`] only verifies,
//! with the public keys Flowrex publishes at `/.well-known/jwks.json` — what another
//! service needs to accept Flowrex's access tokens without any secret (see
//! `examples/protected_service.rs`). Key material is read in `jwt/keys.rs`.

mod claims;
mod keys;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::str::FromStr;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{IssueError, TokenError, TokenIssuer, TokenVerifier};
use flowrex_domain::{Assurance, SessionId, TokenKind, TokenRequest, UserId, VerifiedToken};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};

use claims::{AmrClaim, IssuedClaims, VerifiedClaims};

/// Signs and verifies tokens: with one shared secret (HS256 by default, HS384, HS512), or
/// with a key pair (EdDSA with Ed25519, RS256) whose public half, and those of retired
/// verify-only keys, are published as a JWK set so that other services can verify tokens
/// without any secret.
pub struct JwtTokens {
    header: Header,
    encoding: EncodingKey,
    ring: KeyRing,
    jwks: JwkSet,
    issuer: String,
    audience: String,
}

/// Verifies tokens with public keys only: a JWK set as Flowrex publishes it.
pub struct JwksVerifier {
    ring: KeyRing,
}

/// The keys that verify, and the rules they verify by.
struct KeyRing {
    /// By `kid` for key pairs; one, without `kid`, for a shared secret.
    verifiers: Vec<Verifier>,
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
    /// Leeway on `exp`, `nbf` and `iat`, in seconds.
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
    /// A key that is not a key of the algorithm's kind, or a JWK set that is not one.
    #[error("{0}")]
    BadKey(String),
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
            ) => keys::key_pair(algorithm, private_pem, retired_public_pems, policy)?,
            (other, _) => return Err(JwtConfigError::Unsupported(format!("{other:?}"))),
        };
        Ok(Self {
            header,
            encoding,
            ring: KeyRing::new(verifiers, policy),
            jwks,
            issuer: policy.issuer.clone(),
            audience: policy.audience.clone(),
        })
    }

    /// The public keys that verify tokens, as a JWK set (`GET /.well-known/jwks.json`);
    /// empty for a shared secret.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

impl JwksVerifier {
    /// A verifier over the keys of a JWK set (the JSON of `/.well-known/jwks.json`), each
    /// for the algorithm its `alg` names (EdDSA or RS256), with Flowrex's claim rules.
    ///
    /// # Errors
    /// [`JwtConfigError::BadKey`] for JSON that is not a JWK set, or a key without `kid`
    /// or of an algorithm Flowrex does not sign with.
    pub fn from_json(jwks: &[u8], policy: &JwtClaimsPolicy) -> Result<Self, JwtConfigError> {
        let set: JwkSet = serde_json::from_slice(jwks)
            .map_err(|e| JwtConfigError::BadKey(format!("not a JWK set: {e}")))?;
        Ok(Self {
            ring: KeyRing::new(keys::published_verifiers(&set, policy)?, policy),
        })
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

impl TokenIssuer for JwtTokens {
    fn issue(&self, request: &TokenRequest) -> Result<String, IssueError> {
        let claims = IssuedClaims {
            sub: request.subject.to_string(),
            exp: request.expires_at.timestamp(),
            kind: request.kind.as_str(),
            iss: &self.issuer,
            aud: &self.audience,
            iat: request.issued_at.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: request.session.as_str(),
            amr: AmrClaim(request.assurance),
            aal: request.assurance.aal().as_str(),
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
        self.ring.verify(token, expected, now)
    }
}

impl TokenVerifier for JwksVerifier {
    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError> {
        self.ring.verify(token, expected, now)
    }
}

impl KeyRing {
    fn new(verifiers: Vec<Verifier>, policy: &JwtClaimsPolicy) -> Self {
        Self {
            verifiers,
            leeway: chrono::Duration::seconds(i64::from(policy.leeway_seconds)),
        }
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

    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError> {
        let verifier = self.verifier_for(token).ok_or(TokenError::Invalid)?;
        let decoded =
            jsonwebtoken::decode::<VerifiedClaims>(token, &verifier.key, &verifier.validation)
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
        if claims.kind.0 != Some(expected) {
            return Err(TokenError::WrongKind);
        }
        let subject = claims
            .sub
            .0
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
            assurance: claims.amr.map_or(Assurance::PASSWORD, |amr| amr.0),
        })
    }
}
