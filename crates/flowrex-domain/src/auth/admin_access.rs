//! Administration of an account's access: listing and ending its sessions, mailing it a
//! reset link, and granting or revoking the superuser flag from the command line (never
//! the last active superuser's).

use tracing::instrument;

use super::{AdminError, AuthService, Authenticated};
use crate::ports::{Changes, Revocation, UserUpdate};
use crate::{
    AuditAction, AuditEvent, AuditUser, EmailAddress, IssuedUnder, RevokeReason, Session,
    TokenOwner, TokenPurpose, User, UserId,
};

impl AuthService {
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
        Ok(self.sessions.list_active(user.id(), self.now()).await?)
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
        let revoked = self.accounts.apply(changes, self.now()).await?.revoked;
        tracing::info!(revoked, "sessions revoked by an administrator");
        Ok(revoked)
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
        if !self.accounts_policy.mail_enabled {
            return Err(AdminError::MailDisabled);
        }
        let now = self.now();
        let mut changes = Changes {
            audit: vec![
                AuditEvent::new(AuditAction::AdminPasswordResetSent)
                    .by(AuditUser::User(caller.user.id()))
                    .on(AuditUser::User(user.id())),
            ],
            ..Changes::default()
        };
        self.add_link_mail(
            &mut changes,
            TokenOwner::User(IssuedUnder::now(&user)),
            user.email(),
            TokenPurpose::ResetPassword,
            now,
        )
        .await;
        self.accounts.apply(changes, now).await?;
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
        let Some(user) = self.users.find_by_email(email).await? else {
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
        Ok(self.accounts.apply(changes, self.now()).await?.user)
    }
}
