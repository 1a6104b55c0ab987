//! The account lifecycle over mail: verifying the address, forgotten and changed
//! passwords (the profile, the address and deletion are `auth/profile.rs`). Every change is
//! applied with its mails in one transaction ([`crate::ports::AccountStore::apply`]).
//!
//! Answers never tell whether an address has an account: asking for a verification or a
//! reset succeeds alike for unknown, inactive and limited addresses (only no mail goes
//! out), after comparable work.

use tracing::instrument;

use super::Accounts;
use crate::auth::errors::link_error;
use crate::auth::{AccountError, Authenticated};
use crate::ports::{Changes, Revocation, UserUpdate};
use crate::{
    AuditAction, AuditEvent, AuditUser, ClientInfo, EmailAddress, IssuedUnder, MailPurpose,
    NewPassword, OneTimeToken, PasswordAttempt, RevokeReason, StoredToken, TokenOwner,
    TokenPurpose, User,
};

/// Who asks for a verification mail.
#[derive(Debug)]
pub enum VerificationRequest<'a> {
    /// The signed-in user (bearer token).
    Caller(&'a User),
    /// Anyone, for an address.
    Email(EmailAddress),
}

impl Accounts {
    /// Queues a new verification link for an unverified, active account (the older link
    /// stops working). Succeeds alike when there is nothing to send.
    ///
    /// # Errors
    /// [`AccountError::MailDisabled`]; store failures.
    #[instrument(skip_all)]
    pub async fn request_verification(
        &self,
        request: VerificationRequest<'_>,
    ) -> Result<(), AccountError> {
        self.core.require_mail(AccountError::MailDisabled)?;
        let user = match request {
            VerificationRequest::Caller(user) => Some(user.clone()),
            VerificationRequest::Email(email) => self.core.users.find_by_email(&email).await?,
        };
        self.queue_link(
            user.filter(|u| u.is_active() && !u.is_verified()),
            TokenPurpose::VerifyEmail,
        )
        .await
    }

    /// Marks the address of a verification link's account verified. Being the first proof
    /// of the mailbox, it takes the account back: every factor and passkey added before goes
    /// ([`crate::stamp`]; docs/security.md).
    ///
    /// # Errors
    /// [`AccountError::InvalidToken`] for a token that is unknown, used, replaced, expired
    /// or of another purpose, or issued before a credential event of its account, or whose
    /// account is inactive; store failures.
    #[instrument(skip_all)]
    pub async fn confirm_verification(&self, token: &str) -> Result<User, AccountError> {
        let (stored, user) = self.usable_token(token, TokenPurpose::VerifyEmail).await?;
        let mut changes = Changes {
            issued_under: Some(stored.issued_under()),
            consume_token: Some(stored.id),
            update_user: Some(UserUpdate {
                is_verified: Some(true),
                ..UserUpdate::of(user.id())
            }),
            audit: vec![AuditEvent::own(AuditAction::EmailVerified, user.id())],
            ..Changes::default()
        };
        self.core.take_back(&user, &mut changes).await?;
        let applied = self
            .core
            .accounts
            .apply(changes, self.core.now())
            .await
            .map_err(link_error)?;
        tracing::info!(user_id = user.id().get(), "email verified");
        applied.user.ok_or(AccountError::InvalidToken)
    }

    /// Queues a password-reset link for an active account. Succeeds alike for an unknown
    /// or inactive address, which gets no mail.
    ///
    /// # Errors
    /// [`AccountError::MailDisabled`]; store failures.
    #[instrument(skip_all)]
    pub async fn forgot_password(&self, email: &EmailAddress) -> Result<(), AccountError> {
        self.core.require_mail(AccountError::MailDisabled)?;
        let user = self.core.users.find_by_email(email).await?;
        self.queue_link(user.filter(User::is_active), TokenPurpose::ResetPassword)
            .await
    }

    /// Queues a link of `purpose` to `user`, if any. With no user the same transaction
    /// still runs, empty, so that the work (and its time) does not tell the cases apart.
    async fn queue_link(
        &self,
        user: Option<User>,
        purpose: TokenPurpose,
    ) -> Result<(), AccountError> {
        let now = self.core.now();
        let mut changes = Changes::default();
        if let Some(user) = user {
            self.core
                .add_link_mail(
                    &mut changes,
                    TokenOwner::User(IssuedUnder::now(&user)),
                    user.email(),
                    purpose,
                    now,
                )
                .await;
            let action = match purpose {
                TokenPurpose::VerifyEmail => AuditAction::EmailVerificationRequested,
                _ => AuditAction::PasswordResetRequested,
            };
            let mailed = !changes.mails.is_empty();
            changes.audit.push(
                AuditEvent::new(action)
                    .on(AuditUser::User(user.id()))
                    .with("mailed", mailed),
            );
        }
        self.core.accounts.apply(changes, now).await?;
        Ok(())
    }

    /// Sets a new password from a reset link: every session of the user ends, the address
    /// counts as verified (the link reached it; the first such proof takes the account
    /// back, as for [`Self::confirm_verification`]), and a notice is mailed.
    ///
    /// # Errors
    /// [`AccountError::InvalidToken`] as for [`Self::confirm_verification`]; store and
    /// hashing failures.
    #[instrument(skip_all)]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: NewPassword,
    ) -> Result<(), AccountError> {
        let (stored, user) = self
            .usable_token(token, TokenPurpose::ResetPassword)
            .await?;
        let hash = self.core.hash_new_password(&new_password).await?;
        let mut changes = Changes {
            issued_under: Some(stored.issued_under()),
            consume_token: Some(stored.id),
            update_user: Some(UserUpdate {
                password_hash: Some(hash),
                is_verified: Some(true),
                ..UserUpdate::of(user.id())
            }),
            revoke_sessions: Some(Revocation {
                user: user.id(),
                keep: None,
                reason: RevokeReason::PasswordReset,
            }),
            audit: vec![AuditEvent::own(AuditAction::PasswordReset, user.id())],
            ..Changes::default()
        };
        self.core.take_back(&user, &mut changes).await?;
        let applied = self
            .core
            .apply_with_notice(changes, user.email(), MailPurpose::PasswordReset)
            .await
            .map_err(link_error)?;
        tracing::info!(
            user_id = user.id().get(),
            revoked = applied.revoked,
            "password reset"
        );
        Ok(())
    }

    /// Changes the caller's password: the other sessions end, the caller's goes on, and a
    /// notice is mailed.
    ///
    /// # Errors
    /// [`AccountError::WrongPassword`] (counted like a failed login),
    /// [`AccountError::Throttled`], [`AccountError::Aal2Required`] when the account has a
    /// second factor the session was not signed in with; store and hashing failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn change_password(
        &self,
        caller: &Authenticated,
        current: &PasswordAttempt,
        new_password: NewPassword,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.core.confirm_owner(caller, current, client).await?;
        let hash = self.core.hash_new_password(&new_password).await?;
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(&caller.user)),
            update_user: Some(UserUpdate {
                password_hash: Some(hash),
                ..UserUpdate::of(caller.user.id())
            }),
            revoke_sessions: Some(Revocation {
                user: caller.user.id(),
                keep: Some(caller.session.clone()),
                reason: RevokeReason::PasswordChanged,
            }),
            audit: vec![
                AuditEvent::own(AuditAction::PasswordChanged, caller.user.id())
                    .in_session(&caller.session),
            ],
            ..Changes::default()
        };
        let applied = self
            .core
            .apply_with_notice(changes, caller.user.email(), MailPurpose::PasswordChanged)
            .await?;
        tracing::info!(revoked = applied.revoked, "password changed");
        Ok(())
    }

    /// Whether the link token `raw` would be accepted for `purpose` now, without using it
    /// (the pages a link opens check it before asking anything; mail scanners that follow
    /// links consume nothing).
    ///
    /// # Errors
    /// Store failures.
    pub async fn link_is_usable(
        &self,
        raw: &str,
        purpose: TokenPurpose,
    ) -> Result<bool, AccountError> {
        match self.usable_token(raw, purpose).await {
            Ok(_) => Ok(true),
            Err(AccountError::InvalidToken) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The stored token `raw` stands for, if it is usable for `purpose`, and its active
    /// user, if no credential event of theirs happened since it was issued.
    pub(super) async fn usable_token(
        &self,
        raw: &str,
        purpose: TokenPurpose,
    ) -> Result<(StoredToken, User), AccountError> {
        let token = OneTimeToken::parse(raw).ok_or(AccountError::InvalidToken)?;
        let stored = self
            .core
            .accounts
            .find_token(&token.fingerprint(), purpose)
            .await?
            .filter(|stored| stored.is_usable_for(purpose, self.core.now()))
            .ok_or(AccountError::InvalidToken)?;
        let user = self
            .core
            .holder(stored.issued_under())
            .await?
            .ok_or(AccountError::InvalidToken)?;
        Ok((stored, user))
    }
}
