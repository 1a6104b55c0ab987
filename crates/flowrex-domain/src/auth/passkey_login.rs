//! Signing in with a passkey: discoverable, so no address is typed, into a session at
//! `aal2` (`amr` `passkey`). The assertion names its credential; the signature, the
//! origin, the user handle and the counter are checked by the relying party, and the new
//! counter is stored only if no concurrent sign-in moved it first.

use serde_json::Value;
use tracing::{Span, instrument};

use super::login::ThrottleKeys;
use super::{AuthService, LoginError, PasskeyCeremony, PasskeyError, PasskeyPorts, user_handle};
use crate::ports::{CeremonyKind, WebauthnError};
use crate::{Assurance, AuditUser, AuthMethod, ClientInfo, TokenPair, User};

impl AuthService {
    /// Begins a passkey sign-in: no address needed, the authenticator offers its
    /// discoverable credentials.
    ///
    /// # Errors
    /// Store failures.
    pub async fn start_passkey_login(&self) -> Result<PasskeyCeremony, PasskeyError> {
        let ports = self.passkey_ports()?;
        let start = ports
            .relying_party
            .start_login()
            .map_err(|error| PasskeyError::Unexpected(error.into()))?;
        self.keep_ceremony(ports, CeremonyKind::Login, None, start)
            .await
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
        let ports = self.passkey_ports()?;
        let keys = ThrottleKeys::of_client(&client);
        let reserved =
            self.reserve_attempt(&keys)
                .await
                .map_err(|full| PasskeyError::Throttled {
                    retry_after: full.retry_after,
                })?;
        let result = self.check_assertion(ports, ceremony_id, response).await;
        let user = match result {
            Ok(user) => user,
            Err(error) => {
                // A failed assertion keeps its count; a store failure gives it back.
                if matches!(
                    error,
                    PasskeyError::Unavailable(_) | PasskeyError::Unexpected(_)
                ) {
                    self.release(&reserved).await;
                }
                return Err(error);
            }
        };
        Span::current().record("user_id", user.id().get());
        self.release(&reserved).await;
        // The rule of password logins holds for every way in.
        if self.accounts_policy.require_verified_email && !user.is_verified() {
            tracing::info!("passkey sign-in refused: address not verified");
            self.record_failure(AuditUser::User(user.id()), "unverified")
                .await;
            return Err(PasskeyError::EmailNotVerified);
        }
        let pair = self
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
        ports: &PasskeyPorts,
        ceremony_id: &str,
        response: &Value,
    ) -> Result<User, PasskeyError> {
        let state = self
            .take_ceremony(ports, ceremony_id, CeremonyKind::Login)
            .await?
            .ok_or(PasskeyError::InvalidCeremony)?;
        let presented = ports
            .relying_party
            .presented(response)
            .map_err(|_| PasskeyError::LoginRejected)?;
        let passkey = ports
            .store
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
        let user = self
            .active_user(passkey.user)
            .await?
            .ok_or(PasskeyError::LoginRejected)?;
        let updated =
            match ports
                .relying_party
                .finish_login(response, &state.state, &passkey.credential)
            {
                Ok(updated) => updated,
                Err(WebauthnError::Rejected(cause)) => {
                    tracing::info!(error = %cause, "passkey assertion rejected");
                    self.record_failure(AuditUser::User(user.id()), "passkey_rejected")
                        .await;
                    return Err(PasskeyError::LoginRejected);
                }
                Err(WebauthnError::Unexpected(cause)) => {
                    return Err(PasskeyError::Unexpected(cause));
                }
            };
        if !ports
            .store
            .record_use(passkey.id, &passkey.credential, updated, self.now())
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
