//! JSON Web Tokens with the SPEC's claims: `sub` (the user id as a string), `exp`, `type`.

use std::collections::HashSet;
use std::str::FromStr;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{IssueError, TokenError, TokenIssuer, TokenVerifier};
use flowrex_domain::{TokenKind, UserId, VerifiedToken};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Signs and verifies tokens with one shared secret (HS256 by default, HS384 and HS512 too).
pub struct JwtTokens {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// The JWT settings cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtConfigError {
    /// Not an algorithm name at all.
    #[error("JWT_ALGORITHM `{0}` is not a JWT algorithm; use HS256, HS384 or HS512")]
    UnknownAlgorithm(String),
    /// An algorithm that needs key files rather than a shared secret.
    #[error("JWT_ALGORITHM `{0}` needs a key pair; with JWT_SECRET_KEY use HS256, HS384 or HS512")]
    NeedsKeyPair(String),
    /// An empty secret.
    #[error("JWT_SECRET_KEY must not be empty")]
    EmptySecret,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(rename = "type")]
    kind: String,
}

impl JwtTokens {
    /// Tokens signed with `secret` by `algorithm` (a name such as `HS256`).
    ///
    /// # Errors
    /// [`JwtConfigError`] for an unknown or asymmetric algorithm or an empty secret.
    pub fn new(algorithm: &str, secret: &SecretString) -> Result<Self, JwtConfigError> {
        let algorithm = Algorithm::from_str(algorithm.trim())
            .map_err(|_| JwtConfigError::UnknownAlgorithm(algorithm.to_owned()))?;
        if !matches!(
            algorithm,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(JwtConfigError::NeedsKeyPair(format!("{algorithm:?}")));
        }
        let secret = secret.expose_secret().as_bytes();
        if secret.is_empty() {
            return Err(JwtConfigError::EmptySecret);
        }
        // Only the configured algorithm; no leeway; `exp` and `sub` must be present. Expiry
        // is compared with the service's clock in `verify`, so that it is testable.
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "sub".to_owned()]);
        Ok(Self {
            header: Header::new(algorithm),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }
}

impl TokenIssuer for JwtTokens {
    fn issue(
        &self,
        subject: UserId,
        kind: TokenKind,
        expires_at: DateTime<Utc>,
    ) -> Result<String, IssueError> {
        let claims = Claims {
            sub: subject.to_string(),
            exp: expires_at.timestamp(),
            kind: kind.as_str().to_owned(),
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
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
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
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(TokenError::Invalid)?;
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            subject,
            kind: expected,
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
        JwtTokens::new("HS256", &SecretString::from(secret)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn signed(claims: &serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let jwt = tokens("secret");
        let exp = now() + Duration::minutes(30);
        let token = jwt
            .issue(UserId::new(42), TokenKind::Access, exp)
            .unwrap_or_default();
        let verified = jwt.verify(&token, TokenKind::Access, now());
        assert_eq!(
            verified,
            Ok(VerifiedToken {
                subject: UserId::new(42),
                kind: TokenKind::Access,
                expires_at: exp
            })
        );
    }

    #[test]
    fn the_payload_has_exactly_the_spec_claims() {
        let jwt = tokens("secret");
        let token = jwt
            .issue(UserId::new(42), TokenKind::Refresh, now())
            .unwrap_or_default();
        let payload = token.split('.').nth(1).unwrap_or_default();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_secret(b"secret"),
            &validation,
        )
        .map(|d| d.claims)
        .unwrap_or_default();
        assert!(!payload.is_empty());
        assert_eq!(
            decoded,
            serde_json::json!({"sub": "42", "exp": now().timestamp(), "type": "refresh"})
        );
    }

    #[test]
    fn a_token_of_the_other_kind_is_refused() {
        let jwt = tokens("secret");
        let exp = now() + Duration::days(7);
        let refresh = jwt
            .issue(UserId::new(1), TokenKind::Refresh, exp)
            .unwrap_or_default();
        assert_eq!(
            jwt.verify(&refresh, TokenKind::Access, now()),
            Err(TokenError::WrongKind)
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let jwt = tokens("secret");
        let token = jwt
            .issue(UserId::new(1), TokenKind::Access, now())
            .unwrap_or_default();
        assert_eq!(
            jwt.verify(&token, TokenKind::Access, now()),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn forged_garbled_and_misshapen_tokens_are_invalid() {
        let jwt = tokens("secret");
        let exp = (now() + Duration::hours(1)).timestamp();
        let cases = [
            signed(
                &serde_json::json!({"sub": "1", "exp": exp, "type": "access"}),
                "other",
            ),
            "not.a.token".to_owned(),
            String::new(),
            signed(
                &serde_json::json!({"sub": 1, "exp": exp, "type": "access"}),
                "secret",
            ),
            signed(
                &serde_json::json!({"sub": "abc", "exp": exp, "type": "access"}),
                "secret",
            ),
            signed(
                &serde_json::json!({"sub": "99999999999999999999999", "exp": exp, "type": "access"}),
                "secret",
            ),
            signed(
                &serde_json::json!({"sub": "-3", "exp": exp, "type": "access"}),
                "secret",
            ),
            signed(
                &serde_json::json!({"sub": "1", "exp": "soon", "type": "access"}),
                "secret",
            ),
            signed(&serde_json::json!({"sub": "1", "type": "access"}), "secret"),
            signed(&serde_json::json!({"exp": exp, "type": "access"}), "secret"),
            signed(&serde_json::json!({"sub": "1", "exp": exp}), "secret"),
            // alg "none": header {"alg":"none","typ":"JWT"}, no signature.
            format!(
                "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
                signed(
                    &serde_json::json!({"sub": "1", "exp": exp, "type": "access"}),
                    "secret"
                )
                .split('.')
                .nth(1)
                .unwrap_or_default()
            ),
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
    fn only_shared_secret_algorithms_are_accepted() {
        let secret = SecretString::from("s");
        assert!(JwtTokens::new("HS512", &secret).is_ok());
        assert!(matches!(
            JwtTokens::new("RS256", &secret),
            Err(JwtConfigError::NeedsKeyPair(_))
        ));
        assert!(matches!(
            JwtTokens::new("none", &secret),
            Err(JwtConfigError::UnknownAlgorithm(_))
        ));
        assert!(matches!(
            JwtTokens::new("HS256", &SecretString::from("")),
            Err(JwtConfigError::EmptySecret)
        ));
    }
}
