//! The mail the service sends: what each message says (not how it looks — templates belong
//! to the mail adapter), to whom, and the links it carries.

use crate::{EmailAddress, TokenPurpose};

/// Why a message is sent: also the key of the per-recipient resend limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailPurpose {
    /// A link that verifies the address.
    VerifyEmail,
    /// A link that sets a new password.
    ResetPassword,
    /// Notice: the password was reset.
    PasswordReset,
    /// Notice: the password was changed.
    PasswordChanged,
    /// A link, to the new address, that confirms an email change.
    ConfirmEmailChange,
    /// Notice, to the old address: an email change was asked for.
    EmailChangeRequested,
    /// Notice: the account was deleted.
    AccountDeleted,
    /// A link, to a user an administrator created without a password, that sets one.
    Invitation,
    /// Notice: a second factor was turned on.
    MfaEnabled,
    /// Notice: the second factor was turned off.
    MfaDisabled,
    /// Notice: a recovery code was used to sign in.
    RecoveryCodeUsed,
    /// Notice: a passkey was added.
    PasskeyAdded,
    /// Notice: a passkey was removed.
    PasskeyRemoved,
    /// Notice: the first proof of the address removed the sign-in methods someone had
    /// added before it.
    SignInMethodsRemoved,
    /// Notice: an outside provider's account was linked (it signs in to the account).
    IdentityLinked,
    /// Notice: an outside provider's account was unlinked.
    IdentityUnlinked,
    /// Notice, to the superusers: a webhook endpoint was disabled after its deliveries
    /// failed for days.
    WebhookDisabled,
    /// The password that signed in is known from breaches: change it.
    PasswordBreached,
    /// A sign-in link and its one-time code.
    EmailLogin,
}

impl MailPurpose {
    /// As stored and as templates are named.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::ConfirmEmailChange => "confirm_email_change",
            Self::EmailChangeRequested => "email_change_requested",
            Self::AccountDeleted => "account_deleted",
            Self::Invitation => "invitation",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::SignInMethodsRemoved => "sign_in_methods_removed",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::WebhookDisabled => "webhook_disabled",
            Self::PasswordBreached => "password_breached",
            Self::EmailLogin => "email_login",
        }
    }

    /// Every purpose.
    pub const ALL: [Self; 19] = [
        Self::VerifyEmail,
        Self::ResetPassword,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::ConfirmEmailChange,
        Self::EmailChangeRequested,
        Self::AccountDeleted,
        Self::Invitation,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::RecoveryCodeUsed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::SignInMethodsRemoved,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::WebhookDisabled,
        Self::PasswordBreached,
        Self::EmailLogin,
    ];

    /// The purpose stored as [`Self::as_str`], if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == raw)
    }
}

/// One message: its recipient, its purpose and what it must say.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient.
    pub to: EmailAddress,
    /// Why it is sent.
    pub purpose: MailPurpose,
    /// The link to follow, for the purposes that carry one: it holds a one-time token.
    pub link: Option<String>,
    /// The address an email change goes to, for the messages about one.
    pub new_email: Option<String>,
    /// The one-time code a sign-in mail carries beside its link.
    pub code: Option<String>,
}

impl Mail {
    /// A message that is only a notice.
    pub fn notice(to: EmailAddress, purpose: MailPurpose) -> Self {
        Self {
            to,
            purpose,
            link: None,
            new_email: None,
            code: None,
        }
    }

    /// A message carrying `link`.
    pub fn with_link(to: EmailAddress, purpose: MailPurpose, link: String) -> Self {
        Self {
            link: Some(link),
            ..Self::notice(to, purpose)
        }
    }

    /// Whether it holds a secret (a link with a one-time token): then it must be encrypted
    /// wherever it waits to be sent.
    pub fn holds_secret(&self) -> bool {
        self.link.is_some() || self.code.is_some()
    }
}

/// Never prints the link: it holds a one-time token.
impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("purpose", &self.purpose)
            .field("link", &self.link.as_ref().map(|_| "***"))
            .field("new_email", &self.new_email)
            .field("code", &self.code.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The path (without its `/`) of the service's own sign-in-by-email page.
pub const EMAIL_LOGIN_PAGE: &str = "email-login";

/// Where the links of the messages point: templates with `{token}` (the front end's pages,
/// or the service's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplates {
    /// `VERIFY_EMAIL_URL`.
    pub verify_email: String,
    /// `RESET_PASSWORD_URL`.
    pub reset_password: String,
    /// `CONFIRM_EMAIL_CHANGE_URL`.
    pub confirm_email_change: String,
    /// `EMAIL_LOGIN_URL`.
    pub email_login: String,
}

impl LinkTemplates {
    /// The service's own pages under `public_url` (`http://HOST:PORT` by default).
    pub fn served_by(public_url: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        let link = |purpose: TokenPurpose| format!("{base}/{}?token={{token}}", purpose.page());
        Self {
            verify_email: link(TokenPurpose::VerifyEmail),
            reset_password: link(TokenPurpose::ResetPassword),
            confirm_email_change: link(TokenPurpose::ChangeEmail),
            email_login: format!("{base}/{EMAIL_LOGIN_PAGE}?token={{token}}"),
        }
    }

    /// `template` with its `{token}` replaced.
    pub fn fill(template: &str, token: &str) -> String {
        template.replace("{token}", token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_filled_and_never_printed() {
        let links = LinkTemplates::served_by("http://127.0.0.1:8000/");
        let link = LinkTemplates::fill(&links.reset_password, "abc");
        assert_eq!(link, "http://127.0.0.1:8000/reset-password?token=abc");
        let mail = Mail::with_link(
            EmailAddress::parse("a@b.co").unwrap(),
            MailPurpose::ResetPassword,
            link,
        );
        assert!(mail.holds_secret());
        assert!(!format!("{mail:?}").contains("abc"));
        for purpose in MailPurpose::ALL {
            assert_eq!(MailPurpose::parse(purpose.as_str()), Some(purpose));
        }
    }
}
