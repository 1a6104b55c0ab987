//! Second factors: TOTP enrolment, activation and removal, and recovery codes (completing
//! a login with a code is `auth/second_factor.rs`). What other services skip, done here: an accepted TOTP step is never
//! accepted again (also across instances and for concurrent requests: one conditional
//! update decides), the activating code counts as used, recovery codes carry 80 bits and
//! are stored as hashes only, single use, and each use is audited and mailed.

use std::sync::Arc;

use tracing::instrument;

use super::{AccountError, AuthService, Authenticated, LoginError, MfaError, MfaRequired};
use crate::mfa::MFA_TOKEN_TTL;
use crate::ports::{
    AccountStoreError, Changes, MfaStore, OneTimePasswords, RecoveryCodesChange, Revocation,
    Sealer, TotpChange, TotpFactor,
};
use crate::{
    Aal, AuditAction, AuditEvent, ClientInfo, IssuedUnder, MailPurpose, OneTimeToken,
    PasswordAttempt, RecoveryCode, RevokeReason, SecondFactor, TotpProvisioning, TotpSecret, User,
    UserId,
};

/// The ports second factors need.
pub struct MfaPorts {
    /// Factors and sign-in challenges.
    pub store: Arc<dyn MfaStore>,
    /// TOTP codes.
    pub otp: Arc<dyn OneTimePasswords>,
    /// Sealing of TOTP secrets at rest.
    pub sealer: Arc<dyn Sealer>,
}

impl AuthService {
    /// Turns on second factors. Without them no user has one, and login is password only.
    #[must_use]
    pub fn with_mfa(mut self, ports: MfaPorts) -> Self {
        self.mfa = Some(ports);
        self
    }

    pub(super) fn mfa_ports(&self) -> Result<&MfaPorts, anyhow::Error> {
        self.mfa
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("second factors are not configured"))
    }

    /// The user's active TOTP factor, if second factors are on and there is one.
    pub(super) async fn active_totp(
        &self,
        user: UserId,
    ) -> Result<Option<TotpFactor>, crate::ports::MfaStoreError> {
        let Some(mfa) = &self.mfa else {
            return Ok(None);
        };
        Ok(mfa
            .store
            .totp_factors(user)
            .await?
            .into_iter()
            .find(|factor| factor.active))
    }

    /// After the right password: a challenge, when the user has a second factor.
    pub(super) async fn second_factor_challenge(
        &self,
        user: &User,
    ) -> Result<Option<MfaRequired>, LoginError> {
        let (Some(mfa), Some(_)) = (&self.mfa, self.active_totp(user.id()).await?) else {
            return Ok(None);
        };
        let now = self.now();
        let token = OneTimeToken::generate();
        mfa.store
            .create_challenge(
                IssuedUnder::now(user),
                &token.fingerprint(),
                now + MFA_TOKEN_TTL,
                now,
            )
            .await?;
        Ok(Some(MfaRequired {
            token,
            methods: vec![SecondFactor::Totp, SecondFactor::RecoveryCode],
        }))
    }

    /// Whether the caller's account has a second factor its session was not signed in
    /// with: then the account's sensitive changes need an `aal2` session. No lookup for a
    /// session at `aal2` already.
    pub(super) async fn needs_aal2(
        &self,
        caller: &Authenticated,
    ) -> Result<bool, crate::ports::MfaStoreError> {
        if caller.assurance.aal() >= Aal::Aal2 {
            return Ok(false);
        }
        Ok(self.active_totp(caller.user.id()).await?.is_some())
    }

    /// `refused` (the use case's `Aal2Required`) when [`Self::needs_aal2`] says so: for
    /// changing the password or the address, deleting the account, managing the factor
    /// or passkeys.
    pub(super) async fn require_aal2<E: From<crate::ports::MfaStoreError>>(
        &self,
        caller: &Authenticated,
        refused: E,
    ) -> Result<(), E> {
        if self.needs_aal2(caller).await? {
            return Err(refused);
        }
        Ok(())
    }

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
        let mfa = self.mfa_ports()?;
        if !caller.user.is_verified() {
            return Err(MfaError::EmailNotVerified);
        }
        self.confirm_owner(caller, current, client).await?;
        let secret = TotpSecret::generate();
        let provisioning = mfa
            .otp
            .provisioning(&secret, caller.user.email().as_str())?;
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            totp: Some(TotpChange::Enroll {
                user: caller.user.id(),
                secret: mfa.sealer.seal(secret.expose()),
            }),
            audit: vec![
                AuditEvent::own(AuditAction::MfaEnrolled, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        self.accounts.apply(changes, self.now()).await?;
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
        let mfa = self.mfa_ports()?;
        if !caller.user.is_verified() {
            return Err(MfaError::EmailNotVerified);
        }
        let factors = mfa.store.totp_factors(caller.user.id()).await?;
        if factors.iter().any(|f| f.active) {
            Self::require_aal2_session(caller)?;
        }
        // The newest pending one (enrolments of one user are serialised by the store, so
        // there is at most one).
        let pending = factors
            .into_iter()
            .rev()
            .find(|f| !f.active)
            .ok_or(MfaError::NothingPending)?;
        let secret = self.open_secret(mfa, &pending)?;
        let step = mfa
            .otp
            .matching_step(&secret, code, self.now(), None)
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
            .active_totp(caller.user.id())
            .await?
            .ok_or(MfaError::NoFactor)?;
        Self::require_aal2_session(caller)?;
        self.use_code(&factor, code).await?;
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
        self.accounts.apply(changes, self.now()).await?;
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
            .active_totp(caller.user.id())
            .await?
            .ok_or(MfaError::NoFactor)?;
        Self::require_aal2_session(caller)?;
        self.check_current_password(&caller.user, current, client)
            .await?;
        self.use_code(&factor, code).await?;
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
            .apply_with_notice(changes, caller.user.email(), MailPurpose::MfaDisabled)
            .await?;
        tracing::info!(revoked = applied.revoked, "TOTP factor removed");
        Ok(())
    }

    /// The factor's secret. One sealed under another `APP_SECRET_KEY` cannot be opened:
    /// then no code matches (recovery codes still work), and the operator is told.
    pub(super) fn open_secret(
        &self,
        mfa: &MfaPorts,
        factor: &TotpFactor,
    ) -> Result<TotpSecret, MfaError> {
        mfa.sealer
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

    /// [`MfaError::Aal2Required`] unless the session is at `aal2` (where the factor is
    /// known to be active).
    fn require_aal2_session(caller: &Authenticated) -> Result<(), MfaError> {
        if caller.assurance.aal() >= Aal::Aal2 {
            Ok(())
        } else {
            Err(MfaError::Aal2Required)
        }
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
