//! Administration: superusers list, create (or invite), read, change and delete accounts
//! (their sessions, reset links and the superuser flag: `auth/admin_access.rs`). The caller's superuser flag is the one
//! its request just read from the database ([`AuthService::authenticate`]): a demotion
//! takes effect on the next request. No change may leave the service without an active
//! superuser.

use std::sync::Arc;

use chrono::Duration;
use tracing::instrument;

use super::accounts::LinkMail;
use super::{AuthService, Authenticated};
use crate::ports::{
    AccountStoreError, Changes, HashError, RepositoryError, Revocation, SessionStoreError,
    UserDirectory, UserFilter, UserUpdate,
};
use crate::{
    AuditAction, AuditEvent, AuditUser, EmailAddress, FullName, MailPurpose, NewPassword, NewUser,
    OneTimeToken, RevokeReason, TokenOwner, TokenPurpose, User, UserId,
};

/// How long an invitation's set-password link works.
pub const INVITATION_TTL_DAYS: i64 = 7;

failure_enum! {
    /// Why an administration call failed.
    pub enum AdminError {
        /// The caller is not an (active) superuser.
        #[error("superuser required")]
        Forbidden,
        /// No such user.
        #[error("user not found")]
        NotFound,
        /// The change would leave no active superuser.
        #[error("the last active superuser cannot be removed")]
        LastSuperuser,
        /// The address is another account's.
        #[error("email already registered")]
        EmailTaken,
        /// An invitation or a reset link must be mailed, and mail is off.
        #[error("mail delivery is not configured")]
        MailDisabled,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

impl From<AccountStoreError> for AdminError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::EmailTaken => Self::EmailTaken,
            AccountStoreError::LastSuperuser => Self::LastSuperuser,
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            AccountStoreError::Unexpected(source) => Self::Unexpected(source),
            other @ (AccountStoreError::TokenUsed
            | AccountStoreError::StampMoved
            | AccountStoreError::PasskeyTaken
            | AccountStoreError::PasskeyGone) => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

super::errors::from_store_errors! { AdminError: RepositoryError, SessionStoreError; }
super::errors::from_unexpected_errors! { AdminError: HashError; }

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// The users of this page.
    pub items: Vec<User>,
    /// Where the next page starts (the last item's id), when there may be one.
    pub next: Option<UserId>,
}

/// A user an administrator creates.
#[derive(Debug)]
pub struct AdminNewUser {
    /// The login address.
    pub email: EmailAddress,
    /// The password; `None` invites the user to choose one by mail.
    pub password: Option<NewPassword>,
    /// The display name.
    pub full_name: Option<FullName>,
    /// The address counts as verified.
    pub is_verified: bool,
    /// An administrator.
    pub is_superuser: bool,
}

/// What an administrator changes of a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AdminUserChange {
    /// Active or not; deactivating ends every session at once.
    pub is_active: Option<bool>,
    /// Verified or not.
    pub is_verified: Option<bool>,
    /// Administrator or not.
    pub is_superuser: Option<bool>,
    /// The display name (`Some(None)` clears it).
    pub full_name: Option<Option<FullName>>,
}

impl AuthService {
    /// Adds the user listing administrators read (without it, listing fails).
    #[must_use]
    pub fn with_directory(mut self, directory: Arc<dyn UserDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// [`AdminError::Forbidden`] unless `caller` is an active superuser.
    fn require_superuser(caller: &Authenticated) -> Result<(), AdminError> {
        if caller.user.is_superuser() && caller.user.is_active() {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

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
        let directory = self
            .directory
            .as_ref()
            .ok_or_else(|| AdminError::Unexpected(anyhow::anyhow!("no user directory")))?;
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
        self.users.find_by_id(id).await?.ok_or(AdminError::NotFound)
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
        if invited && !self.accounts_policy.mail_enabled {
            return Err(AdminError::MailDisabled);
        }
        if self.users.find_by_email(&new.email).await?.is_some() {
            return Err(AdminError::EmailTaken);
        }
        let password = match new.password {
            Some(password) => password.expose().to_owned(),
            // Nobody knows it: the invitation's link sets the real one.
            None => OneTimeToken::generate().expose().to_owned(),
        };
        let now = self.now();
        let mut changes = Changes {
            insert_user: Some(NewUser {
                email: new.email.clone(),
                password_hash: self.hasher.hash(&password).await?,
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
            self.add_link(
                &mut changes,
                LinkMail {
                    owner: TokenOwner::Inserted,
                    to: &new.email,
                    purpose: TokenPurpose::ResetPassword,
                    mail_purpose: MailPurpose::Invitation,
                    ttl: Duration::days(INVITATION_TTL_DAYS),
                    template: &self.accounts_policy.links.reset_password,
                },
                now,
            )
            .await;
        }
        let user = self.apply_for_user(changes, now).await?;
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
        let applied = self.accounts.apply(changes, self.now()).await?;
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
        self.accounts.apply(changes, self.now()).await?;
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
