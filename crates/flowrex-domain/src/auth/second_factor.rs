//! Completing a login with a second factor: a TOTP code or a recovery code against the
//! challenge `POST /login` answered with, each try counted by the login throttle and by a
//! per-account code budget that rotating client addresses does not reset.

use tracing::{Span, instrument};

use super::login::{Reserved, ThrottleKeys};
use super::{AuthService, LoginError, MfaError, MfaVerifyError};
use crate::mfa::MFA_TOKEN_TRIES;
use crate::ports::{AccountStoreError, Changes, RecoveryCodesChange, Reservation, TotpFactor};
use crate::{
    Assurance, AuditAction, AuditEvent, AuthMethod, ClientInfo, IssuedUnder, MailPurpose,
    OneTimeToken, RecoveryCode, TokenPair, User, UserId,
};

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
            .holder(challenge.issued_under())
            .await?
            .ok_or(MfaVerifyError::InvalidChallenge)?;
        let keys = ThrottleKeys::of(&client, user.email());
        let reserved =
            self.reserve_attempt(&keys)
                .await
                .map_err(|full| MfaVerifyError::Throttled {
                    retry_after: full.retry_after,
                })?;
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
                self.give_back_try(&reserved, user.id(), code_try).await;
                return Err(error);
            }
        };
        if !completed {
            let lost = match mfa.store.complete_challenge(challenge.id, now).await {
                Ok(true) => None,
                // Completed by a concurrent request with another valid proof.
                Ok(false) => Some(MfaVerifyError::InvalidChallenge),
                Err(error) => Some(error.into()),
            };
            if let Some(error) = lost {
                // A right proof is no failed guess.
                self.give_back_try(&reserved, user.id(), code_try).await;
                return Err(error);
            }
        }
        self.forget_failures(&keys, &reserved).await;
        self.settle_code_try(user.id(), code_try, Some(true)).await;
        let assurance = Assurance::PASSWORD.and(method);
        let pair = self
            .start_session(&user, challenge.stamp, client, assurance)
            .await
            .map_err(|error| match error {
                LoginError::InvalidCredentials => MfaVerifyError::InvalidChallenge,
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
                let changes = Changes {
                    issued_under: Some(IssuedUnder::now(user)),
                    recovery_codes: Some(RecoveryCodesChange::Consume {
                        user: user.id(),
                        code: code.fingerprint(),
                    }),
                    complete_challenge: Some(challenge),
                    audit: vec![AuditEvent::own(AuditAction::RecoveryCodeUsed, user.id())],
                    ..Changes::default()
                };
                match self
                    .apply_with_notice(changes, user.email(), MailPurpose::RecoveryCodeUsed)
                    .await
                {
                    Ok(_) => Ok(Some((AuthMethod::Recovery, true))),
                    // The code was used, or the challenge completed, meanwhile.
                    Err(AccountStoreError::TokenUsed) => Ok(None),
                    // A credential event that came first killed the challenge, as converted.
                    Err(other) => Err(other.into()),
                }
            }
        }
    }

    /// [`Self::check_code`] for a signed-in caller managing the factor: each try counts
    /// against the account's second-factor budget, as at sign-in, so that a stolen
    /// session cannot guess codes without limit.
    pub(super) async fn use_code(&self, factor: &TotpFactor, code: &str) -> Result<(), MfaError> {
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

    /// After a try that proved nothing either way: the login throttle's attempt and the
    /// code budget's try are both given back.
    async fn give_back_try(&self, reserved: &Reserved<'_>, user: UserId, code_try: bool) {
        self.release(reserved).await;
        self.settle_code_try(user, code_try, None).await;
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
    pub(super) async fn check_code(&self, factor: &TotpFactor, code: &str) -> Result<(), MfaError> {
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
}

impl std::fmt::Debug for SecondFactorProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Code(_) => "Code(***)",
            Self::RecoveryCode(_) => "RecoveryCode(***)",
        })
    }
}

impl From<anyhow::Error> for MfaVerifyError {
    fn from(error: anyhow::Error) -> Self {
        Self::Unexpected(error)
    }
}
