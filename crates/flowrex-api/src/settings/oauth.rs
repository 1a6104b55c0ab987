//! Sign-in with outside providers: `OAUTH_PROVIDERS` lists the providers' ids, each
//! configured by the variables `OAUTH_<ID>_<FIELD>` (the id upper-cased, `-` as `_`);
//! `OAUTH_RETURN_URLS` is the front end's allow-list of return addresses. The ids `google`,
//! `microsoft` and `apple` have presets (issuer, name, quirks).

use secrecy::{ExposeSecret, SecretString};

use super::section::section;
use super::{SettingsError, invalid};
use flowrex_domain::{ProviderId, ProviderKind, ProviderRules};
use flowrex_infrastructure::ProviderSettings;

section! {
    /// `OAUTH_PROVIDERS`, `OAUTH_RETURN_URLS`.
    pub struct OauthSection {
        /// Comma-separated provider ids (lower-case letters, digits, `-`); each one's settings
        /// are `OAUTH_<ID>_*`. Empty: no sign-in with outside providers.
        oauth_providers: String = String::new(),
        /// Comma-separated front-end addresses a flow may return to, compared whole.
        oauth_return_urls: String = String::new(),
    }
}

/// The per-provider settings' fields, as `OAUTH_<ID>_<FIELD>` names them (lower case).
pub const PROVIDER_FIELDS: [&str; 11] = [
    "kind",
    "issuer",
    "client_id",
    "client_secret",
    "name",
    "scopes",
    "create_accounts",
    "link_by_verified_email",
    "authorize_url",
    "token_url",
    "api_url",
];

/// Whether `key` (lower case) is a per-provider setting's name, of any provider id.
pub fn is_provider_key(key: &str) -> bool {
    key.strip_prefix("oauth_").is_some_and(|rest| {
        PROVIDER_FIELDS.iter().any(|field| {
            rest.strip_suffix(field)
                .and_then(|id| id.strip_suffix('_'))
                .is_some_and(|id| !id.is_empty())
        })
    })
}

/// GitHub's own addresses, the `github` kind's defaults.
const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_API: &str = "https://api.github.com";

/// The providers and the return addresses, checked.
#[derive(Debug, Clone, Default)]
pub struct OauthConfig {
    /// The providers, in `OAUTH_PROVIDERS` order.
    pub providers: Vec<ProviderSettings>,
    /// `OAUTH_RETURN_URLS`.
    pub return_urls: Vec<String>,
}

/// A preset: issuer, name, quirks.
struct Preset {
    issuer: &'static str,
    name: &'static str,
    form_post: bool,
}

fn preset(id: &str) -> Option<Preset> {
    match id {
        "google" => Some(Preset {
            issuer: "https://accounts.google.com",
            name: "Google",
            form_post: false,
        }),
        "microsoft" => Some(Preset {
            issuer: "https://login.microsoftonline.com/common/v2.0",
            name: "Microsoft",
            form_post: false,
        }),
        "apple" => Some(Preset {
            issuer: "https://appleid.apple.com",
            name: "Apple",
            form_post: true,
        }),
        _ => None,
    }
}

impl OauthSection {
    /// The providers, each read through `field` (`OAUTH_<ID>_<FIELD>`'s value, if set).
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the variable: an id of the wrong shape or listed
    /// twice, an unknown kind, a missing client id or issuer, an address that is no
    /// absolute `http(s)` URL, a flag that is no boolean.
    pub fn validate(
        &self,
        field: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<OauthConfig, SettingsError> {
        let mut providers: Vec<ProviderSettings> = Vec::new();
        for raw in list(&self.oauth_providers) {
            let id = ProviderId::parse(&raw).ok_or_else(|| {
                invalid(
                    "OAUTH_PROVIDERS",
                    format!("`{raw}` is no provider id (lower-case letters, digits, `-`)"),
                )
            })?;
            if id.as_str() == flowrex_domain::auth::EMAIL_PROVIDER {
                return Err(invalid(
                    "OAUTH_PROVIDERS",
                    format!("`{raw}` is reserved for sign-in by email"),
                ));
            }
            if providers.iter().any(|p| p.id == id) {
                return Err(invalid(
                    "OAUTH_PROVIDERS",
                    format!("`{raw}` is listed twice"),
                ));
            }
            providers.push(provider(id, &field)?);
        }
        let return_urls: Vec<String> = list(&self.oauth_return_urls);
        for url in &return_urls {
            absolute_url("OAUTH_RETURN_URLS", url)?;
        }
        if !providers.is_empty() && return_urls.is_empty() {
            return Err(invalid(
                "OAUTH_RETURN_URLS",
                "must name the front end's return address when OAUTH_PROVIDERS is set",
            ));
        }
        Ok(OauthConfig {
            providers,
            return_urls,
        })
    }
}

/// The variable `OAUTH_<ID>_<FIELD>` of `id`.
pub fn variable(id: &ProviderId, field: &str) -> String {
    format!(
        "OAUTH_{}_{}",
        id.as_str().replace('-', "_").to_ascii_uppercase(),
        field.to_ascii_uppercase()
    )
}

fn provider(
    id: ProviderId,
    field: &impl Fn(&str, &str) -> Option<String>,
) -> Result<ProviderSettings, SettingsError> {
    let key = id.as_str().replace('-', "_");
    let get = |name: &str| {
        field(&key, name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let flag = |name: &str, default: bool| match get(name).as_deref() {
        None => Ok(default),
        Some(raw) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(invalid(&variable(&id, name), "must be true or false")),
        },
    };
    let kind = match get("kind") {
        None => ProviderKind::Oidc,
        Some(raw) => ProviderKind::parse(&raw.to_ascii_lowercase()).ok_or_else(|| {
            invalid(
                &variable(&id, "kind"),
                format!("`{raw}`: use oidc or github"),
            )
        })?,
    };
    let preset = preset(id.as_str()).filter(|_| kind == ProviderKind::Oidc);
    let issuer = get("issuer").or_else(|| preset.as_ref().map(|p| p.issuer.to_owned()));
    if kind == ProviderKind::Oidc {
        let issuer = issuer.as_deref().ok_or_else(|| {
            invalid(
                &variable(&id, "issuer"),
                "must be set for an OpenID Connect provider",
            )
        })?;
        absolute_url(&variable(&id, "issuer"), issuer)?;
    }
    let client_id =
        get("client_id").ok_or_else(|| invalid(&variable(&id, "client_id"), "must be set"))?;
    let github_url = |name: &str, default: &str| {
        let url = get(name).unwrap_or_else(|| default.to_owned());
        absolute_url(&variable(&id, name), &url)?;
        Ok::<_, SettingsError>(url.trim_end_matches('/').to_owned())
    };
    let default_scopes = match kind {
        // Apple knows no `profile` scope: its name scope is `name`.
        ProviderKind::Oidc if id.as_str() == "apple" => "openid email name",
        ProviderKind::Oidc => "openid email profile",
        ProviderKind::Github => "read:user user:email",
    };
    Ok(ProviderSettings {
        name: get("name")
            .or_else(|| preset.as_ref().map(|p| p.name.to_owned()))
            .unwrap_or_else(|| id.as_str().to_owned()),
        kind,
        issuer: issuer.filter(|_| kind == ProviderKind::Oidc),
        form_post: preset.as_ref().is_some_and(|p| p.form_post),
        client_id,
        client_secret: SecretString::from(get("client_secret").unwrap_or_default()),
        scopes: get("scopes")
            .unwrap_or_else(|| default_scopes.to_owned())
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        rules: ProviderRules {
            create_accounts: flag("create_accounts", true)?,
            link_by_verified_email: flag("link_by_verified_email", false)?,
        },
        authorize_url: github_url("authorize_url", GITHUB_AUTHORIZE)?,
        token_url: github_url("token_url", GITHUB_TOKEN)?,
        api_url: github_url("api_url", GITHUB_API)?,
        id,
    })
}

/// A provider's settings as `config check` lists them (the secret redacted).
pub fn listing(provider: &ProviderSettings) -> Vec<(String, String)> {
    let secret = if provider.client_secret.expose_secret().is_empty() {
        String::new()
    } else {
        "(redacted)".to_owned()
    };
    let mut rows = vec![
        ("kind", provider.kind.as_str().to_owned()),
        ("name", provider.name.clone()),
        ("client_id", provider.client_id.clone()),
        ("client_secret", secret),
        ("scopes", provider.scopes.join(" ")),
        (
            "create_accounts",
            provider.rules.create_accounts.to_string(),
        ),
        (
            "link_by_verified_email",
            provider.rules.link_by_verified_email.to_string(),
        ),
    ];
    match provider.kind {
        ProviderKind::Oidc => rows.push(("issuer", provider.issuer.clone().unwrap_or_default())),
        ProviderKind::Github => {
            rows.push(("authorize_url", provider.authorize_url.clone()));
            rows.push(("token_url", provider.token_url.clone()));
            rows.push(("api_url", provider.api_url.clone()));
        }
    }
    rows.into_iter()
        .map(|(field, value)| (variable(&provider.id, field), value))
        .collect()
}

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn absolute_url(variable: &str, raw: &str) -> Result<(), SettingsError> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(invalid(
            variable,
            format!("`{raw}` is no absolute http(s) address"),
        )),
    }
}
