//! Passkeys: registering one for a signed-in user, listing and removing them (signing in
//! with one is `sign_in/passkey.rs`). Each ceremony's state waits server-side, single use,
//! for 5 minutes; the client holds only an opaque ceremony id.

use serde_json::Value;
use tracing::instrument;

use super::Factors;
use crate::auth::{Authenticated, PasskeyCeremony, PasskeyError, user_handle};
use crate::ports::{
    CeremonyKind, Changes, NewPasskey, PasskeyChange, StoredPasskey, WebauthnError,
};
use crate::{Aal, AuditAction, AuditEvent, ClientInfo, IssuedUnder, MailPurpose, PasswordAttempt};

/// The longest passkey name kept, in characters.
const MAX_NAME_CHARS: usize = 64;

impl Factors {
    /// Begins registering a passkey for the caller. A way to sign in is added only to an
    /// account whose address is verified, and only with fresh proof: the current password
    /// (checked and counted like a login whenever it is given), or else a session at
    /// `aal2`; an account with a second factor needs an `aal2` session in any case. The
    /// ceremony is bound to the caller's stamp: a credential event before its finish ends
    /// it.
    ///
    /// # Errors
    /// [`PasskeyError::EmailNotVerified`], [`PasskeyError::Aal2Required`],
    /// [`PasskeyError::PasswordRequired`], [`PasskeyError::WrongPassword`],
    /// [`PasskeyError::Throttled`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn start_passkey_registration(
        &self,
        caller: &Authenticated,
        current: Option<&PasswordAttempt>,
        client: &ClientInfo,
    ) -> Result<PasskeyCeremony, PasskeyError> {
        if !caller.user.is_verified() {
            return Err(PasskeyError::EmailNotVerified);
        }
        self.core
            .require_aal2(caller, PasskeyError::Aal2Required)
            .await?;
        match current {
            Some(current) => {
                self.core
                    .check_current_password(&caller.user, current, client)
                    .await?;
            }
            None if caller.assurance.aal() >= Aal::Aal2 => {}
            None => return Err(PasskeyError::PasswordRequired),
        }
        let exclude: Vec<String> = self
            .core
            .passkeys
            .list(caller.user.id())
            .await?
            .into_iter()
            .map(|p| p.credential_id)
            .collect();
        let start = self
            .relying_party
            .start_registration(
                user_handle(caller.user.id()),
                caller.user.email().as_str(),
                &exclude,
            )
            .map_err(|error| PasskeyError::Unexpected(error.into()))?;
        self.core
            .keep_ceremony(
                CeremonyKind::Registration,
                Some(IssuedUnder::now(&caller.user)),
                start,
            )
            .await
            .map_err(PasskeyError::from)
    }

    /// Finishes a registration begun by the same user, if no credential event happened
    /// since: the passkey, stored under `name` (or a default one), with a notice mailed.
    ///
    /// # Errors
    /// [`PasskeyError::InvalidCeremony`], [`PasskeyError::RegistrationRejected`],
    /// [`PasskeyError::AlreadyRegistered`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn finish_passkey_registration(
        &self,
        caller: &Authenticated,
        ceremony_id: &str,
        response: &Value,
        name: Option<String>,
    ) -> Result<StoredPasskey, PasskeyError> {
        let (state, issued) = self
            .core
            .take_ceremony(ceremony_id, CeremonyKind::Registration)
            .await?
            .and_then(|state| {
                let issued = state
                    .user
                    .filter(|issued| caller.user.still_holds(*issued))?;
                Some((state, issued))
            })
            .ok_or(PasskeyError::InvalidCeremony)?;
        let registered = self
            .relying_party
            .finish_registration(response, &state.state)
            .map_err(|error| match error {
                WebauthnError::Rejected(cause) => {
                    tracing::info!(error = %cause, "passkey registration rejected");
                    PasskeyError::RegistrationRejected
                }
                WebauthnError::Unexpected(cause) => PasskeyError::Unexpected(cause),
            })?;
        let name = name
            .map(|n| n.trim().chars().take(MAX_NAME_CHARS).collect::<String>())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Passkey".to_owned());
        let changes = Changes {
            issued_under: Some(issued),
            audit: vec![
                AuditEvent::own(AuditAction::PasskeyAdded, caller.user.id())
                    .in_session(&caller.session)
                    .with("name", name.as_str()),
            ],
            passkey: Some(PasskeyChange::Add(NewPasskey {
                user: caller.user.id(),
                name,
                registered,
            })),
            ..Changes::default()
        };
        let stored = self
            .core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::PasskeyAdded)
            .await?
            .passkey
            .ok_or_else(|| PasskeyError::Unexpected(anyhow::anyhow!("no passkey stored")))?;
        tracing::info!(passkey = stored.id, "passkey registered");
        Ok(stored)
    }

    /// The caller's passkeys.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list_passkeys(
        &self,
        caller: &Authenticated,
    ) -> Result<Vec<StoredPasskey>, PasskeyError> {
        Ok(self.core.passkeys.list(caller.user.id()).await?)
    }

    /// Removes one of the caller's passkeys (at `aal2` when the account has a second
    /// factor, as for adding one): a credential event, announced by a notice.
    ///
    /// # Errors
    /// [`PasskeyError::NotFound`], [`PasskeyError::Aal2Required`]; store failures.
    pub async fn delete_passkey(
        &self,
        caller: &Authenticated,
        id: i64,
    ) -> Result<(), PasskeyError> {
        self.core
            .require_aal2(caller, PasskeyError::Aal2Required)
            .await?;
        let changes = Changes {
            passkey: Some(PasskeyChange::Remove {
                user: caller.user.id(),
                id,
            }),
            audit: vec![
                AuditEvent::own(AuditAction::PasskeyRemoved, caller.user.id())
                    .in_session(&caller.session)
                    .with("passkey", id),
            ],
            ..Changes::default()
        };
        self.core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::PasskeyRemoved)
            .await?;
        Ok(())
    }
}
