//! The caller's own account: the profile, changing the address (confirmed from a link
//! sent to the new one, announced to the old one), and deleting the account. Each change is
//! applied with its mails in one transaction ([`crate::ports::AccountStore::apply`]) and
//! needs an `aal2` session where the account has a second factor.

use tracing::instrument;

use super::Accounts;
use crate::auth::errors::link_error;
use crate::auth::{AccountError, Authenticated};
use crate::ports::{Changes, UserUpdate};
use crate::{
    AuditAction, AuditEvent, ClientInfo, EmailAddress, FullName, IssuedUnder, MailPurpose,
    PasswordAttempt, TokenOwner, TokenPurpose, User,
};

/// What `PATCH /me` changes.
#[derive(Debug, Default)]
pub struct ProfileChange {
    /// A new display name (`Some(None)` clears it).
    pub full_name: Option<Option<FullName>>,
}

impl Accounts {
    /// Changes the caller's profile (the display name).
    ///
    /// # Errors
    /// Store failures.
    pub async fn update_profile(
        &self,
        caller: &Authenticated,
        change: ProfileChange,
    ) -> Result<User, AccountError> {
        if change.full_name.is_none() {
            return Ok(caller.user.clone());
        }
        let changes = Changes {
            update_user: Some(UserUpdate {
                full_name: change.full_name,
                ..UserUpdate::of(caller.user.id())
            }),
            ..Changes::default()
        };
        Ok(self.core.apply_for_user(changes, self.core.now()).await?)
    }

    /// Mails a confirmation link to `new_email` and a notice to the current address; the
    /// address changes only when the link is followed.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`], [`AccountError::Throttled`],
    /// [`AccountError::EmailTaken`], [`AccountError::MailDisabled`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn request_email_change(
        &self,
        caller: &Authenticated,
        new_email: EmailAddress,
        current: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.core.require_mail(AccountError::MailDisabled)?;
        self.core.confirm_owner(caller, current, client).await?;
        if self.core.users.find_by_email(&new_email).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        let now = self.core.now();
        let issued = IssuedUnder::now(&caller.user);
        let mut changes = Changes {
            issued_under: Some(issued),
            ..Changes::default()
        };
        self.core
            .add_link_mail(
                &mut changes,
                TokenOwner::User(issued),
                &new_email,
                TokenPurpose::ChangeEmail,
                now,
            )
            .await;
        changes.audit.push(
            AuditEvent::own(AuditAction::EmailChangeRequested, caller.user.id())
                .in_session(&caller.session)
                .with("to", new_email.as_str()),
        );
        if !changes.mails.is_empty() {
            let mut notice = crate::Mail::notice(
                caller.user.email().clone(),
                MailPurpose::EmailChangeRequested,
            );
            notice.new_email = Some(new_email.as_str().to_owned());
            changes.mails.push(notice);
        }
        self.core.accounts.apply(changes, now).await?;
        tracing::info!("email change requested");
        Ok(())
    }

    /// Moves the account of an email-change link to its new address, which counts as
    /// verified; the old address no longer logs in, and links mailed to it stop working
    /// (a credential event).
    ///
    /// # Errors
    /// [`AccountError::InvalidToken`] as for [`Self::confirm_verification`],
    /// [`AccountError::EmailTaken`] if another account took the address meanwhile; store
    /// failures.
    #[instrument(skip_all)]
    pub async fn confirm_email_change(&self, token: &str) -> Result<User, AccountError> {
        let (stored, user) = self.usable_token(token, TokenPurpose::ChangeEmail).await?;
        let new_email = stored
            .new_email
            .as_deref()
            .and_then(|raw| EmailAddress::parse(raw).ok())
            .ok_or(AccountError::InvalidToken)?;
        let applied = self
            .core
            .accounts
            .apply(
                Changes {
                    issued_under: Some(stored.issued_under()),
                    consume_token: Some(stored.id),
                    audit: vec![
                        AuditEvent::own(AuditAction::EmailChanged, user.id())
                            .with("from", user.email().as_str())
                            .with("to", new_email.as_str()),
                    ],
                    update_user: Some(UserUpdate {
                        email: Some(new_email),
                        is_verified: Some(true),
                        ..UserUpdate::of(user.id())
                    }),
                    ..Changes::default()
                },
                self.core.now(),
            )
            .await
            .map_err(link_error)?;
        tracing::info!(user_id = user.id().get(), "email changed");
        applied.user.ok_or(AccountError::InvalidToken)
    }

    /// Deletes the caller's account, its sessions, tokens, factors and passkeys; the
    /// address can register again. A notice is mailed. With a second factor, only from a
    /// session signed in with it: a stolen password alone cannot erase an account. Never
    /// the last active superuser's, as for the administration routes.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`], [`AccountError::Throttled`],
    /// [`AccountError::Aal2Required`], [`AccountError::LastSuperuser`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn delete_account(
        &self,
        caller: &Authenticated,
        current: &PasswordAttempt,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.core.confirm_owner(caller, current, client).await?;
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            delete_user: Some(caller.user.id()),
            keep_a_superuser: caller.user.is_superuser(),
            audit: vec![
                AuditEvent::own(AuditAction::AccountDeleted, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        self.core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::AccountDeleted)
            .await?;
        tracing::info!("account deleted");
        Ok(())
    }
}
