//! Mail transports: SMTP (`lettre`: STARTTLS or implicit TLS with rustls, pooled
//! connections), and the log (development without `SMTP_URL`: every message, link
//! included, is written to the log so that a newcomer can click through). Both render the
//! message from its templates: text and HTML files compiled into the binary, each
//! replaceable by a file of the same name in `MAIL_TEMPLATES_DIR`.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use flowrex_domain::ports::{DeliveryError, MailTransport};
use flowrex_domain::{Mail, MailPurpose};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;

/// The built-in templates: `<purpose>.txt` (a `Subject:` line, a blank line, the text) and
/// `<purpose>.html`.
const TEMPLATES: [(&str, &str); 38] = [
    (
        "verify_email.txt",
        include_str!("mail/templates/verify_email.txt"),
    ),
    (
        "verify_email.html",
        include_str!("mail/templates/verify_email.html"),
    ),
    (
        "reset_password.txt",
        include_str!("mail/templates/reset_password.txt"),
    ),
    (
        "reset_password.html",
        include_str!("mail/templates/reset_password.html"),
    ),
    (
        "password_reset.txt",
        include_str!("mail/templates/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("mail/templates/password_reset.html"),
    ),
    (
        "password_changed.txt",
        include_str!("mail/templates/password_changed.txt"),
    ),
    (
        "password_changed.html",
        include_str!("mail/templates/password_changed.html"),
    ),
    (
        "confirm_email_change.txt",
        include_str!("mail/templates/confirm_email_change.txt"),
    ),
    (
        "confirm_email_change.html",
        include_str!("mail/templates/confirm_email_change.html"),
    ),
    (
        "email_change_requested.txt",
        include_str!("mail/templates/email_change_requested.txt"),
    ),
    (
        "email_change_requested.html",
        include_str!("mail/templates/email_change_requested.html"),
    ),
    (
        "account_deleted.txt",
        include_str!("mail/templates/account_deleted.txt"),
    ),
    (
        "account_deleted.html",
        include_str!("mail/templates/account_deleted.html"),
    ),
    (
        "invitation.txt",
        include_str!("mail/templates/invitation.txt"),
    ),
    (
        "invitation.html",
        include_str!("mail/templates/invitation.html"),
    ),
    (
        "mfa_enabled.txt",
        include_str!("mail/templates/mfa_enabled.txt"),
    ),
    (
        "mfa_enabled.html",
        include_str!("mail/templates/mfa_enabled.html"),
    ),
    (
        "mfa_disabled.txt",
        include_str!("mail/templates/mfa_disabled.txt"),
    ),
    (
        "mfa_disabled.html",
        include_str!("mail/templates/mfa_disabled.html"),
    ),
    (
        "recovery_code_used.txt",
        include_str!("mail/templates/recovery_code_used.txt"),
    ),
    (
        "recovery_code_used.html",
        include_str!("mail/templates/recovery_code_used.html"),
    ),
    (
        "passkey_added.txt",
        include_str!("mail/templates/passkey_added.txt"),
    ),
    (
        "passkey_added.html",
        include_str!("mail/templates/passkey_added.html"),
    ),
    (
        "identity_linked.txt",
        include_str!("mail/templates/identity_linked.txt"),
    ),
    (
        "identity_linked.html",
        include_str!("mail/templates/identity_linked.html"),
    ),
    (
        "identity_unlinked.txt",
        include_str!("mail/templates/identity_unlinked.txt"),
    ),
    (
        "identity_unlinked.html",
        include_str!("mail/templates/identity_unlinked.html"),
    ),
    (
        "passkey_removed.txt",
        include_str!("mail/templates/passkey_removed.txt"),
    ),
    (
        "passkey_removed.html",
        include_str!("mail/templates/passkey_removed.html"),
    ),
    (
        "sign_in_methods_removed.txt",
        include_str!("mail/templates/sign_in_methods_removed.txt"),
    ),
    (
        "sign_in_methods_removed.html",
        include_str!("mail/templates/sign_in_methods_removed.html"),
    ),
    (
        "password_breached.txt",
        include_str!("mail/templates/password_breached.txt"),
    ),
    (
        "password_breached.html",
        include_str!("mail/templates/password_breached.html"),
    ),
    (
        "email_login.txt",
        include_str!("mail/templates/email_login.txt"),
    ),
    (
        "email_login.html",
        include_str!("mail/templates/email_login.html"),
    ),
    (
        "webhook_disabled.txt",
        include_str!("mail/templates/webhook_disabled.txt"),
    ),
    (
        "webhook_disabled.html",
        include_str!("mail/templates/webhook_disabled.html"),
    ),
];

/// The mail settings cannot work.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    /// `MAIL_FROM` is not a mailbox.
    #[error("not a mailbox such as `Flowrex <no-reply@example.com>`: {0}")]
    From(String),
    /// `SMTP_URL` is not one lettre understands.
    #[error("SMTP_URL is not an SMTP URL: {0}")]
    Url(String),
    /// A template (built in or from `MAIL_TEMPLATES_DIR`) does not parse or read.
    #[error("mail template {0}: {1}")]
    Template(String, String),
}

/// How long each kind of link works, as the messages say it ("24 hours").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLifetimes {
    /// Verification links.
    pub verify_email: String,
    /// Password-reset links.
    pub reset_password: String,
    /// Email-change links.
    pub confirm_email_change: String,
    /// Sign-in links and codes.
    pub email_login: String,
}

/// A message, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Renders messages from the templates.
pub struct MailRenderer {
    templates: Environment<'static>,
    lifetimes: LinkLifetimes,
}

impl MailRenderer {
    /// The built-in templates, each replaced by `<name>` in `overrides` when that file
    /// exists.
    ///
    /// # Errors
    /// [`MailConfigError::Template`] for a template that does not read or parse.
    pub fn new(
        overrides: Option<&Path>,
        lifetimes: LinkLifetimes,
    ) -> Result<Self, MailConfigError> {
        let mut templates = Environment::new();
        for (name, built_in) in TEMPLATES {
            let source = match overrides
                .map(|dir| dir.join(name))
                .filter(|path| path.is_file())
            {
                Some(path) => std::fs::read_to_string(&path).map_err(|e| {
                    MailConfigError::Template(path.display().to_string(), e.to_string())
                })?,
                None => built_in.to_owned(),
            };
            templates
                .add_template_owned(name, source)
                .map_err(|e| MailConfigError::Template(name.to_owned(), e.to_string()))?;
        }
        Ok(Self {
            templates,
            lifetimes,
        })
    }

    /// `mail`, rendered.
    ///
    /// # Errors
    /// minijinja's error for a template that fails to render.
    pub fn render(&self, mail: &Mail) -> Result<Rendered, minijinja::Error> {
        let valid_for = match mail.purpose {
            MailPurpose::VerifyEmail => self.lifetimes.verify_email.as_str(),
            MailPurpose::ResetPassword => self.lifetimes.reset_password.as_str(),
            MailPurpose::ConfirmEmailChange => self.lifetimes.confirm_email_change.as_str(),
            MailPurpose::Invitation => "7 days",
            MailPurpose::EmailLogin => self.lifetimes.email_login.as_str(),
            _ => "",
        };
        let context = minijinja::context! {
            to => mail.to.as_str(),
            link => mail.link.as_deref().unwrap_or_default(),
            new_email => mail.new_email.as_deref().unwrap_or_default(),
            valid_for => valid_for,
            code => mail.code.as_deref().unwrap_or_default(),
        };
        let name = mail.purpose.as_str();
        let text = self
            .templates
            .get_template(&format!("{name}.txt"))?
            .render(&context)?;
        let html = self
            .templates
            .get_template(&format!("{name}.html"))?
            .render(&context)?;
        let (subject, body) = match text.split_once('\n') {
            Some((first, rest)) if first.starts_with("Subject:") => (
                first.trim_start_matches("Subject:").trim().to_owned(),
                rest.trim_start_matches('\n').to_owned(),
            ),
            _ => (name.replace('_', " "), text),
        };
        Ok(Rendered {
            subject,
            text: body,
            html,
        })
    }
}

/// Delivery through an SMTP server (`SMTP_URL` in lettre's form:
/// `smtp://user:pass@host:587?tls=required`, `smtps://host:465`, `smtp://127.0.0.1:2525`).
pub struct SmtpTransport {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    renderer: Arc<MailRenderer>,
}

impl SmtpTransport {
    /// A pooled transport to `url`, sending as `from`.
    ///
    /// # Errors
    /// [`MailConfigError`] for a URL or a sender that cannot work.
    pub fn new(
        url: &str,
        from: &str,
        renderer: Arc<MailRenderer>,
    ) -> Result<Self, MailConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self {
            transport,
            from: from
                .parse()
                .map_err(|e: lettre::address::AddressError| MailConfigError::From(e.to_string()))?,
            renderer,
        })
    }
}

/// `SMTP_URL` as lettre reads it, checked (for start-up).
///
/// # Errors
/// [`MailConfigError::Url`].
pub fn check_smtp_url(url: &str) -> Result<(), MailConfigError> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| MailConfigError::Url(e.to_string()))
}

/// `MAIL_FROM` as a mailbox, checked (for start-up).
///
/// # Errors
/// [`MailConfigError::From`].
pub fn check_from(from: &str) -> Result<(), MailConfigError> {
    from.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| MailConfigError::From(e.to_string()))
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        let rendered = self
            .renderer
            .render(mail)
            .map_err(|e| DeliveryError::Permanent(anyhow!(e)))?;
        let to: Mailbox = mail
            .to
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| DeliveryError::Permanent(anyhow!(e)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| DeliveryError::Permanent(anyhow!(e)))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(DeliveryError::Permanent(anyhow!(error))),
            Err(error) => Err(DeliveryError::Transient(anyhow!(error))),
        }
    }
}

/// Development without `SMTP_URL`: every message, with its link, goes to the log (target
/// `flowrex::mail`) instead of a mail server.
pub struct LogTransport {
    renderer: Arc<MailRenderer>,
}

impl LogTransport {
    /// Logs what `renderer` makes of each message.
    pub fn new(renderer: Arc<MailRenderer>) -> Self {
        Self { renderer }
    }
}

#[async_trait]
impl MailTransport for LogTransport {
    async fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        let rendered = self
            .renderer
            .render(mail)
            .map_err(|e| DeliveryError::Permanent(anyhow!(e)))?;
        tracing::info!(
            target: "flowrex::mail",
            to = mail.to.as_str(),
            subject = rendered.subject,
            "development mail (SMTP_URL is not set):\n{}",
            rendered.text
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
