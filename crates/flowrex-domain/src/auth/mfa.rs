//! Second factors: TOTP enrolment, activation and removal, recovery codes, and completing a
//! login with a code. What other services skip, done here: an accepted TOTP step is never
//! accepted again (also across instances and for concurrent requests: one conditional
//! update decides), the activating code counts as used, recovery codes carry 80 bits and
//! are stored as hashes only, single use, and each use is audited and mailed.

use std::sync::Arc;

use tracing::{Span, instrument};

use super::login::ThrottleKeys;
use super::{
    AccountError, AuthService, Authenticated, LoginError, MfaError, MfaRequired, MfaVerifyError,
};
use crate::mfa::{MFA_TOKEN_TRIES, MFA_TOKEN_TTL};
use crate::ports::{
    AccountStoreError, Changes, MfaStore, OneTimePasswords, RecoveryCodesChange, Reservation,
    Revocation, Sealer, TotpChange, TotpFactor,
};
use crate::{
    Aal, Assurance, AuditAction, AuditEvent, AuthMethod, ClientInfo, MailPurpose, OneTimeToken,
    PasswordAttempt, RecoveryCode, RevokeReason, SecondFactor, TokenPair, TotpProvisioning,
    TotpSecret, User, UserId,
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

/// The key of an account's second-factor budget.
fn code_key(user: UserId) -> String {
    format!("second-factor|{}", user.get())
}

/// The proof a login is completed with (never printed).
pub enum SecondFactorProof {
    /// A code from the authenticator app.
    Code(String),
    /// A recovery code.
    RecoveryCode(String),
}

impl AuthService {
    /// Turns on second factors. Without them no user has one, and login is password only.
    #[must_use]
    pub fn with_mfa(mut self, ports: MfaPorts) -> Self {
        self.mfa = Some(ports);
        self
    }

    fn mfa_ports(&self) -> Result<&MfaPorts, anyhow::Error> {
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
            .create_challenge(user.id(), &token.fingerprint(), now + MFA_TOKEN_TTL, now)
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

    /// [`AccountError::Aal2Required`] as [`Self::needs_aal2`] says (changing the password
    /// or the address, deleting the account).
    pub(super) async fn require_aal2_for_account(
        &self,
        caller: &Authenticated,
    ) -> Result<(), AccountError> {
        if self.needs_aal2(caller).await? {
            return Err(AccountError::Aal2Required);
        }
        Ok(())
    }

    /// Enrols a new TOTP factor, pending until [`Self::activate_totp`]: the secret, its
    /// `otpauth://` URI and a QR code of it, shown this once. With a factor active already
    /// the session must be at `aal2`; the active one stays until the new one is activated.
    ///
    /// # Errors
    /// [`MfaError::WrongPassword`] (counted like a failed login), [`MfaError::Throttled`],
    /// [`MfaError::Aal2Required`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn enroll_totp(
        &self,
        caller: &Authenticated,
        current: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<TotpProvisioning, MfaError> {
        let mfa = self.mfa_ports()?;
        self.require_aal2_if_active(caller).await?;
        self.check_current_password(&caller.user, current, client)
            .await?;
        let secret = TotpSecret::generate();
        let provisioning = mfa
            .otp
            .provisioning(&secret, caller.user.email().as_str())?;
        let changes = Changes {
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
    /// when replacing an active factor from an `aal1` session; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn activate_totp(
        &self,
        caller: &Authenticated,
        code: &str,
    ) -> Result<Vec<RecoveryCode>, MfaError> {
        let mfa = self.mfa_ports()?;
        let factors = mfa.store.totp_factors(caller.user.id()).await?;
        if factors.iter().any(|f| f.active) {
            Self::require_aal2(caller)?;
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
        let mut changes = Changes {
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
        self.add_notice(&mut changes, caller.user.email(), MailPurpose::MfaEnabled)
            .await;
        match self.accounts.apply(changes, self.now()).await {
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
        Self::require_aal2(caller)?;
        self.use_code(&factor, code).await?;
        let codes = RecoveryCode::generate_set();
        let changes = Changes {
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
        Self::require_aal2(caller)?;
        self.check_current_password(&caller.user, current, client)
            .await?;
        self.use_code(&factor, code).await?;
        let mut changes = Changes {
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
        self.add_notice(&mut changes, caller.user.email(), MailPurpose::MfaDisabled)
            .await;
        let applied = self.accounts.apply(changes, self.now()).await?;
        tracing::info!(revoked = applied.revoked, "TOTP factor removed");
        Ok(())
    }

    /// Completes a login that answered [`LoginError::MfaRequired`]: with a TOTP code
    /// (`amr` `pwd otp`) or a recovery code (`pwd recovery`), both `aal2`. Each proof is
    /// one of the challenge's five tries, and counted by the login throttle; a success
    /// uses the challenge up.
    ///
    /// # Errors
    /// [`MfaVerifyError::InvalidChallenge`], [`MfaVerifyError::InvalidCode`],
    /// [`MfaVerifyError::Throttled`]; store failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn verify_second_factor(
        &self,
        mfa_token: &str,
        proof: SecondFactorProof,
        client: ClientInfo,
    ) -> Result<TokenPair, MfaVerifyError> {
        let mfa = self.mfa_ports()?;
        let now = self.now();
        let token = OneTimeToken::parse(mfa_token).ok_or(MfaVerifyError::InvalidChallenge)?;
        let challenge = mfa
            .store
            .try_challenge(&token.fingerprint(), now, MFA_TOKEN_TRIES)
            .await?
            .ok_or(MfaVerifyError::InvalidChallenge)?;
        Span::current().record("user_id", challenge.user.get());
        let user = self
            .users
            .find_by_id(challenge.user)
            .await?
            .filter(User::is_active)
            .ok_or(MfaVerifyError::InvalidChallenge)?;
        let keys = ThrottleKeys::of(&client, user.email());
        let reserved = self
            .reserve_attempt(&keys)
            .await
            .map_err(|retry_after| MfaVerifyError::Throttled { retry_after })?;
        let code_try = match self.reserve_code_try(user.id()).await {
            Ok(code_try) => code_try,
            Err(retry_after) => {
                self.release(&reserved).await;
                return Err(MfaVerifyError::Throttled { retry_after });
            }
        };
        let checked = self.check_proof(&user, &proof, challenge.id).await;
        let (method, completed) = match checked {
            Ok(Some(found)) => found,
            Ok(None) => {
                tracing::info!("second factor refused");
                self.record_failure(crate::AuditUser::User(user.id()), "wrong_code")
                    .await;
                return Err(MfaVerifyError::InvalidCode);
            }
            Err(error) => {
                self.release(&reserved).await;
                self.settle_code_try(user.id(), code_try, None).await;
                return Err(error);
            }
        };
        if !completed && !mfa.store.complete_challenge(challenge.id, now).await? {
            // Completed by a concurrent request with another valid proof.
            return Err(MfaVerifyError::InvalidChallenge);
        }
        self.forget_failures(&keys, &reserved).await;
        self.settle_code_try(user.id(), code_try, Some(true)).await;
        let assurance = Assurance::PASSWORD.and(method);
        let pair =
            self.start_session(&user, client, assurance)
                .await
                .map_err(|error| match error {
                    LoginError::Unavailable(source) => MfaVerifyError::Unavailable(source),
                    other => MfaVerifyError::Unexpected(anyhow::anyhow!(other)),
                })?;
        tracing::info!(
            method = method.as_str(),
            "login completed with a second factor"
        );
        Ok(pair)
    }

    /// The method `proof` proves for `user`, if it is right (and then it is used up), and
    /// whether the challenge was completed with it (a recovery code and its challenge are
    /// used up in one transaction); or `None`.
    async fn check_proof(
        &self,
        user: &User,
        proof: &SecondFactorProof,
        challenge: i64,
    ) -> Result<Option<(AuthMethod, bool)>, MfaVerifyError> {
        match proof {
            SecondFactorProof::Code(code) => {
                let Some(factor) = self.active_totp(user.id()).await? else {
                    return Ok(None);
                };
                match self.check_code(&factor, code).await {
                    Ok(()) => Ok(Some((AuthMethod::Otp, false))),
                    Err(MfaError::InvalidCode) => Ok(None),
                    Err(MfaError::Unavailable(source)) => Err(MfaVerifyError::Unavailable(source)),
                    Err(other) => Err(MfaVerifyError::Unexpected(anyhow::anyhow!(other))),
                }
            }
            SecondFactorProof::RecoveryCode(raw) => {
                let Some(code) = RecoveryCode::parse(raw) else {
                    return Ok(None);
                };
                let mut changes = Changes {
                    recovery_codes: Some(RecoveryCodesChange::Consume {
                        user: user.id(),
                        code: code.fingerprint(),
                    }),
                    complete_challenge: Some(challenge),
                    audit: vec![AuditEvent::own(AuditAction::RecoveryCodeUsed, user.id())],
                    ..Changes::default()
                };
                self.add_notice(&mut changes, user.email(), MailPurpose::RecoveryCodeUsed)
                    .await;
                match self.accounts.apply(changes, self.now()).await {
                    Ok(_) => Ok(Some((AuthMethod::Recovery, true))),
                    // The code was used, or the challenge completed, meanwhile.
                    Err(AccountStoreError::TokenUsed) => Ok(None),
                    Err(AccountStoreError::Unavailable(source)) => {
                        Err(MfaVerifyError::Unavailable(source))
                    }
                    Err(other) => Err(MfaVerifyError::Unexpected(anyhow::anyhow!(other))),
                }
            }
        }
    }

    /// [`Self::check_code`] for a signed-in caller managing the factor: each try counts
    /// against the account's second-factor budget, as at sign-in, so that a stolen
    /// session cannot guess codes without limit.
    async fn use_code(&self, factor: &TotpFactor, code: &str) -> Result<(), MfaError> {
        let code_try = self
            .reserve_code_try(factor.user)
            .await
            .map_err(|retry_after| MfaError::Throttled { retry_after })?;
        let result = self.check_code(factor, code).await;
        let outcome = match &result {
            Ok(()) => Some(true),
            Err(MfaError::InvalidCode) => Some(false),
            Err(_) => None,
        };
        self.settle_code_try(factor.user, code_try, outcome).await;
        result
    }

    /// Reserves one try of the account's second-factor budget — whatever the client, so
    /// that rotating addresses buys no more guesses — with the per-account limit of
    /// logins (`LOGIN_MAX_FAILURES_PER_ACCOUNT` per window). `Ok(true)` when reserved,
    /// `Ok(false)` without a counter (or when it cannot be reached), else the wait.
    async fn reserve_code_try(&self, user: UserId) -> Result<bool, std::time::Duration> {
        let Some(counter) = &self.throttle.per_account else {
            return Ok(false);
        };
        match counter.reserve(&code_key(user)).await {
            Ok(Reservation::Reserved) => Ok(true),
            Ok(Reservation::Full { retry_after }) => {
                tracing::info!("second factor throttled");
                Err(retry_after)
            }
            Err(error) => {
                tracing::warn!(%error, "second-factor throttle not checked");
                Ok(false)
            }
        }
    }

    /// After a try: a right code clears the budget's failures, a wrong one keeps its
    /// reservation, one that could not be checked (`None`) gives it back.
    async fn settle_code_try(&self, user: UserId, reserved: bool, right: Option<bool>) {
        let (Some(counter), true) = (&self.throttle.per_account, reserved) else {
            return;
        };
        let key = code_key(user);
        let result = match right {
            Some(true) => counter.reset(&key).await,
            Some(false) => return,
            None => counter.release(&key).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "second-factor throttle not updated");
        }
    }

    /// Accepts `code` for the active `factor` once: the matching step must be later than
    /// the last accepted one, and recording it must win against any concurrent request.
    async fn check_code(&self, factor: &TotpFactor, code: &str) -> Result<(), MfaError> {
        let mfa = self.mfa_ports()?;
        let secret = self.open_secret(mfa, factor)?;
        let step = mfa
            .otp
            .matching_step(&secret, code, self.now(), factor.last_used_step)
            .ok_or(MfaError::InvalidCode)?;
        if mfa.store.accept_totp_step(factor.id, step).await? {
            Ok(())
        } else {
            tracing::warn!("TOTP code replayed");
            Err(MfaError::InvalidCode)
        }
    }

    /// The factor's secret. One sealed under another `APP_SECRET_KEY` cannot be opened:
    /// then no code matches (recovery codes still work), and the operator is told.
    fn open_secret(&self, mfa: &MfaPorts, factor: &TotpFactor) -> Result<TotpSecret, MfaError> {
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

    async fn require_aal2_if_active(&self, caller: &Authenticated) -> Result<(), MfaError> {
        if self.needs_aal2(caller).await? {
            return Err(MfaError::Aal2Required);
        }
        Ok(())
    }

    fn require_aal2(caller: &Authenticated) -> Result<(), MfaError> {
        if caller.assurance.aal() >= Aal::Aal2 {
            Ok(())
        } else {
            Err(MfaError::Aal2Required)
        }
    }
}

impl std::fmt::Debug for SecondFactorProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Code(_) => "Code(***)",
            Self::RecoveryCode(_) => "RecoveryCode(***)",
        })
    }
}

impl From<anyhow::Error> for MfaError {
    fn from(error: anyhow::Error) -> Self {
        Self::Unexpected(error)
    }
}

impl From<anyhow::Error> for MfaVerifyError {
    fn from(error: anyhow::Error) -> Self {
        Self::Unexpected(error)
    }
}

/// The password check of the lifecycle, as a factor step sees it.
impl From<AccountError> for MfaError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::WrongPassword => Self::WrongPassword,
            AccountError::Throttled { retry_after } => Self::Throttled { retry_after },
            AccountError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}
