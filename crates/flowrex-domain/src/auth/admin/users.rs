//! The user directory, as superusers manage it: list (paginated, filtered), create (or
//! invite), read, change and delete accounts; never leaving no active superuser.

use chrono::Duration;
use tracing::instrument;

use super::{Admin, AdminError, AdminNewUser, AdminUserChange, INVITATION_TTL_DAYS, UserPage};
use crate::auth::Authenticated;
use crate::auth::core::mail::LinkMail;
use crate::ports::{Changes, Revocation, UserFilter, UserUpdate};
use crate::{
    AuditAction, AuditEvent, AuditUser, MailPurpose, NewUser, OneTimeToken, RevokeReason,
    TokenOwner, TokenPurpose, User, UserId,
};

impl Admin {
    /// Users matching `filter`, newest first, `limit` per page, after `before`.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`]; store failures.
    pub async fn admin_list_users(
        &self,
        caller: &Authenticated,
        filter: &UserFilter,
        before: Option<UserId>,
        limit: u64,
    ) -> Result<UserPage, AdminError> {
        Self::require_superuser(caller)?;
        let directory = &self.directory;
        // One more than asked tells whether another page follows.
        let mut items = directory.list(filter, before, limit + 1).await?;
        let more = items.len() as u64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            items.last().map(User::id)
        } else {
            None
        };
        Ok(UserPage { items, next })
    }

    /// One user.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`]; store failures.
    pub async fn admin_get_user(
        &self,
        caller: &Authenticated,
        id: UserId,
    ) -> Result<User, AdminError> {
        Self::require_superuser(caller)?;
        self.core
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)
    }

    /// Creates a user. Without a password the user is invited: a mail carries a
    /// set-password link (the reset flow, valid [`INVITATION_TTL_DAYS`] days), and until
    /// then the account has a random password nobody knows.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::EmailTaken`], [`AdminError::MailDisabled`]
    /// (an invitation without mail); store and hashing failures.
    #[instrument(skip_all, fields(admin_id = caller.user.id().get()))]
    pub async fn admin_create_user(
        &self,
        caller: &Authenticated,
        new: AdminNewUser,
    ) -> Result<User, AdminError> {
        Self::require_superuser(caller)?;
        let invited = new.password.is_none();
        if invited && !self.core.lifecycle.mail_enabled {
            return Err(AdminError::MailDisabled);
        }
        if self.core.users.find_by_email(&new.email).await?.is_some() {
            return Err(AdminError::EmailTaken);
        }
        let password_hash = match &new.password {
            Some(password) => self.core.hash_new_password(password).await?,
            // Nobody knows it: the invitation's link sets the real one (checked there).
            None => {
                self.core
                    .hasher
                    .hash(OneTimeToken::generate().expose())
                    .await?
            }
        };
        let now = self.core.now();
        let mut changes = Changes {
            insert_user: Some(NewUser {
                email: new.email.clone(),
                password_hash,
                full_name: new.full_name,
                created_at: now,
                is_superuser: new.is_superuser,
                is_verified: new.is_verified,
            }),
            audit: vec![
                AuditEvent::new(AuditAction::AdminUserCreated)
                    .by(AuditUser::User(caller.user.id()))
                    .on(AuditUser::Inserted)
                    .with("invited", invited)
                    .with("is_superuser", new.is_superuser)
                    .with("is_verified", new.is_verified),
            ],
            ..Changes::default()
        };
        if invited {
            self.core
                .add_link(
                    &mut changes,
                    LinkMail {
                        owner: TokenOwner::Inserted,
                        to: &new.email,
                        purpose: TokenPurpose::ResetPassword,
                        mail_purpose: MailPurpose::Invitation,
                        ttl: Duration::days(INVITATION_TTL_DAYS),
                        template: &self.core.lifecycle.links.reset_password,
                    },
                    now,
                )
                .await;
        }
        let user = self.core.apply_for_user(changes, now).await?;
        tracing::info!(
            user_id = user.id().get(),
            invited,
            "user created by an administrator"
        );
        Ok(user)
    }

    /// Changes a user's flags or name. Deactivating ends every session at once; no
    /// change may leave the service without an active superuser.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::LastSuperuser`];
    /// store failures.
    #[instrument(skip_all, fields(admin_id = caller.user.id().get(), user_id = id.get()))]
    pub async fn admin_update_user(
        &self,
        caller: &Authenticated,
        id: UserId,
        change: AdminUserChange,
    ) -> Result<User, AdminError> {
        Self::require_superuser(caller)?;
        let user = self
            .core
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let deactivated = change.is_active == Some(false) && user.is_active();
        let event = updated_event(caller, &user, &change);
        let removes_superuser = user.is_superuser()
            && user.is_active()
            && (deactivated || change.is_superuser == Some(false));
        let changes = Changes {
            update_user: Some(UserUpdate {
                is_active: change.is_active,
                is_verified: change.is_verified,
                is_superuser: change.is_superuser,
                full_name: change.full_name,
                ..UserUpdate::of(id)
            }),
            revoke_sessions: deactivated.then_some(Revocation {
                user: id,
                keep: None,
                reason: RevokeReason::Admin,
            }),
            keep_a_superuser: removes_superuser,
            audit: vec![event],
            ..Changes::default()
        };
        let applied = self.core.accounts.apply(changes, self.core.now()).await?;
        tracing::info!(
            revoked = applied.revoked,
            "user changed by an administrator"
        );
        applied.user.ok_or(AdminError::NotFound)
    }

    /// Deletes a user, its sessions and tokens; the address can register again.
    ///
    /// # Errors
    /// [`AdminError::Forbidden`], [`AdminError::NotFound`], [`AdminError::LastSuperuser`];
    /// store failures.
    #[instrument(skip_all, fields(admin_id = caller.user.id().get(), user_id = id.get()))]
    pub async fn admin_delete_user(
        &self,
        caller: &Authenticated,
        id: UserId,
    ) -> Result<(), AdminError> {
        Self::require_superuser(caller)?;
        let user = self
            .core
            .users
            .find_by_id(id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let changes = Changes {
            delete_user: Some(id),
            keep_a_superuser: user.is_superuser() && user.is_active(),
            audit: vec![
                AuditEvent::new(AuditAction::AdminUserDeleted)
                    .by(AuditUser::User(caller.user.id()))
                    .on(AuditUser::User(id)),
            ],
            ..Changes::default()
        };
        self.core.accounts.apply(changes, self.core.now()).await?;
        tracing::info!("user deleted by an administrator");
        Ok(())
    }
}

/// The `admin_user_updated` event of `change` to `user`: the fields named, and each flag's
/// old and new value.
fn updated_event(caller: &Authenticated, user: &User, change: &AdminUserChange) -> AuditEvent {
    let mut fields = Vec::new();
    let mut event = AuditEvent::new(AuditAction::AdminUserUpdated)
        .by(AuditUser::User(caller.user.id()))
        .on(AuditUser::User(user.id()));
    for (name, new, old) in [
        ("is_active", change.is_active, user.is_active()),
        ("is_verified", change.is_verified, user.is_verified()),
        ("is_superuser", change.is_superuser, user.is_superuser()),
    ] {
        if let Some(new) = new {
            fields.push(name);
            event = event.with(name, serde_json::json!({ "old": old, "new": new }));
        }
    }
    if change.full_name.is_some() {
        fields.push("full_name");
    }
    event.with("fields", fields)
}
