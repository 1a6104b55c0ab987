//! Completing a login with a second factor: a TOTP code or a recovery code against the
//! challenge `POST /login` answered with, each try counted by the login throttle and by a
//! per-account code budget that rotating client addresses does not reset.

use tracing::{Span, instrument};

use super::{SecondFactorChallenge, SecondFactorProof, SignIn};
use crate::auth::core::SignInRefusal;
use crate::auth::core::throttle::ThrottleKeys;
use crate::auth::{LoginError, MfaError, MfaVerifyError};
use crate::mfa::{MFA_TOKEN_TRIES, MFA_TOKEN_TTL};
use crate::ports::{AccountStoreError, Changes, MfaStoreError, RecoveryCodesChange};
use crate::{
    Assurance, AuditAction, AuditEvent, AuditUser, AuthMethod, ClientInfo, IssuedUnder,
    MailPurpose, OneTimeToken, RecoveryCode, SecondFactor, TokenPair, User,
};

/// What completes a login's second half.
const SECOND_FACTORS: &[SecondFactor] = &[SecondFactor::Totp, SecondFactor::RecoveryCode];

impl SignIn {
    /// After the first half of a login (`first`: the password, or an outside provider)
    /// proven under `issued`: a challenge for the second, when the user has a second
    /// factor; `None` when the login is complete.
    pub(super) async fn open_challenge<E: From<MfaStoreError>>(
        &self,
        user: &User,
        issued: IssuedUnder,
        first: AuthMethod,
    ) -> Result<Option<SecondFactorChallenge>, E> {
        let core = &self.core;
        if core.active_totp(user.id()).await?.is_none() {
            return Ok(None);
        }
        let now = core.now();
        let token = OneTimeToken::generate();
        core.factors
            .create_challenge(
                issued,
                first,
                &token.fingerprint(),
                now + MFA_TOKEN_TTL,
                now,
            )
            .await?;
        Ok(Some(SecondFactorChallenge {
            token,
            methods: SECOND_FACTORS,
        }))
    }

    /// Completes a login that answered a [`super::SecondFactorChallenge`]: with a TOTP code
    /// (`amr` `pwd otp`) or a recovery code (`pwd recovery`), both `aal2`. Each proof is
    /// one of the challenge's five tries, and counted by the login throttle; a success
    /// uses the challenge up.
    ///
    /// # Errors
    /// [`MfaVerifyError::InvalidChallenge`], [`MfaVerifyError::InvalidCode`],
    /// [`MfaVerifyError::Throttled`], [`MfaVerifyError::EmailNotVerified`] (verification
    /// became required meanwhile); store failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn verify_second_factor(
        &self,
        mfa_token: &str,
        proof: SecondFactorProof,
        client: ClientInfo,
    ) -> Result<TokenPair, MfaVerifyError> {
        let core = &self.core;
        let now = core.now();
        let token = OneTimeToken::parse(mfa_token).ok_or(MfaVerifyError::InvalidChallenge)?;
        let challenge = core
            .factors
            .try_challenge(&token.fingerprint(), now, MFA_TOKEN_TRIES)
            .await?
            .ok_or(MfaVerifyError::InvalidChallenge)?;
        Span::current().record("user_id", challenge.user.get());
        let user = core
            .holder(challenge.issued_under())
            .await?
            .ok_or(MfaVerifyError::InvalidChallenge)?;
        core.may_sign_in(&user).map_err(|refusal| match refusal {
            SignInRefusal::Inactive => MfaVerifyError::InvalidChallenge,
            SignInRefusal::Unverified => MfaVerifyError::EmailNotVerified,
        })?;
        let attempt = core
            .begin_attempt(ThrottleKeys::of(&client, user.email()))
            .await
            .map_err(|full| MfaVerifyError::Throttled {
                retry_after: full.retry_after,
            })?;
        let code_try = match core.begin_code_try(user.id()).await {
            Ok(code_try) => code_try,
            Err(retry_after) => {
                attempt.inconclusive().await;
                return Err(MfaVerifyError::Throttled { retry_after });
            }
        };
        let (method, completed) = match self.check_proof(&user, &proof, challenge.id).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                tracing::info!("second factor refused");
                core.record_failure(AuditUser::User(user.id()), "wrong_code")
                    .await;
                attempt.failed();
                code_try.failed();
                return Err(MfaVerifyError::InvalidCode);
            }
            Err(error) => {
                attempt.inconclusive().await;
                code_try.inconclusive().await;
                return Err(error);
            }
        };
        if !completed {
            let lost = match core.factors.complete_challenge(challenge.id, now).await {
                Ok(true) => None,
                // Completed by a concurrent request with another valid proof.
                Ok(false) => Some(MfaVerifyError::InvalidChallenge),
                Err(error) => Some(error.into()),
            };
            if let Some(error) = lost {
                // A right proof is no failed guess.
                attempt.inconclusive().await;
                code_try.inconclusive().await;
                return Err(error);
            }
        }
        attempt.succeeded().await;
        code_try.succeeded().await;
        let pair = core
            .start_session(
                &user,
                challenge.stamp,
                client,
                Assurance::of([challenge.first, method]),
            )
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
        let core = &self.core;
        match proof {
            SecondFactorProof::Code(code) => {
                let Some(factor) = core.active_totp(user.id()).await? else {
                    return Ok(None);
                };
                match self.totp.check_code(core, &factor, code).await {
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
                match core
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
}
