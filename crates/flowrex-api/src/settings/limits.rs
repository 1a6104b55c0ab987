//! Abuse limits: requests per client, and login attempts per client and per account.

use std::time::Duration;

use super::section::section;
use super::{SettingsError, positive};

section! {
    /// `RATE_LIMIT_PER_MINUTE`, `LOGIN_MAX_FAILURES_PER_ACCOUNT`, `LOGIN_MAX_FAILURES_PER_IP`,
    /// `LOGIN_FAILURE_WINDOW_SECONDS`.
    pub struct LimitsSection {
        /// Requests per minute per client address; 0 turns the limit off.
        rate_limit_per_minute: u32 = 200,
        /// Login attempts per account and client address per window; 0: no limit.
        login_max_failures_per_account: u32 = 5,
        /// Login attempts per client address per window, whatever the account; 0: no limit.
        login_max_failures_per_ip: u32 = 50,
        /// The fixed window of the login limits, started by a key's first attempt.
        login_failure_window_seconds: u64 = 900,
    }
}

/// The limits, checked; `None` where a limit is off.
#[derive(Debug, Clone, Copy)]
pub struct LimitsConfig {
    /// Requests per minute per client.
    pub per_minute: Option<u32>,
    /// Login attempts per account and client per window.
    pub logins_per_account: Option<u32>,
    /// Login attempts per client per window.
    pub logins_per_client: Option<u32>,
    /// The login limits' window.
    pub login_window: Duration,
}

impl LimitsSection {
    /// Checks the section.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self) -> Result<LimitsConfig, SettingsError> {
        let on = |max: u32| (max > 0).then_some(max);
        Ok(LimitsConfig {
            per_minute: on(self.rate_limit_per_minute),
            logins_per_account: on(self.login_max_failures_per_account),
            logins_per_client: on(self.login_max_failures_per_ip),
            login_window: Duration::from_secs(positive(
                self.login_failure_window_seconds,
                "LOGIN_FAILURE_WINDOW_SECONDS",
            )?),
        })
    }
}
