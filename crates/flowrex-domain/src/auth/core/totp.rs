//! TOTP codes, as both signing in and managing the factor check them: a secret opened from
//! its seal, and a code accepted once.

use std::sync::Arc;

use super::Core;
use crate::TotpSecret;
use crate::auth::MfaError;
use crate::ports::{OneTimePasswords, Sealer, TotpFactor};

/// The ports a TOTP code is checked with.
#[derive(Clone)]
pub(in crate::auth) struct TotpCheck {
    /// The codes.
    pub(in crate::auth) otp: Arc<dyn OneTimePasswords>,
    /// The secrets' seal.
    pub(in crate::auth) sealer: Arc<dyn Sealer>,
}

impl TotpCheck {
    /// The factor's secret. One sealed under another `APP_SECRET_KEY` cannot be opened:
    /// then no code matches (recovery codes still work), and the operator is told.
    pub(in crate::auth) fn open_secret(&self, factor: &TotpFactor) -> Result<TotpSecret, MfaError> {
        self.sealer
            .open(&factor.secret)
            .map(TotpSecret::from_bytes)
            .map_err(|_| {
                tracing::error!(
                    factor = factor.id,
                    "TOTP secret cannot be opened: was APP_SECRET_KEY changed?"
                );
                MfaError::InvalidCode
            })
    }

    /// Accepts `code` for the active `factor` once: the matching step must be later than
    /// the last accepted one, and recording it must win against any concurrent request.
    pub(in crate::auth) async fn check_code(
        &self,
        core: &Core,
        factor: &TotpFactor,
        code: &str,
    ) -> Result<(), MfaError> {
        let secret = self.open_secret(factor)?;
        let step = self
            .otp
            .matching_step(&secret, code, core.now(), factor.last_used_step)
            .ok_or(MfaError::InvalidCode)?;
        if core.factors.accept_totp_step(factor.id, step).await? {
            Ok(())
        } else {
            tracing::warn!("TOTP code replayed");
            Err(MfaError::InvalidCode)
        }
    }
}

impl TotpCheck {
    /// [`Self::check_code`] for a signed-in caller managing the factor: each try counts
    /// against the account's second-factor budget, as at sign-in, so that a stolen
    /// session cannot guess codes without limit.
    pub(in crate::auth) async fn use_code(
        &self,
        core: &Core,
        factor: &TotpFactor,
        code: &str,
    ) -> Result<(), MfaError> {
        let code_try = core
            .begin_code_try(factor.user)
            .await
            .map_err(|retry_after| MfaError::Throttled { retry_after })?;
        let result = self.check_code(core, factor, code).await;
        match &result {
            Ok(()) => code_try.succeeded().await,
            Err(MfaError::InvalidCode) => code_try.failed(),
            Err(_) => code_try.inconclusive().await,
        }
        result
    }
}
