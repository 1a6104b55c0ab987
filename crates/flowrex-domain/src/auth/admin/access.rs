//! Administration of an account's access: listing and ending its sessions, mailing it a
//! reset link; and the operator's commands: creating a user, deactivating one, granting or
//! revoking the superuser flag (never the last active superuser's).

use tracing::instrument;

use super::{Admin, AdminError};
use crate::auth::{Authenticated, LogoutError, RegisterError, Registration};
use crate::ports::{Changes, IdentityChange, Revocation, UserUpdate};
use crate::{
    AuditAction, AuditEvent, AuditUser, EmailAddress, Identity, IssuedUnder, RevokeReason, Session,
    TokenOwner, TokenPurpose, User, UserId,
};

impl Admin {
    /// A user's active sessions, most recently used first.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`]; store failures.
    pub async fn admin_list_sessions(
        &self,
        caller: &Authenticated,
        id: UserId,
    ) -> Result<Vec<Session>, AdminError> {
        let user = self.admin_get_user(caller, id).await?;
        Ok(self
            .core
            .sessions
            .list_active(user.id(), self.core.now())
            .await?)
    }

    /// Ends every session of a user (a credential event: logins waiting for a second
    /// factor and pending links end too); how many.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`]; store failures.
    #[instrument(skip_all, fields(admin_id = caller.user.id().get(), user_id = id.get()))]
    pub async fn admin_revoke_sessions(
        &self,
        caller: &Authenticated,
        id: UserId,
    ) -> Result<u64, AdminError> {
        let user = self.admin_get_user(caller, id).await?;
        let changes = Changes {
            revoke_sessions: Some(Revocation {
                user: user.id(),
                keep: None,
                reason: RevokeReason::Admin,
            }),
            audit: vec![
                AuditEvent::new(AuditAction::AdminSessionsRevoked)
                    .by(AuditUser::User(caller.user.id()))
                    .on(AuditUser::User(user.id())),
            ],
            ..Changes::default()
        };
        let revoked = self
            .core
            .accounts
            .apply(changes, self.core.now())
            .await?
            .revoked;
        tracing::info!(revoked, "sessions revoked by an administrator");
        Ok(revoked)
    }

    /// A user's linked identities, oldest first.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`]; store failures.
    pub async fn admin_list_identities(
        &self,
        caller: &Authenticated,
        id: UserId,
    ) -> Result<Vec<Identity>, AdminError> {
        let user = self.admin_get_user(caller, id).await?;
        Ok(self.core.federation.identities(user.id()).await?)
    }

    /// Removes a user's identity `identity` (an identity that is not the user's, or a
    /// compromised one): a credential event, audited as done by the administrator and said
    /// in a notice mail; never the user's last way to sign in (deactivate the account
    /// instead).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`],
    /// [`AdminError::IdentityNotFound`], [`AdminError::LastWayIn`]; store failures.
    #[instrument(skip_all, fields(admin_id = caller.user.id().get(), user_id = id.get()))]
    pub async fn admin_remove_identity(
        &self,
        caller: &Authenticated,
        id: UserId,
        identity: i64,
    ) -> Result<(), AdminError> {
        let user = self.admin_get_user(caller, id).await?;
        let found = self
            .core
            .federation
            .identities(user.id())
            .await?
            .into_iter()
            .find(|i| i.id == identity)
            .ok_or(AdminError::IdentityNotFound)?;
        let changes = Changes {
            identity: Some(IdentityChange::Unlink {
                user: user.id(),
                id: identity,
            }),
            audit: vec![
                AuditEvent::new(AuditAction::IdentityUnlinked)
                    .by(AuditUser::User(caller.user.id()))
                    .on(AuditUser::User(user.id()))
                    .with("provider", found.provider.as_str()),
            ],
            ..Changes::default()
        };
        self.core
            .apply_with_notice(changes, user.email(), crate::MailPurpose::IdentityUnlinked)
            .await?;
        tracing::info!(provider = %found.provider, "identity removed by an administrator");
        Ok(())
    }

    /// Mails a user a password-reset link (subject to the per-recipient limit).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::MailDisabled`];
    /// store failures.
    pub async fn admin_send_password_reset(
        &self,
        caller: &Authenticated,
        id: UserId,
    ) -> Result<(), AdminError> {
        let user = self.admin_get_user(caller, id).await?;
        if !self.core.lifecycle.mail_enabled {
            return Err(AdminError::MailDisabled);
        }
        let now = self.core.now();
        let mut changes = Changes {
            audit: vec![
                AuditEvent::new(AuditAction::AdminPasswordResetSent)
                    .by(AuditUser::User(caller.user.id()))
                    .on(AuditUser::User(user.id())),
            ],
            ..Changes::default()
        };
        self.core
            .add_link_mail(
                &mut changes,
                TokenOwner::User(IssuedUnder::now(&user)),
                user.email(),
                TokenPurpose::ResetPassword,
                now,
            )
            .await;
        self.core.accounts.apply(changes, now).await?;
        Ok(())
    }

    /// Makes the user with this address a superuser, or (`false`) no longer one — never
    /// the last active one (the operator's `flowrex user superuser`). `None` when no such
    /// user exists.
    ///
    /// # Errors
    /// [`AdminError::LastSuperuser`]; store failures.
    pub async fn set_superuser(
        &self,
        email: &EmailAddress,
        superuser: bool,
    ) -> Result<Option<User>, AdminError> {
        let Some(user) = self.core.users.find_by_email(email).await? else {
            return Ok(None);
        };
        let changes = Changes {
            update_user: Some(UserUpdate {
                is_superuser: Some(superuser),
                ..UserUpdate::of(user.id())
            }),
            keep_a_superuser: !superuser && user.is_superuser() && user.is_active(),
            audit: vec![
                AuditEvent::new(AuditAction::AdminUserUpdated)
                    .on(AuditUser::User(user.id()))
                    .with("by", "operator")
                    .with("fields", vec!["is_superuser"])
                    .with(
                        "is_superuser",
                        serde_json::json!({"old": user.is_superuser(), "new": superuser}),
                    ),
            ],
            ..Changes::default()
        };
        Ok(self
            .core
            .accounts
            .apply(changes, self.core.now())
            .await?
            .user)
    }

    /// Creates a user, an administrator when `superuser` — the operator's `flowrex user
    /// create` (registration over HTTP never makes one). With `verified` the address counts
    /// as verified at once (the operator vouches for it); otherwise the verification mail is
    /// queued with the user (when mail can be sent).
    ///
    /// # Errors
    /// As [`crate::Accounts::register`].
    pub async fn create_user(
        &self,
        registration: Registration,
        superuser: bool,
        verified: bool,
    ) -> Result<User, RegisterError> {
        self.core
            .create_user(registration, superuser, verified)
            .await
    }

    /// Deactivates the user with this address and ends all its sessions, together: its
    /// tokens stop working at once. `false` when no such user exists.
    ///
    /// # Errors
    /// [`LogoutError::Unavailable`] when a store cannot be reached.
    pub async fn deactivate(&self, email: &EmailAddress) -> Result<bool, LogoutError> {
        let Some(user) = self.core.users.find_by_email(email).await? else {
            return Ok(false);
        };
        let applied = self
            .core
            .accounts
            .apply(
                Changes {
                    update_user: Some(UserUpdate {
                        is_active: Some(false),
                        ..UserUpdate::of(user.id())
                    }),
                    revoke_sessions: Some(Revocation {
                        user: user.id(),
                        keep: None,
                        reason: RevokeReason::Deactivated,
                    }),
                    audit: vec![
                        AuditEvent::new(AuditAction::AdminUserUpdated)
                            .on(AuditUser::User(user.id()))
                            .with("by", "operator")
                            .with("fields", vec!["is_active"])
                            .with(
                                "is_active",
                                serde_json::json!({"old": user.is_active(), "new": false}),
                            ),
                    ],
                    ..Changes::default()
                },
                self.core.now(),
            )
            .await?;
        tracing::info!(
            user_id = user.id().get(),
            revoked = applied.revoked,
            "user deactivated"
        );
        Ok(true)
    }
}
