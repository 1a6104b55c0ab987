//! Tokens, sessions and password hashing: what the services and their token and hashing
//! adapters are built from.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flowrex_domain::AuthPolicy;
use flowrex_infrastructure::hasher::BcryptCost;
use flowrex_infrastructure::{JwtClaimsPolicy, JwtKeys, JwtTokens};
use secrecy::SecretString;

use super::section::{list, section};
use super::{SettingsError, invalid, positive};

section! {
    /// `JWT_*`, `ACCESS_TOKEN_EXPIRE_MINUTES`, `REFRESH_TOKEN_EXPIRE_DAYS`,
    /// `REFRESH_REUSE_GRACE_SECONDS`, `SESSION_CLEANUP_*`, `BCRYPT_COST`, `AUDIT_RETENTION_DAYS`.
    pub struct AuthSection {
        /// Signs HS256/HS384/HS512 tokens; generated in development when empty.
        #[serde(
            deserialize_with = "super::section::secret",
            serialize_with = "super::section::redacted"
        )]
        jwt_secret_key: SecretString = SecretString::from(""),
        /// HS256, HS384, HS512 (with `JWT_SECRET_KEY`), EdDSA or RS256 (with key files).
        jwt_algorithm: String = "HS256".to_owned(),
        /// EdDSA/RS256: the PKCS#8 PEM private key that signs new tokens.
        jwt_private_key_file: String = String::new(),
        /// Comma-separated PEM public keys of retired signing keys (verify only).
        jwt_retired_public_key_files: String = String::new(),
        /// The `iss` claim written and required.
        jwt_issuer: String = "flowrex".to_owned(),
        /// The `aud` claim written and required.
        jwt_audience: String = "flowrex".to_owned(),
        /// Clock skew forgiven on `exp`, `nbf` and `iat`, in seconds (at most 300).
        jwt_leeway_seconds: u32 = 5,
        /// Access-token lifetime (1 minute to a year).
        access_token_expire_minutes: i64 = 30,
        /// Refresh-token and session lifetime (1 to 3650 days).
        refresh_token_expire_days: i64 = 7,
        /// How long a just-replaced refresh token is refused without revoking its session.
        refresh_reuse_grace_seconds: u32 = 5,
        /// How often each instance deletes expired sessions; 0: never.
        session_cleanup_interval_seconds: u64 = 3600,
        /// How many expired sessions one cleanup statement deletes (at least 1).
        session_cleanup_batch: u64 = 500,
        /// bcrypt cost (4 to 31).
        bcrypt_cost: u32 = 12,
        /// Days audit events are kept (deleted by the session cleanup); 0 keeps them.
        audit_retention_days: u32 = 365,
    }
}

/// The expired-session cleanup, when on.
#[derive(Debug, Clone, Copy)]
pub struct SessionCleanup {
    /// How often.
    pub interval: Duration,
    /// Rows per statement (never 0).
    pub batch: u64,
    /// How long audit events are kept (`None`: for ever).
    pub audit_retention: Option<chrono::Duration>,
}

/// The token, session and hashing settings, checked: the token adapter is built here,
/// once, from the keys read once.
#[derive(Clone)]
pub struct AuthConfig {
    /// Token lifetimes and the refresh grace period.
    pub policy: AuthPolicy,
    /// The token signer and verifier.
    pub tokens: Arc<JwtTokens>,
    /// `BCRYPT_COST`.
    pub bcrypt_cost: BcryptCost,
    /// `SESSION_CLEANUP_*`.
    pub cleanup: Option<SessionCleanup>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("policy", &self.policy)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("cleanup", &self.cleanup)
            .finish_non_exhaustive()
    }
}

impl AuthSection {
    /// Checks the section, signing with `jwt_secret` (the configured or generated one).
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self, jwt_secret: SecretString) -> Result<AuthConfig, SettingsError> {
        let access_minutes = positive(
            self.access_token_expire_minutes,
            "ACCESS_TOKEN_EXPIRE_MINUTES",
        )?;
        if access_minutes > 60 * 24 * 365 {
            return Err(invalid(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                "must be at most a year",
            ));
        }
        let refresh_days = positive(self.refresh_token_expire_days, "REFRESH_TOKEN_EXPIRE_DAYS")?;
        if refresh_days > 3650 {
            return Err(invalid("REFRESH_TOKEN_EXPIRE_DAYS", "must be at most 3650"));
        }
        let claims = self.claims()?;
        let tokens = JwtTokens::new(&self.jwt_algorithm, &self.keys(jwt_secret)?, &claims)
            .map_err(|e| invalid("JWT_ALGORITHM", e))?;
        let cleanup = match self.session_cleanup_interval_seconds {
            0 => None,
            seconds => Some(SessionCleanup {
                interval: Duration::from_secs(seconds),
                batch: positive(self.session_cleanup_batch, "SESSION_CLEANUP_BATCH")?,
                audit_retention: (self.audit_retention_days > 0)
                    .then(|| chrono::Duration::days(i64::from(self.audit_retention_days))),
            }),
        };
        Ok(AuthConfig {
            policy: AuthPolicy {
                access_ttl: chrono::Duration::minutes(access_minutes),
                refresh_ttl: chrono::Duration::days(refresh_days),
                refresh_reuse_grace: chrono::Duration::seconds(i64::from(
                    self.refresh_reuse_grace_seconds,
                )),
            },
            tokens: Arc::new(tokens),
            bcrypt_cost: BcryptCost::new(self.bcrypt_cost)
                .map_err(|e| invalid("BCRYPT_COST", e))?,
            cleanup,
        })
    }

    fn claims(&self) -> Result<JwtClaimsPolicy, SettingsError> {
        if self.jwt_issuer.trim().is_empty() {
            return Err(invalid("JWT_ISSUER", "must not be empty"));
        }
        if self.jwt_audience.trim().is_empty() {
            return Err(invalid("JWT_AUDIENCE", "must not be empty"));
        }
        if self.jwt_leeway_seconds > 300 {
            return Err(invalid("JWT_LEEWAY_SECONDS", "must be at most 300"));
        }
        Ok(JwtClaimsPolicy {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            leeway_seconds: self.jwt_leeway_seconds,
        })
    }

    /// The key files when `JWT_PRIVATE_KEY_FILE` is set (read here, once), the secret
    /// otherwise.
    fn keys(&self, secret: SecretString) -> Result<JwtKeys, SettingsError> {
        let private = self.jwt_private_key_file.trim();
        if private.is_empty() {
            return Ok(JwtKeys::Secret(secret));
        }
        let read = |variable: &str, path: &str| {
            std::fs::read(PathBuf::from(path))
                .map_err(|e| invalid(variable, format!("{path}: {e}")))
        };
        Ok(JwtKeys::KeyPair {
            private_pem: read("JWT_PRIVATE_KEY_FILE", private)?,
            retired_public_pems: list(&self.jwt_retired_public_key_files)
                .iter()
                .map(|path| read("JWT_RETIRED_PUBLIC_KEY_FILES", path))
                .collect::<Result<_, _>>()?,
        })
    }
}
