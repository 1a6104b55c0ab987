//! The owner of an account, confirmed: an `aal2` session where the account has a second
//! factor, and the current password, checked and counted like a login; and the first proof
//! of an unverified account's mailbox, which takes it back from whoever made it.

use super::Core;
use super::throttle::ThrottleKeys;
use crate::auth::Authenticated;
use crate::auth::{AccountError, MfaError};
use crate::ports::{Changes, MfaStoreError, TotpFactor};
use crate::{
    Aal, AuditAction, AuditEvent, ClientInfo, Mail, MailPurpose, PasswordAttempt, User, UserId,
};

impl Core {
    /// The checks before a change to the caller's own account that needs its owner: a
    /// session at `aal2` where the account has a second factor, then the current password.
    pub(in crate::auth) async fn confirm_owner(
        &self,
        caller: &Authenticated,
        current: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.require_aal2(caller, AccountError::Aal2Required)
            .await?;
        self.check_current_password(&caller.user, current, client)
            .await
    }

    /// Checks the password a signed-in user confirms a change with, throttled and counted
    /// like a login.
    pub(in crate::auth) async fn check_current_password(
        &self,
        user: &User,
        current: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let attempt = self
            .begin_attempt(ThrottleKeys::of(client, user.email()))
            .await
            .map_err(|full| AccountError::Throttled {
                retry_after: full.retry_after,
            })?;
        let hash = Some(user.password_hash()).filter(|hash| hash.is_usable());
        let verified = if current.is_verifiable() {
            // No password set: the same verification, never a match.
            self.hasher.verify(current, hash).await
        } else {
            Ok(false)
        };
        match verified {
            Ok(true) => {
                attempt.succeeded().await;
                Ok(())
            }
            Ok(false) => {
                attempt.failed();
                Err(AccountError::WrongPassword)
            }
            Err(error) => {
                attempt.inconclusive().await;
                Err(error.into())
            }
        }
    }

    /// The user's active TOTP factor, if there is one.
    pub(in crate::auth) async fn active_totp(
        &self,
        user: UserId,
    ) -> Result<Option<TotpFactor>, MfaStoreError> {
        Ok(self
            .factors
            .totp_factors(user)
            .await?
            .into_iter()
            .find(|factor| factor.active))
    }

    /// `refused` (the use case's `Aal2Required`) when the caller's account has a second
    /// factor its session was not signed in with: for changing the password or the address,
    /// deleting the account, managing the factor or passkeys. No lookup for a session at
    /// `aal2` already.
    pub(in crate::auth) async fn require_aal2<E: From<MfaStoreError>>(
        &self,
        caller: &Authenticated,
        refused: E,
    ) -> Result<(), E> {
        if caller.assurance.aal() >= Aal::Aal2 {
            return Ok(());
        }
        if self.active_totp(caller.user.id()).await?.is_some() {
            return Err(refused);
        }
        Ok(())
    }

    /// [`MfaError::Aal2Required`] unless the session is at `aal2` (where the factor is
    /// known to be active).
    pub(in crate::auth) fn require_aal2_session(caller: &Authenticated) -> Result<(), MfaError> {
        if caller.assurance.aal() >= Aal::Aal2 {
            Ok(())
        } else {
            Err(MfaError::Aal2Required)
        }
    }

    /// The first proof that someone holds the address of an account that was never
    /// verified (its verification or reset link followed) takes the account back from
    /// whoever made it: every TOTP factor, recovery code, passkey and linked identity
    /// added before goes —
    /// audited, and said in a mail — and the stamp moves on, so that links and challenges
    /// issued before die too. Accounts squatted before adding needed a verified address
    /// are taken back the same way.
    pub(in crate::auth) async fn take_back(
        &self,
        user: &User,
        changes: &mut Changes,
    ) -> Result<(), AccountError> {
        if user.is_verified() {
            return Ok(());
        }
        changes.reclaim = Some(user.id());
        let totp = !self.factors.totp_factors(user.id()).await?.is_empty();
        let passkeys = self.passkeys.list(user.id()).await?.len();
        let identities = self.federation.identities(user.id()).await?.len();
        if !totp && passkeys == 0 && identities == 0 {
            return Ok(());
        }
        tracing::warn!(
            user_id = user.id().get(),
            totp,
            passkeys,
            identities,
            "first proof of the address: sign-in methods added before it removed"
        );
        changes.audit.push(
            AuditEvent::own(AuditAction::SignInMethodsRemoved, user.id())
                .with("reason", "first_proof_of_address")
                .with("totp", totp)
                .with("passkeys", passkeys)
                .with("identities", identities),
        );
        if self.lifecycle.mail_enabled {
            changes.mails.push(Mail::notice(
                user.email().clone(),
                MailPurpose::SignInMethodsRemoved,
            ));
        }
        Ok(())
    }
}
