//! Mail and the account lifecycle: the SMTP server, the sender, the templates, where the
//! links point and how long they work, the per-recipient limit, and whether logging in
//! needs a verified address.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::section::section;
use super::{AppEnv, SettingsError, invalid, positive};

section! {
    /// `SMTP_URL`, `MAIL_*`, `PUBLIC_URL`, the link templates and lifetimes,
    /// `EMAIL_RESEND_INTERVAL_SECONDS`, `REQUIRE_VERIFIED_EMAIL`, `EMAIL_LOGIN_*`.
    pub struct MailSection {
        /// lettre's form: `smtp://user:pass@host:587?tls=required`, `smtps://host:465`,
        /// `smtp://127.0.0.1:2525`. Empty: mail goes to the log in development and is off
        /// elsewhere.
        #[serde(
            deserialize_with = "super::section::secret",
            serialize_with = "super::section::redacted_url"
        )]
        smtp_url: SecretString = SecretString::from(""),
        /// The sender of every message.
        mail_from: String = "Flowrex <no-reply@localhost>".to_owned(),
        /// A folder whose `<purpose>.txt`/`<purpose>.html` files replace the built-in
        /// templates of the same name.
        mail_templates_dir: String = String::new(),
        /// How often each instance looks for queued mail, in milliseconds.
        mail_poll_interval_ms: u64 = 1000,
        /// Where the service's own pages are reached; empty: `http://HOST:PORT`.
        public_url: String = String::new(),
        /// The verification link, with `{token}`; empty: `PUBLIC_URL/verify-email?token={token}`.
        verify_email_url: String = String::new(),
        /// The password-reset link; empty: `PUBLIC_URL/reset-password?token={token}`.
        reset_password_url: String = String::new(),
        /// The email-change link; empty: `PUBLIC_URL/confirm-email?token={token}`.
        confirm_email_change_url: String = String::new(),
        /// How long a verification link works.
        verify_email_token_expire_hours: i64 = 24,
        /// How long a password-reset link works.
        reset_password_token_expire_minutes: i64 = 60,
        /// How long an email-change link works.
        confirm_email_change_token_expire_minutes: i64 = 60,
        /// At most one message per recipient and purpose per this many seconds; 0: off.
        email_resend_interval_seconds: u64 = 60,
        /// Refuse logins of accounts whose address is not verified (403).
        require_verified_email: bool = false,
        /// Sign-in by email (a mailed link and code); off: its routes answer 404.
        email_login_enabled: bool = false,
        /// An unknown address gets a sign-in mail too, which creates its account.
        email_login_creates_accounts: bool = false,
        /// How long a sign-in link and its code work.
        email_login_token_expire_minutes: i64 = 10,
        /// The sign-in link; empty: `PUBLIC_URL/email-login?token={token}`.
        email_login_url: String = String::new(),
    }
}

/// How mail leaves the service.
#[derive(Debug, Clone)]
pub enum MailMode {
    /// Through this SMTP server (`SMTP_URL`, may hold a password).
    Smtp(SecretString),
    /// Written to the log (development without `SMTP_URL`).
    Log,
    /// Not at all (`SMTP_URL` empty outside development): the flows that must mail a link
    /// answer 503.
    Disabled,
}

/// The mail settings, checked.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// How mail leaves.
    pub mode: MailMode,
    /// `MAIL_FROM`.
    pub from: String,
    /// `MAIL_TEMPLATES_DIR`, when set.
    pub templates_dir: Option<PathBuf>,
    /// `MAIL_POLL_INTERVAL_MS`.
    pub poll_interval: Duration,
    /// `PUBLIC_URL`, when set (otherwise `http://HOST:PORT` of the bound port).
    pub public_url: Option<String>,
    /// The three link templates, each when set.
    pub verify_email_url: Option<String>,
    /// `RESET_PASSWORD_URL`.
    pub reset_password_url: Option<String>,
    /// `CONFIRM_EMAIL_CHANGE_URL`.
    pub confirm_email_change_url: Option<String>,
    /// The three token lifetimes.
    pub verification_ttl: chrono::Duration,
    /// `RESET_PASSWORD_TOKEN_EXPIRE_MINUTES`.
    pub reset_ttl: chrono::Duration,
    /// `CONFIRM_EMAIL_CHANGE_TOKEN_EXPIRE_MINUTES`.
    pub email_change_ttl: chrono::Duration,
    /// `EMAIL_RESEND_INTERVAL_SECONDS`, when not 0.
    pub resend_interval: Option<Duration>,
    /// `REQUIRE_VERIFIED_EMAIL`.
    pub require_verified_email: bool,
    /// `EMAIL_LOGIN_URL`, when set.
    pub email_login_url: Option<String>,
    /// `EMAIL_LOGIN_ENABLED`, `EMAIL_LOGIN_CREATES_ACCOUNTS`,
    /// `EMAIL_LOGIN_TOKEN_EXPIRE_MINUTES`.
    pub email_login: flowrex_domain::EmailLoginPolicy,
}

impl MailConfig {
    /// Whether any mail can be sent.
    pub fn enabled(&self) -> bool {
        !matches!(self.mode, MailMode::Disabled)
    }
}

impl MailSection {
    /// Checks the section for `env`.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self, env: AppEnv) -> Result<MailConfig, SettingsError> {
        let smtp_url = self.smtp_url.expose_secret().trim();
        let mode = if !smtp_url.is_empty() {
            if !(smtp_url.starts_with("smtp://") || smtp_url.starts_with("smtps://")) {
                return Err(invalid("SMTP_URL", "must start with smtp:// or smtps://"));
            }
            // lettre's own message may quote the URL: only its kind is shown.
            flowrex_infrastructure::mail::check_smtp_url(smtp_url).map_err(|_| {
                invalid(
                    "SMTP_URL",
                    "not an SMTP URL lettre accepts (smtp://user:pass@host:587?tls=required, smtps://host:465)",
                )
            })?;
            MailMode::Smtp(SecretString::from(smtp_url))
        } else if env == AppEnv::Development {
            MailMode::Log
        } else {
            MailMode::Disabled
        };
        flowrex_infrastructure::mail::check_from(&self.mail_from)
            .map_err(|e| invalid("MAIL_FROM", e))?;
        let templates_dir = non_empty(&self.mail_templates_dir).map(PathBuf::from);
        if let Some(dir) = templates_dir.as_ref().filter(|dir| !dir.is_dir()) {
            return Err(invalid(
                "MAIL_TEMPLATES_DIR",
                format!("{} is not a folder", dir.display()),
            ));
        }
        let public_url = non_empty(&self.public_url)
            .map(|url| http_url("PUBLIC_URL", url))
            .transpose()?;
        let link = |variable: &str, raw: &str| -> Result<Option<String>, SettingsError> {
            let Some(url) = non_empty(raw) else {
                return Ok(None);
            };
            let url = http_url(variable, url)?;
            if !url.contains("{token}") {
                return Err(invalid(variable, "must contain {token}"));
            }
            Ok(Some(url))
        };
        Ok(MailConfig {
            mode,
            from: self.mail_from.trim().to_owned(),
            templates_dir,
            poll_interval: Duration::from_millis(positive(
                self.mail_poll_interval_ms,
                "MAIL_POLL_INTERVAL_MS",
            )?),
            public_url,
            verify_email_url: link("VERIFY_EMAIL_URL", &self.verify_email_url)?,
            reset_password_url: link("RESET_PASSWORD_URL", &self.reset_password_url)?,
            confirm_email_change_url: link(
                "CONFIRM_EMAIL_CHANGE_URL",
                &self.confirm_email_change_url,
            )?,
            verification_ttl: lifetime(
                "VERIFY_EMAIL_TOKEN_EXPIRE_HOURS",
                self.verify_email_token_expire_hours,
                chrono::Duration::try_hours,
            )?,
            reset_ttl: lifetime(
                "RESET_PASSWORD_TOKEN_EXPIRE_MINUTES",
                self.reset_password_token_expire_minutes,
                chrono::Duration::try_minutes,
            )?,
            email_change_ttl: lifetime(
                "CONFIRM_EMAIL_CHANGE_TOKEN_EXPIRE_MINUTES",
                self.confirm_email_change_token_expire_minutes,
                chrono::Duration::try_minutes,
            )?,
            resend_interval: (self.email_resend_interval_seconds > 0)
                .then(|| Duration::from_secs(self.email_resend_interval_seconds)),
            require_verified_email: self.require_verified_email,
            email_login_url: link("EMAIL_LOGIN_URL", &self.email_login_url)?,
            email_login: flowrex_domain::EmailLoginPolicy {
                enabled: self.email_login_enabled,
                creates_accounts: self.email_login_creates_accounts,
                ttl: lifetime(
                    "EMAIL_LOGIN_TOKEN_EXPIRE_MINUTES",
                    self.email_login_token_expire_minutes,
                    chrono::Duration::try_minutes,
                )?,
            },
        })
    }
}

fn non_empty(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|value| !value.is_empty())
}

/// `url` if it is an absolute http(s) URL.
fn http_url(variable: &str, url: &str) -> Result<String, SettingsError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_owned())
    } else {
        Err(invalid(variable, "must be an http:// or https:// URL"))
    }
}

/// A token lifetime from 1 unit to a year.
fn lifetime(
    variable: &str,
    value: i64,
    unit: fn(i64) -> Option<chrono::Duration>,
) -> Result<chrono::Duration, SettingsError> {
    unit(value)
        .filter(|duration| value >= 1 && *duration <= chrono::Duration::days(366))
        .ok_or_else(|| invalid(variable, "must be at least 1 and at most a year"))
}
