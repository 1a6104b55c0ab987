//! One's own linked providers: listing them, linking another (a way to sign in: a verified
//! address and fresh proof, as for a passkey), unlinking one (never the last way in).

use tracing::instrument;

use super::Accounts;
use crate::auth::Authenticated;
use crate::auth::federation::{FederationError, FlowStart};
use crate::ports::{AccountStoreError, Changes, IdentityChange};
use crate::{Aal, AuditAction, AuditEvent, ClientInfo, Identity, IssuedUnder, MailPurpose};
use crate::{AccountError, PasswordAttempt};

impl Accounts {
    /// The caller's linked identities, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn identities(
        &self,
        caller: &Authenticated,
    ) -> Result<Vec<Identity>, FederationError> {
        Ok(self.core.federation.identities(caller.user.id()).await?)
    }

    /// Starts linking `provider` to the caller's account, returning to `return_to`. A way
    /// to sign in is added only to an account whose address is verified, and only with
    /// fresh proof: the current password (checked and counted like a login whenever it is
    /// given), or else a session at `aal2`; an account with a second factor needs an `aal2`
    /// session in any case. The flow is bound to the caller's stamp: a credential event
    /// before the provider answers ends it.
    ///
    /// # Errors
    /// [`FederationError::EmailNotVerified`], [`FederationError::Aal2Required`],
    /// [`FederationError::PasswordRequired`], [`FederationError::WrongPassword`],
    /// [`FederationError::Throttled`], [`FederationError::NotFound`],
    /// [`FederationError::ReturnUrlNotAllowed`], [`FederationError::ProviderUnavailable`];
    /// store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn start_link(
        &self,
        caller: &Authenticated,
        provider: &str,
        return_to: &str,
        current: Option<&PasswordAttempt>,
        client: &ClientInfo,
    ) -> Result<FlowStart, FederationError> {
        // An unknown provider or return address is told before any password is checked.
        let target = self.federation.target(provider, return_to)?;
        if !caller.user.is_verified() {
            return Err(FederationError::EmailNotVerified);
        }
        self.core
            .require_aal2(caller, FederationError::Aal2Required)
            .await?;
        match current {
            Some(current) => self
                .core
                .check_current_password(&caller.user, current, client)
                .await
                .map_err(owner_error)?,
            None if caller.assurance.aal() >= Aal::Aal2 => {}
            None => return Err(FederationError::PasswordRequired),
        }
        self.federation
            .start(
                &self.core,
                target,
                None,
                Some(IssuedUnder::now(&caller.user)),
            )
            .await
    }

    /// Unlinks the caller's identity `id` — a credential event: links, challenges and
    /// ceremonies issued before end — with a notice mailed; never the last way to sign in
    /// (no usable password, no passkey, no other identity), decided under a lock of the
    /// account so that two unlinks at once cannot both pass. An account with a second
    /// factor needs an `aal2` session.
    ///
    /// # Errors
    /// [`FederationError::NotFound`], [`FederationError::LastWayIn`],
    /// [`FederationError::Aal2Required`], [`FederationError::Stale`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn unlink(&self, caller: &Authenticated, id: i64) -> Result<(), FederationError> {
        self.core
            .require_aal2(caller, FederationError::Aal2Required)
            .await?;
        let identity = self
            .core
            .federation
            .identities(caller.user.id())
            .await?
            .into_iter()
            .find(|identity| identity.id == id)
            .ok_or(FederationError::NotFound)?;
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            identity: Some(IdentityChange::Unlink {
                user: caller.user.id(),
                id,
            }),
            audit: vec![
                AuditEvent::own(AuditAction::IdentityUnlinked, caller.user.id())
                    .in_session(&caller.session)
                    .with("provider", identity.provider.as_str()),
            ],
            ..Changes::default()
        };
        self.core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::IdentityUnlinked)
            .await
            .map_err(|error| match error {
                AccountStoreError::IdentityGone => FederationError::NotFound,
                AccountStoreError::LastWayIn => FederationError::LastWayIn,
                AccountStoreError::StampMoved => FederationError::Stale,
                AccountStoreError::Unavailable(source) => FederationError::Unavailable(source),
                other => FederationError::Unexpected(anyhow::anyhow!(other)),
            })?;
        tracing::info!(provider = %identity.provider, "identity unlinked");
        Ok(())
    }
}

/// The owner's password check, as a link sees it.
fn owner_error(error: AccountError) -> FederationError {
    match error {
        AccountError::WrongPassword => FederationError::WrongPassword,
        AccountError::Throttled { retry_after } => FederationError::Throttled { retry_after },
        AccountError::Unavailable(source) => FederationError::Unavailable(source),
        other => FederationError::Unexpected(anyhow::anyhow!(other)),
    }
}
