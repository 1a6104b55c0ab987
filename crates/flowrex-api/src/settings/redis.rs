//! Redis, for counters shared by every instance.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::section::section;
use super::{SettingsError, invalid, positive};

section! {
    /// `REDIS_URL`, `REDIS_KEY_PREFIX`, `REDIS_TIMEOUT_MS`.
    pub struct RedisSection {
        /// Empty: no Redis; counters stay in process.
        #[serde(
            deserialize_with = "super::section::secret",
            serialize_with = "super::section::redacted_url"
        )]
        redis_url: SecretString = SecretString::from(""),
        /// Start of every key written to Redis.
        redis_key_prefix: String = "flowrex".to_owned(),
        /// How long connecting or one call may take before counting in process instead.
        redis_timeout_ms: u64 = 250,
    }
}

/// Redis, checked.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `REDIS_URL` (may hold a password).
    pub url: SecretString,
    /// `REDIS_KEY_PREFIX`.
    pub key_prefix: String,
    /// `REDIS_TIMEOUT_MS`.
    pub timeout: Duration,
}

impl RedisSection {
    /// Checks the section; `None` without `REDIS_URL`.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self) -> Result<Option<RedisConfig>, SettingsError> {
        let timeout = Duration::from_millis(positive(self.redis_timeout_ms, "REDIS_TIMEOUT_MS")?);
        let url = self.redis_url.expose_secret().trim();
        if url.is_empty() {
            return Ok(None);
        }
        if url.starts_with("rediss://") {
            return Err(invalid(
                "REDIS_URL",
                "TLS (rediss://) is not supported yet; use redis:// (over a private network or a TLS tunnel)",
            ));
        }
        if !(url.starts_with("redis://") || url.starts_with("unix://")) {
            return Err(invalid("REDIS_URL", "must start with redis:// or unix://"));
        }
        Ok(Some(RedisConfig {
            url: SecretString::from(url),
            key_prefix: self.redis_key_prefix.clone(),
            timeout,
        }))
    }
}
