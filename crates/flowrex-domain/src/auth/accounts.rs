//! Accounts: registration (and the operator's `user create`), deactivation, and the
//! helpers every change of an account uses: one-time tokens, the mails they cause, and the
//! per-recipient limit of those mails.

use chrono::{DateTime, Utc};
use tracing::{Span, instrument};

use super::{AccountError, AuthService, LogoutError, RegisterError};
use crate::ports::{AccountStoreError, Applied, Changes, Reservation, Revocation, UserUpdate};
use crate::{
    AuditAction, AuditEvent, AuditUser, EmailAddress, FullName, LinkTemplates, Mail, MailPurpose,
    NewOneTimeToken, NewPassword, NewUser, OneTimeToken, RevokeReason, TokenOwner, TokenPurpose,
    User,
};

/// A registration request whose parts passed their rules.
#[derive(Debug)]
pub struct Registration {
    /// The login address.
    pub email: EmailAddress,
    /// The chosen password.
    pub password: NewPassword,
    /// The optional display name.
    pub full_name: Option<FullName>,
}

/// A link to mail: whose token, to whom, for what, for how long, and where it points.
pub(super) struct LinkMail<'a> {
    pub(super) owner: TokenOwner,
    pub(super) to: &'a EmailAddress,
    pub(super) purpose: TokenPurpose,
    pub(super) mail_purpose: MailPurpose,
    pub(super) ttl: chrono::Duration,
    pub(super) template: &'a str,
}

impl AuthService {
    /// Registers a new user (never an administrator) and queues the mail that verifies
    /// the address, in the same transaction.
    ///
    /// # Errors
    /// [`RegisterError::EmailTaken`] when the address is registered, also when another
    /// registration of it wins a race; store and hashing failures otherwise.
    pub async fn register(&self, registration: Registration) -> Result<User, RegisterError> {
        self.create_user(registration, false, false).await
    }

    /// Creates a user, an administrator when `superuser` (the operator's `flowrex user
    /// create`; registration over HTTP never makes one). With `verified` the address counts
    /// as verified at once (the operator vouches for it); otherwise the verification mail
    /// is queued with the user (when mail can be sent).
    ///
    /// # Errors
    /// As [`Self::register`].
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn create_user(
        &self,
        registration: Registration,
        superuser: bool,
        verified: bool,
    ) -> Result<User, RegisterError> {
        // Checked first so that a taken address does not cost a hash; the store's unique
        // index still decides when two registrations race.
        if self
            .users
            .find_by_email(&registration.email)
            .await?
            .is_some()
        {
            return Err(RegisterError::EmailTaken);
        }
        let password_hash = self.hasher.hash(registration.password.expose()).await?;
        let now = self.now();
        let mut changes = Changes {
            insert_user: Some(NewUser {
                email: registration.email.clone(),
                password_hash,
                full_name: registration.full_name,
                created_at: now,
                is_superuser: superuser,
                is_verified: verified,
            }),
            audit: vec![
                AuditEvent::new(AuditAction::UserRegistered)
                    .by(AuditUser::Inserted)
                    .on(AuditUser::Inserted),
            ],
            ..Changes::default()
        };
        if !verified && self.accounts_policy.mail_enabled {
            self.add_link_mail(
                &mut changes,
                TokenOwner::Inserted,
                &registration.email,
                TokenPurpose::VerifyEmail,
                now,
            )
            .await;
        }
        let user = self.apply_for_user(changes, now).await?;
        Span::current().record("user_id", user.id().get());
        tracing::info!("user registered");
        Ok(user)
    }

    /// Deactivates the user with this address and ends all its sessions, together: its
    /// tokens stop working at once. `false` when no such user exists.
    ///
    /// # Errors
    /// [`LogoutError::Unavailable`] when a store cannot be reached.
    pub async fn deactivate(&self, email: &EmailAddress) -> Result<bool, LogoutError> {
        let Some(user) = self.users.find_by_email(email).await? else {
            return Ok(false);
        };
        let applied = self
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
                self.now(),
            )
            .await?;
        tracing::info!(
            user_id = user.id().get(),
            revoked = applied.revoked,
            "user deactivated"
        );
        Ok(true)
    }

    /// Adds to `changes` a new token of `purpose` for `owner` and the mail carrying its
    /// link to `to` — unless the per-recipient limit says a message of this purpose went
    /// to `to` too recently (then neither: the older link still works).
    pub(super) async fn add_link_mail(
        &self,
        changes: &mut Changes,
        owner: TokenOwner,
        to: &EmailAddress,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) {
        let policy = &self.accounts_policy;
        let (mail_purpose, ttl, template) = match purpose {
            TokenPurpose::VerifyEmail => (
                MailPurpose::VerifyEmail,
                policy.verification_ttl,
                &policy.links.verify_email,
            ),
            TokenPurpose::ResetPassword => (
                MailPurpose::ResetPassword,
                policy.reset_ttl,
                &policy.links.reset_password,
            ),
            TokenPurpose::ChangeEmail => (
                MailPurpose::ConfirmEmailChange,
                policy.email_change_ttl,
                &policy.links.confirm_email_change,
            ),
        };
        let template = template.clone();
        self.add_link(
            changes,
            LinkMail {
                owner,
                to,
                purpose,
                mail_purpose,
                ttl,
                template: &template,
            },
            now,
        )
        .await;
    }

    /// Adds `link`'s token and mail to `changes`, unless the per-recipient limit says no.
    pub(super) async fn add_link(
        &self,
        changes: &mut Changes,
        link: LinkMail<'_>,
        now: DateTime<Utc>,
    ) {
        if !self.may_mail(link.to, link.mail_purpose).await {
            return;
        }
        let token = OneTimeToken::generate();
        changes.issue_tokens.push(NewOneTimeToken {
            owner: link.owner,
            purpose: link.purpose,
            fingerprint: token.fingerprint(),
            expires_at: now + link.ttl,
            new_email: (link.purpose == TokenPurpose::ChangeEmail)
                .then(|| link.to.as_str().to_owned()),
        });
        changes.mails.push(Mail::with_link(
            link.to.clone(),
            link.mail_purpose,
            LinkTemplates::fill(link.template, token.expose()),
        ));
    }

    /// Applies `changes` with a notice to `to` added, when mail can be sent and the
    /// per-recipient limit allows.
    pub(super) async fn apply_with_notice(
        &self,
        mut changes: Changes,
        to: &EmailAddress,
        purpose: MailPurpose,
    ) -> Result<Applied, AccountStoreError> {
        if self.accounts_policy.mail_enabled && self.may_mail(to, purpose).await {
            changes.mails.push(Mail::notice(to.clone(), purpose));
        }
        self.accounts.apply(changes, self.now()).await
    }

    /// Whether a message of `purpose` may go to `to` now: at most one per recipient and
    /// purpose per `EMAIL_RESEND_INTERVAL_SECONDS`. A limit store that cannot be reached
    /// does not stop mail.
    async fn may_mail(&self, to: &EmailAddress, purpose: MailPurpose) -> bool {
        let Some(limit) = &self.accounts_policy.resend_limit else {
            return true;
        };
        let key = format!("{}|{}", purpose.as_str(), to.key());
        match limit.reserve(&key).await {
            Ok(Reservation::Reserved) => true,
            Ok(Reservation::Full { .. }) => {
                tracing::info!(purpose = purpose.as_str(), "mail not sent: resend limit");
                false
            }
            Err(error) => {
                tracing::warn!(%error, "resend limit not checked");
                true
            }
        }
    }

    /// [`AccountError::MailDisabled`] unless mail can be sent.
    pub(super) fn require_mail(&self) -> Result<(), AccountError> {
        if self.accounts_policy.mail_enabled {
            Ok(())
        } else {
            Err(AccountError::MailDisabled)
        }
    }
}
