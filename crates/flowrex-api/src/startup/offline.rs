//! The adapters built from the settings alone, without connecting to anything: what
//! start-up checks beyond each value, and `flowrex config check` checks the same way.

use std::sync::Arc;

use flowrex_domain::ports::MailTransport;
use flowrex_infrastructure::WebauthnRelyingParty;
use flowrex_infrastructure::mail::{LinkLifetimes, LogTransport, MailRenderer, SmtpTransport};
use secrecy::ExposeSecret;

use crate::settings::Settings;
use crate::settings::mail::{MailConfig, MailMode};

/// Settings that are each valid but cannot work together (a relying party id and its
/// origins, the SMTP URL and `MAIL_FROM`, the mail templates): like a bad value, they stop
/// start-up and `flowrex config check` with exit status 2 and one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct ConfigurationError(anyhow::Error);

impl ConfigurationError {
    fn of(cause: impl Into<anyhow::Error>) -> Self {
        Self(cause.into())
    }

    /// The one in `error`'s chain, if any.
    #[must_use]
    pub fn find(error: &anyhow::Error) -> Option<&Self> {
        error.chain().find_map(|cause| cause.downcast_ref::<Self>())
    }
}

/// Checks what start-up checks of the settings beyond their values, without connecting to
/// anything: the WebAuthn relying party and its origins, the mail transport and templates
/// (`flowrex config check`).
///
/// # Errors
/// The first that cannot work, as start-up would refuse it.
pub fn check_offline(settings: &Settings) -> Result<(), ConfigurationError> {
    relying_party(settings, settings.http.port)?;
    mail_transport(&settings.mail)?;
    Ok(())
}

/// The WebAuthn relying party for pages at the configured origins (by default those of
/// this service on `port` and the front end).
///
/// # Errors
/// When the id is no domain, or an origin cannot work with it.
pub(super) fn relying_party(
    settings: &Settings,
    port: u16,
) -> Result<WebauthnRelyingParty, ConfigurationError> {
    let webauthn = &settings.webauthn;
    WebauthnRelyingParty::new(
        &webauthn.rp_id,
        &webauthn.rp_name,
        &webauthn.origins_for(port),
    )
    .map_err(ConfigurationError::of)
}

/// The transport `mail` asks for: SMTP, the log (development), or none.
///
/// # Errors
/// When `SMTP_URL`, `MAIL_FROM` or a template in `MAIL_TEMPLATES_DIR` cannot work.
pub(super) fn mail_transport(
    mail: &MailConfig,
) -> Result<Option<Arc<dyn MailTransport>>, ConfigurationError> {
    let lifetimes = LinkLifetimes {
        verify_email: spoken(mail.verification_ttl),
        reset_password: spoken(mail.reset_ttl),
        confirm_email_change: spoken(mail.email_change_ttl),
        email_login: spoken(mail.email_login.ttl),
    };
    let renderer = || -> Result<Arc<MailRenderer>, ConfigurationError> {
        MailRenderer::new(mail.templates_dir.as_deref(), lifetimes.clone())
            .map(Arc::new)
            .map_err(ConfigurationError::of)
    };
    Ok(match &mail.mode {
        MailMode::Smtp(url) => Some(Arc::new(
            SmtpTransport::new(url.expose_secret(), &mail.from, renderer()?)
                .map_err(ConfigurationError::of)?,
        )),
        MailMode::Log => Some(Arc::new(LogTransport::new(renderer()?))),
        MailMode::Disabled => None,
    })
}

/// A lifetime as a message says it: "24 hours", "1 hour", "90 minutes".
fn spoken(lifetime: chrono::Duration) -> String {
    let minutes = lifetime.num_minutes();
    let (count, unit) = if minutes % 60 == 0 {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}
