//! Account events: the NATS JetStream stream and the webhooks' rules.

use std::path::PathBuf;
use std::time::Duration;

use flowrex_infrastructure::webhook::WebhookRules;
use secrecy::{ExposeSecret, SecretString};

use super::section::section;
use super::{AppEnv, SettingsError, invalid, positive};

section! {
    /// `EVENTS_NATS_URL`, `EVENTS_NATS_SUBJECT_PREFIX`, `EVENTS_NATS_STREAM`,
    /// `EVENTS_NATS_CREDENTIALS_FILE`, `EVENTS_NATS_TLS_CA_FILE`,
    /// `EVENTS_POLL_INTERVAL_MS`, `WEBHOOK_ALLOW_PRIVATE_NETWORKS`.
    pub struct EventsSection {
        /// Empty: no stream (webhooks still work).
        #[serde(
            deserialize_with = "super::section::secret",
            serialize_with = "super::section::redacted_url"
        )]
        events_nats_url: SecretString = SecretString::from(""),
        /// Subjects are `<prefix>.<type>` (`flowrex.events.user.deleted`).
        events_nats_subject_prefix: String = "flowrex.events".to_owned(),
        /// The stream, created when missing.
        events_nats_stream: String = "FLOWREX_EVENTS".to_owned(),
        /// A `.creds` file (JWT and NKey) for servers that ask for one.
        events_nats_credentials_file: String = String::new(),
        /// A CA certificate: TLS is then required and verified against it.
        events_nats_tls_ca_file: String = String::new(),
        /// How often each instance looks for events to deliver besides its own, in
        /// milliseconds.
        events_poll_interval_ms: u64 = 500,
        /// Let webhooks reach private, loopback and link-local addresses.
        webhook_allow_private_networks: bool = false,
    }
}

/// The stream's settings, checked.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// `EVENTS_NATS_URL` (may hold a password).
    pub url: SecretString,
    /// `EVENTS_NATS_SUBJECT_PREFIX`.
    pub subject_prefix: String,
    /// `EVENTS_NATS_STREAM`.
    pub stream: String,
    /// `EVENTS_NATS_CREDENTIALS_FILE`, when set.
    pub credentials_file: Option<PathBuf>,
    /// `EVENTS_NATS_TLS_CA_FILE`, when set.
    pub tls_ca_file: Option<PathBuf>,
}

/// Events, checked.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// The stream, when `EVENTS_NATS_URL` is set.
    pub stream: Option<StreamConfig>,
    /// `EVENTS_POLL_INTERVAL_MS`.
    pub poll_interval: Duration,
    /// What URLs webhooks may go to (`http` in development and test only).
    pub webhooks: WebhookRules,
}

/// A file setting: empty is none; set, it must be a file.
fn file(value: &str, variable: &str) -> Result<Option<PathBuf>, SettingsError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(value);
    if !path.is_file() {
        return Err(invalid(variable, format!("{value} is not a file")));
    }
    Ok(Some(path))
}

/// A subject token list: dot-separated, no wildcards or spaces.
fn subject_prefix(value: &str) -> Result<String, SettingsError> {
    let value = value.trim();
    let fine = !value.is_empty()
        && value.split('.').all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if fine {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "EVENTS_NATS_SUBJECT_PREFIX",
            "must be dot-separated tokens of letters, digits, `_` and `-`",
        ))
    }
}

impl EventsSection {
    /// Checks the section.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self, env: AppEnv) -> Result<EventsConfig, SettingsError> {
        let poll_interval = Duration::from_millis(positive(
            self.events_poll_interval_ms,
            "EVENTS_POLL_INTERVAL_MS",
        )?);
        let url = self.events_nats_url.expose_secret().trim();
        let stream = if url.is_empty() {
            None
        } else {
            if !["nats://", "tls://", "ws://", "wss://"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
                && url.contains("://")
            {
                return Err(invalid(
                    "EVENTS_NATS_URL",
                    "must be a nats://, tls://, ws:// or wss:// URL",
                ));
            }
            let name = self.events_nats_stream.trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(invalid(
                    "EVENTS_NATS_STREAM",
                    "must be letters, digits, `_` and `-`",
                ));
            }
            Some(StreamConfig {
                url: SecretString::from(url),
                subject_prefix: subject_prefix(&self.events_nats_subject_prefix)?,
                stream: name.to_owned(),
                credentials_file: file(
                    &self.events_nats_credentials_file,
                    "EVENTS_NATS_CREDENTIALS_FILE",
                )?,
                tls_ca_file: file(&self.events_nats_tls_ca_file, "EVENTS_NATS_TLS_CA_FILE")?,
            })
        };
        Ok(EventsConfig {
            stream,
            poll_interval,
            webhooks: WebhookRules {
                allow_http: !env.is_production_like(),
                allow_private: self.webhook_allow_private_networks,
            },
        })
    }
}
