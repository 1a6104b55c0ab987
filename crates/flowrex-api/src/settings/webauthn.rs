//! Passkeys: the WebAuthn relying party's id, name and the origins of the pages that run
//! its ceremonies.

use super::section::section;
use super::{AppEnv, SettingsError};

section! {
    /// `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME`, `WEBAUTHN_ORIGINS`.
    pub struct WebauthnSection {
        /// The relying party id: the domain passkeys are bound to (`localhost`, `example.com`).
        webauthn_rp_id: String = "localhost".to_owned(),
        /// The name authenticators show beside the account.
        webauthn_rp_name: String = "Flowrex".to_owned(),
        /// Comma-separated origins of the pages that register and use passkeys; each host must
        /// be the rp id or below it. Empty: `http://localhost:3000` and `http://localhost:PORT`.
        webauthn_origins: String = String::new(),
    }
}

/// The relying party's settings, checked once the port is known (the default origins name
/// it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnConfig {
    /// `WEBAUTHN_RP_ID`.
    pub rp_id: String,
    /// `WEBAUTHN_RP_NAME`.
    pub rp_name: String,
    /// `WEBAUTHN_ORIGINS`, when set.
    pub origins: Option<Vec<String>>,
}

impl WebauthnSection {
    /// The settings as given (an unusable origin is refused when the relying party is
    /// built, naming `WEBAUTHN_ORIGINS`).
    ///
    /// # Errors
    /// Outside development and test, [`SettingsError::Invalid`] for an origin that is not
    /// a secure context (`https`, or `http` on `localhost`): browsers offer passkeys to
    /// nothing else, so no ceremony could ever complete there.
    pub fn validate(&self, env: AppEnv) -> Result<WebauthnConfig, SettingsError> {
        let origins: Vec<String> = self
            .webauthn_origins
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect();
        if env.is_production_like()
            && let Some(insecure) = origins.iter().find(|origin| !is_secure_context(origin))
        {
            return Err(SettingsError::Invalid {
                variable: "WEBAUTHN_ORIGINS".to_owned(),
                reason: format!(
                    "`{insecure}` is not https: browsers offer passkeys only to https pages (and http://localhost)"
                ),
            });
        }
        Ok(WebauthnConfig {
            rp_id: self.webauthn_rp_id.trim().to_owned(),
            rp_name: self.webauthn_rp_name.trim().to_owned(),
            origins: Some(origins).filter(|o| !o.is_empty()),
        })
    }
}

/// Whether a page at `origin` is a secure context: `https`, or `http` on `localhost` or a
/// name below it, as the URL parser reads it (any case, user info and all). What is no
/// URL is left to the relying party's own check, which names it.
fn is_secure_context(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return true;
    };
    match (url.scheme(), url.host()) {
        ("https", _) => true,
        ("http", Some(url::Host::Domain(host))) => {
            host == "localhost" || host.ends_with(".localhost")
        }
        ("http", _) => false,
        _ => true,
    }
}

impl WebauthnConfig {
    /// The origins in force for a service listening on `port`.
    pub fn origins_for(&self, port: u16) -> Vec<String> {
        self.origins.clone().unwrap_or_else(|| {
            vec![
                "http://localhost:3000".to_owned(),
                format!("http://localhost:{port}"),
            ]
        })
    }
}
