//! TOTP enrolment, activation and removal, and recovery codes (completing a login with a
//! code is `sign_in/second_factor.rs`). What other services skip, done here: an accepted
//! TOTP step is never accepted again (also across instances and for concurrent requests:
//! one conditional update decides), the activating code counts as used, recovery codes
//! carry 80 bits and are stored as hashes only, single use, and each use is audited and
//! mailed.

use tracing::instrument;

use super::Factors;
use crate::auth::core::Core;
use crate::auth::{AccountError, Authenticated, MfaError};
use crate::ports::{AccountStoreError, Changes, RecoveryCodesChange, Revocation, TotpChange};
use crate::{
    AuditAction, AuditEvent, ClientInfo, IssuedUnder, MailPurpose, PasswordAttempt, RecoveryCode,
    RevokeReason, TotpProvisioning, TotpSecret,
};

impl Factors {
    /// Enrols a new TOTP factor, pending until [`Self::activate_totp`]: the secret, its
    /// `otpauth://` URI and a QR code of it, shown this once. A way to sign in is added only
    /// with fresh proof (the current password) to an account whose address is verified.
    /// With a factor active already the session must be at `aal2`; the active one stays
    /// until the new one is activated.
    ///
    /// # Errors
    /// [`MfaError::EmailNotVerified`], [`MfaError::WrongPassword`] (counted like a failed
    /// login), [`MfaError::Throttled`], [`MfaError::Aal2Required`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn enroll_totp(
        &self,
        caller: &Authenticated,
        current: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<TotpProvisioning, MfaError> {
        if !caller.user.is_verified() {
            return Err(MfaError::EmailNotVerified);
        }
        self.core.confirm_owner(caller, current, client).await?;
        let secret = TotpSecret::generate();
        let provisioning = self
            .totp
            .otp
            .provisioning(&secret, caller.user.email().as_str())?;
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            totp: Some(TotpChange::Enroll {
                user: caller.user.id(),
                secret: self.totp.sealer.seal(secret.expose()),
            }),
            audit: vec![
                AuditEvent::own(AuditAction::MfaEnrolled, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        self.core.accounts.apply(changes, self.core.now()).await?;
        tracing::info!("TOTP factor enrolled (pending)");
        Ok(provisioning)
    }

    /// Activates the pending factor with a code from it (that code's step counts as used),
    /// and issues the first set of recovery codes, shown this once.
    ///
    /// # Errors
    /// [`MfaError::NothingPending`], [`MfaError::InvalidCode`], [`MfaError::Aal2Required`]
    /// when replacing an active factor from an `aal1` session, [`MfaError::EmailNotVerified`];
    /// store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn activate_totp(
        &self,
        caller: &Authenticated,
        code: &str,
    ) -> Result<Vec<RecoveryCode>, MfaError> {
        if !caller.user.is_verified() {
            return Err(MfaError::EmailNotVerified);
        }
        let factors = self.core.factors.totp_factors(caller.user.id()).await?;
        if factors.iter().any(|f| f.active) {
            Core::require_aal2_session(caller)?;
        }
        // The newest pending one (enrolments of one user are serialised by the store, so
        // there is at most one).
        let pending = factors
            .into_iter()
            .rev()
            .find(|f| !f.active)
            .ok_or(MfaError::NothingPending)?;
        let secret = self.totp.open_secret(&pending)?;
        let step = self
            .totp
            .otp
            .matching_step(&secret, code, self.core.now(), None)
            .ok_or(MfaError::InvalidCode)?;
        let codes = RecoveryCode::generate_set();
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            totp: Some(TotpChange::Activate {
                user: caller.user.id(),
                factor: pending.id,
                step,
            }),
            recovery_codes: Some(RecoveryCodesChange::Replace {
                user: caller.user.id(),
                codes: codes.iter().map(RecoveryCode::fingerprint).collect(),
            }),
            audit: vec![
                AuditEvent::own(AuditAction::MfaActivated, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        match self
            .core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::MfaEnabled)
            .await
        {
            Ok(_) => {}
            // Activated (or replaced) by a concurrent request meanwhile.
            Err(AccountStoreError::TokenUsed) => return Err(MfaError::NothingPending),
            Err(error) => return Err(error.into()),
        }
        tracing::info!("TOTP factor activated");
        Ok(codes)
    }

    /// A fresh set of recovery codes for a session at `aal2` that also gives a current
    /// code; the old set stops working.
    ///
    /// # Errors
    /// [`MfaError::NoFactor`], [`MfaError::Aal2Required`], [`MfaError::InvalidCode`];
    /// store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn regenerate_recovery_codes(
        &self,
        caller: &Authenticated,
        code: &str,
    ) -> Result<Vec<RecoveryCode>, MfaError> {
        let factor = self
            .core
            .active_totp(caller.user.id())
            .await?
            .ok_or(MfaError::NoFactor)?;
        Core::require_aal2_session(caller)?;
        self.totp.use_code(&self.core, &factor, code).await?;
        let codes = RecoveryCode::generate_set();
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            recovery_codes: Some(RecoveryCodesChange::Replace {
                user: caller.user.id(),
                codes: codes.iter().map(RecoveryCode::fingerprint).collect(),
            }),
            audit: vec![
                AuditEvent::own(AuditAction::RecoveryCodesRegenerated, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        self.core.accounts.apply(changes, self.core.now()).await?;
        tracing::info!("recovery codes regenerated");
        Ok(codes)
    }

    /// Removes the TOTP factor and the recovery codes, for a session at `aal2` that gives
    /// the password and a current code; every other session ends, and a notice is mailed.
    ///
    /// # Errors
    /// [`MfaError::NoFactor`], [`MfaError::Aal2Required`], [`MfaError::WrongPassword`],
    /// [`MfaError::Throttled`], [`MfaError::InvalidCode`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn disable_totp(
        &self,
        caller: &Authenticated,
        current: &PasswordAttempt,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), MfaError> {
        let factor = self
            .core
            .active_totp(caller.user.id())
            .await?
            .ok_or(MfaError::NoFactor)?;
        Core::require_aal2_session(caller)?;
        self.core
            .check_current_password(&caller.user, current, client)
            .await?;
        self.totp.use_code(&self.core, &factor, code).await?;
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            totp: Some(TotpChange::Remove {
                user: caller.user.id(),
            }),
            revoke_sessions: Some(Revocation {
                user: caller.user.id(),
                keep: Some(caller.session.clone()),
                reason: RevokeReason::MfaDisabled,
            }),
            audit: vec![
                AuditEvent::own(AuditAction::MfaDisabled, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        let applied = self
            .core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::MfaDisabled)
            .await?;
        tracing::info!(revoked = applied.revoked, "TOTP factor removed");
        Ok(())
    }
}

impl From<anyhow::Error> for MfaError {
    fn from(error: anyhow::Error) -> Self {
        Self::Unexpected(error)
    }
}

/// The password check of the lifecycle, as a factor step sees it.
impl From<AccountError> for MfaError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::WrongPassword => Self::WrongPassword,
            AccountError::Aal2Required => Self::Aal2Required,
            AccountError::Throttled { retry_after } => Self::Throttled { retry_after },
            AccountError::Stale => Self::Stale,
            AccountError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}
