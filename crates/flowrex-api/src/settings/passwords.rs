//! Breached passwords: where the k-anonymity ranges come from, what counts as a breach,
//! what happens when the source fails, and how long it may take.

use std::path::PathBuf;
use std::time::Duration;

use flowrex_domain::BreachOnError;
use flowrex_infrastructure::RangeSource;

use super::section::section;
use super::{AppEnv, SettingsError, invalid, positive};

/// The public Pwned Passwords range API.
pub const PWNED_PASSWORDS_RANGE_URL: &str = "https://api.pwnedpasswords.com/range";

section! {
    /// `PASSWORD_BREACH_CHECK`, `PASSWORD_BREACH_RANGE_URL`, `PASSWORD_BREACH_RANGE_DIR`,
    /// `PASSWORD_BREACH_MIN_COUNT`, `PASSWORD_BREACH_ON_ERROR`, `PASSWORD_BREACH_TIMEOUT_MS`.
    pub struct PasswordsSection {
        /// `off`, `range-api` or `range-files`.
        password_breach_check: String = "off".to_owned(),
        /// The range API (`GET {url}/{PREFIX}`).
        password_breach_range_url: String = PWNED_PASSWORDS_RANGE_URL.to_owned(),
        /// The folder of `PREFIX.txt` range files.
        password_breach_range_dir: String = String::new(),
        /// Occurrences at or above which a password counts as breached.
        password_breach_min_count: u64 = 1,
        /// `allow` (logged and counted) or `refuse` (503) when the source fails.
        password_breach_on_error: String = "allow".to_owned(),
        /// How long one check may take, in milliseconds.
        password_breach_timeout_ms: u64 = 3000,
    }
}

/// The breach check, checked.
#[derive(Debug, Clone)]
pub struct BreachConfig {
    /// The source; `None`: `off`.
    pub source: Option<RangeSource>,
    /// `PASSWORD_BREACH_MIN_COUNT`.
    pub min_count: u64,
    /// `PASSWORD_BREACH_ON_ERROR`.
    pub on_error: BreachOnError,
    /// `PASSWORD_BREACH_TIMEOUT_MS`.
    pub timeout: Duration,
}

impl PasswordsSection {
    /// Checks the section for `env`.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self, env: AppEnv) -> Result<BreachConfig, SettingsError> {
        let mode = self.password_breach_check.trim().to_ascii_lowercase();
        let mode = if mode.is_empty() {
            "off"
        } else {
            mode.as_str()
        };
        let source = match mode {
            "off" => None,
            "range-api" => {
                let url = self.password_breach_range_url.trim().trim_end_matches('/');
                let local = matches!(env, AppEnv::Development | AppEnv::Test);
                if !(url.starts_with("https://") || (local && url.starts_with("http://"))) {
                    return Err(invalid(
                        "PASSWORD_BREACH_RANGE_URL",
                        "must be an https:// URL (http:// in development and test only)",
                    ));
                }
                Some(RangeSource::Api {
                    base: url.to_owned(),
                })
            }
            "range-files" => {
                let dir = self.password_breach_range_dir.trim();
                if dir.is_empty() || !PathBuf::from(dir).is_dir() {
                    return Err(invalid(
                        "PASSWORD_BREACH_RANGE_DIR",
                        "must be the folder of the downloaded range files with range-files",
                    ));
                }
                Some(RangeSource::Files {
                    dir: PathBuf::from(dir),
                })
            }
            _ => {
                return Err(invalid(
                    "PASSWORD_BREACH_CHECK",
                    "must be off, range-api or range-files",
                ));
            }
        };
        let on_error = match self
            .password_breach_on_error
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "allow" => BreachOnError::Allow,
            "refuse" => BreachOnError::Refuse,
            _ => {
                return Err(invalid(
                    "PASSWORD_BREACH_ON_ERROR",
                    "must be allow or refuse",
                ));
            }
        };
        Ok(BreachConfig {
            source,
            min_count: positive(self.password_breach_min_count, "PASSWORD_BREACH_MIN_COUNT")?,
            on_error,
            timeout: Duration::from_millis(positive(
                self.password_breach_timeout_ms,
                "PASSWORD_BREACH_TIMEOUT_MS",
            )?),
        })
    }
}
