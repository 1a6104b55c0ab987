//! Signing in with a passkey: discoverable, so no address is typed, into a session at
//! `aal2` (`amr` `passkey`). The assertion names its credential; the signature, the
//! origin, the user handle and the counter are checked by the relying party, and the new
//! counter is stored only if no concurrent sign-in moved it first.

use serde_json::Value;
use tracing::{Span, instrument};

use super::SignIn;
use crate::auth::core::SignInRefusal;
use crate::auth::core::throttle::ThrottleKeys;
use crate::auth::{LoginError, PasskeyCeremony, PasskeyError, user_handle};
use crate::ports::{CeremonyKind, WebauthnError};
use crate::{Assurance, AuditUser, AuthMethod, ClientInfo, TokenPair, User};

impl SignIn {
    /// Begins a passkey sign-in: no address needed, the authenticator offers its
    /// discoverable credentials.
    ///
    /// # Errors
    /// Store failures.
    pub async fn start_passkey_login(&self) -> Result<PasskeyCeremony, PasskeyError> {
        let start = self
            .relying_party
            .start_login()
            .map_err(|error| PasskeyError::Unexpected(error.into()))?;
        Ok(self
            .core
            .keep_ceremony(CeremonyKind::Login, None, start)
            .await?)
    }

    /// Finishes a passkey sign-in: a session at `aal2` with `amr` `["passkey"]`. The
    /// passkey's signature counter is kept; one that does not increase is refused (a
    /// cloned authenticator), as the relying party's rules say.
    ///
    /// # Errors
    /// [`PasskeyError::InvalidCeremony`], [`PasskeyError::LoginRejected`],
    /// [`PasskeyError::Throttled`], [`PasskeyError::EmailNotVerified`] (the passkey
    /// verified, but the account's address is not, while that is required); store
    /// failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn finish_passkey_login(
        &self,
        ceremony_id: &str,
        response: &Value,
        client: ClientInfo,
    ) -> Result<TokenPair, PasskeyError> {
        let core = &self.core;
        let attempt = core
            .begin_attempt(ThrottleKeys::of_client(&client))
            .await
            .map_err(|full| PasskeyError::Throttled {
                retry_after: full.retry_after,
            })?;
        let user = match self.check_assertion(ceremony_id, response).await {
            Ok(user) => user,
            // A store failure proves nothing; a failed assertion keeps its count.
            Err(error @ (PasskeyError::Unavailable(_) | PasskeyError::Unexpected(_))) => {
                attempt.inconclusive().await;
                return Err(error);
            }
            Err(error) => {
                attempt.failed();
                return Err(error);
            }
        };
        Span::current().record("user_id", user.id().get());
        // A verified passkey gives its attempt back.
        attempt.inconclusive().await;
        match core.may_sign_in(&user) {
            Ok(()) => {}
            Err(SignInRefusal::Inactive) => return Err(PasskeyError::LoginRejected),
            Err(refusal @ SignInRefusal::Unverified) => {
                tracing::info!("passkey sign-in refused: address not verified");
                core.record_failure(AuditUser::User(user.id()), refusal.reason())
                    .await;
                return Err(PasskeyError::EmailNotVerified);
            }
        }
        let pair = core
            .start_session(
                &user,
                user.security_stamp(),
                client,
                Assurance::of([AuthMethod::Passkey]),
            )
            .await
            .map_err(|error| match error {
                LoginError::InvalidCredentials => PasskeyError::LoginRejected,
                LoginError::Unavailable(source) => PasskeyError::Unavailable(source),
                other => PasskeyError::Unexpected(anyhow::anyhow!(other)),
            })?;
        tracing::info!("login with a passkey");
        Ok(pair)
    }

    /// The user of a verified assertion, the passkey's use recorded.
    async fn check_assertion(
        &self,
        ceremony_id: &str,
        response: &Value,
    ) -> Result<User, PasskeyError> {
        let core = &self.core;
        let state = core
            .take_ceremony(ceremony_id, CeremonyKind::Login)
            .await?
            .ok_or(PasskeyError::InvalidCeremony)?;
        let presented = self
            .relying_party
            .presented(response)
            .map_err(|_| PasskeyError::LoginRejected)?;
        let passkey = core
            .passkeys
            .find_by_credential(&presented.credential_id)
            .await?
            .ok_or_else(|| {
                tracing::info!("passkey sign-in with an unknown credential");
                PasskeyError::LoginRejected
            })?;
        // A discoverable credential names its user: it must be the passkey's.
        if presented
            .user_handle
            .as_deref()
            .is_some_and(|handle| handle != user_handle(passkey.user).as_slice())
        {
            tracing::warn!("passkey sign-in with a user handle of another user");
            return Err(PasskeyError::LoginRejected);
        }
        let user = core
            .active_user(passkey.user)
            .await?
            .ok_or(PasskeyError::LoginRejected)?;
        let updated =
            match self
                .relying_party
                .finish_login(response, &state.state, &passkey.credential)
            {
                Ok(updated) => updated,
                Err(WebauthnError::Rejected(cause)) => {
                    tracing::info!(error = %cause, "passkey assertion rejected");
                    core.record_failure(AuditUser::User(user.id()), "passkey_rejected")
                        .await;
                    return Err(PasskeyError::LoginRejected);
                }
                Err(WebauthnError::Unexpected(cause)) => {
                    return Err(PasskeyError::Unexpected(cause));
                }
            };
        if !core
            .passkeys
            .record_use(passkey.id, &passkey.credential, updated, core.now())
            .await?
        {
            // Another sign-in with this passkey (or its removal) came in between: its
            // counter check was against a record that is no longer current.
            tracing::warn!(passkey = passkey.id, "passkey used concurrently: refused");
            return Err(PasskeyError::LoginRejected);
        }
        Ok(user)
    }
}
