//! Mailed links and notices: a link's one-time token and its mail added to a change set,
//! a notice added to a change set, the per-recipient limit, and whether mail can be sent.

use chrono::{DateTime, Utc};

use super::Core;
use crate::ports::{AccountStoreError, Applied, Changes, Reservation};
use crate::{
    EmailAddress, LinkTemplates, Mail, MailPurpose, NewOneTimeToken, OneTimeToken, TokenOwner,
    TokenPurpose,
};

/// A mailed link to add to a change set.
pub(in crate::auth) struct LinkMail<'a> {
    /// Whose token, under which stamp.
    pub(in crate::auth) owner: TokenOwner,
    /// The recipient.
    pub(in crate::auth) to: &'a EmailAddress,
    /// What the token may do.
    pub(in crate::auth) purpose: TokenPurpose,
    /// What the mail says.
    pub(in crate::auth) mail_purpose: MailPurpose,
    /// How long the link works.
    pub(in crate::auth) ttl: chrono::Duration,
    /// Where it points (`{token}` replaced).
    pub(in crate::auth) template: &'a str,
}

impl Core {
    /// Whether mail can be sent: else `refused`.
    pub(in crate::auth) fn require_mail<E>(&self, refused: E) -> Result<(), E> {
        if self.lifecycle.mail_enabled {
            Ok(())
        } else {
            Err(refused)
        }
    }

    /// Adds to `changes` a link of `purpose` to `to` (its token for `owner`, and its mail),
    /// with the lifetime and page the lifecycle's policy gives that purpose.
    pub(in crate::auth) async fn add_link_mail(
        &self,
        changes: &mut Changes,
        owner: TokenOwner,
        to: &EmailAddress,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) {
        let policy = &self.lifecycle;
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
        let link = LinkMail {
            owner,
            to,
            purpose,
            mail_purpose,
            ttl,
            template,
        };
        self.add_link(changes, link, now).await;
    }

    /// Adds `link` to `changes` — unless the per-recipient limit holds it back.
    pub(in crate::auth) async fn add_link(
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

    /// Applies `changes` with a notice of `purpose` to `to` (when mail is on and the
    /// per-recipient limit lets it through).
    pub(in crate::auth) async fn apply_with_notice(
        &self,
        mut changes: Changes,
        to: &EmailAddress,
        purpose: MailPurpose,
    ) -> Result<Applied, AccountStoreError> {
        if self.lifecycle.mail_enabled && self.may_mail(to, purpose).await {
            changes.mails.push(Mail::notice(to.clone(), purpose));
        }
        self.accounts.apply(changes, self.now()).await
    }

    /// Whether the per-recipient limit lets a mail of `purpose` to `to` through (counting
    /// it); a limit store that cannot be reached lets it through.
    pub(in crate::auth) async fn may_mail(&self, to: &EmailAddress, purpose: MailPurpose) -> bool {
        let Some(limit) = &self.lifecycle.resend_limit else {
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
}
