//! Configuration, declared once per setting.
//!
//! Sources, each overriding the one before: the defaults declared in the sections below,
//! `CONFIG_DIR/default.toml`, `CONFIG_DIR/<APP_ENV>.toml`, `.env`, environment variables —
//! all with the SPEC's variable names (case-insensitive; lower case in TOML). The flat
//! configuration is read into one typed section per concern ([`http`], [`auth`],
//! [`database`], [`redis`], [`limits`], [`mail`]), each a list of `name: Type = default` lines (see
//! [`section`]); each section is then checked once into the configuration its adapter
//! takes, and the redacted listing of `flowrex config check` is serialized from the same
//! sections. Adding a setting is one line in one section (docs/development.md).

pub mod auth;
pub mod database;
pub mod events;
pub mod http;
pub mod limits;
pub mod mail;
pub mod oauth;
pub mod passwords;
pub mod redis;
pub mod section;
pub mod webauthn;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, Environment, File};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use self::auth::{AuthConfig, AuthSection};
use self::database::{DatabaseConfig, DatabaseSection};
use self::events::{EventsConfig, EventsSection};
use self::http::{HttpConfig, HttpSection};
use self::limits::{LimitsConfig, LimitsSection};
use self::mail::{MailConfig, MailSection};
use self::oauth::{OauthConfig, OauthSection};
use self::passwords::{BreachConfig, PasswordsSection};
use self::redis::{RedisConfig, RedisSection};
use self::section::section;
use self::webauthn::{WebauthnConfig, WebauthnSection};

/// The deployment environment (`APP_ENV`). Only these names are accepted: a typo of
/// `production` must not quietly run without the CSRF rule, HSTS and JSON logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// `development` or `dev` (the default): missing secrets are generated.
    Development,
    /// `test`: secrets required.
    Test,
    /// `staging`: behaves as production (CSRF rule, HSTS, JSON logs); its own TOML file.
    Staging,
    /// `production` or `prod`.
    Production,
}

impl AppEnv {
    /// Parses `APP_ENV` (case-insensitive; empty is development).
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] for any other name.
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "development" | "dev" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            other => Err(invalid(
                "APP_ENV",
                format!(
                    "`{other}` is not an environment: use development, test, staging or production (prod)"
                ),
            )),
        }
    }

    /// The name of its TOML file in `CONFIG_DIR`, without `.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// Production or staging: the CSRF rule, HSTS, JSON logs, a warning on SQLite.
    pub fn is_production_like(self) -> bool {
        matches!(self, Self::Staging | Self::Production)
    }
}

/// A setting that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required secret is empty outside development.
    #[error("{0} must be set when APP_ENV is not development (APP_ENV={1})")]
    MissingSecret(&'static str, &'static str),
    /// A value of the wrong form.
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        /// The environment variable's name.
        variable: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key in a settings file that is no setting (a typo would otherwise be ignored
    /// and its default silently used).
    #[error("{file}: unknown setting `{key}`")]
    UnknownKey {
        /// The file.
        file: String,
        /// The key as the file spells it.
        key: String,
    },
    /// A configuration file that exists but cannot be read.
    #[error("cannot read the configuration: {0}")]
    Source(#[from] ConfigError),
}

/// Every setting's key, section by section.
const KEYS: [&[&str]; 10] = [
    AppSection::KEYS,
    HttpSection::KEYS,
    AuthSection::KEYS,
    DatabaseSection::KEYS,
    RedisSection::KEYS,
    LimitsSection::KEYS,
    MailSection::KEYS,
    WebauthnSection::KEYS,
    OauthSection::KEYS,
    EventsSection::KEYS,
];

/// Refuses a key of the settings file at `path` (if it exists) that is no setting.
fn known_keys_only(path: &Path) -> Result<(), SettingsError> {
    if !path.is_file() {
        return Ok(());
    }
    let keys: HashMap<String, config::Value> = Config::builder()
        .add_source(File::from(path))
        .build()?
        .try_deserialize()?;
    let mut unknown: Vec<&String> = keys
        .keys()
        .filter(|key| {
            let key = key.to_ascii_lowercase();
            !KEYS.iter().any(|section| section.contains(&key.as_str()))
                && !oauth::is_provider_key(&key)
        })
        .collect();
    unknown.sort();
    match unknown.first() {
        Some(key) => Err(SettingsError::UnknownKey {
            file: path.display().to_string(),
            key: (*key).clone(),
        }),
        None => Ok(()),
    }
}

section! {
    /// `APP_ENV` and `APP_SECRET_KEY`.
    pub struct AppSection {
        /// development (dev), test, staging or production (prod).
        app_env: String = "development".to_owned(),
        /// Encrypts secrets at rest; generated in development when empty.
        #[serde(
            deserialize_with = "section::secret",
            serialize_with = "section::redacted"
        )]
        app_secret_key: SecretString = SecretString::from(""),
    }
}

/// Everything the service reads at start-up, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `APP_ENV`.
    pub env: AppEnv,
    /// `APP_SECRET_KEY` (configured or generated).
    pub app_secret_key: SecretString,
    /// The HTTP server.
    pub http: HttpConfig,
    /// Tokens, sessions, hashing.
    pub auth: AuthConfig,
    /// The database.
    pub database: DatabaseConfig,
    /// Redis, when configured.
    pub redis: Option<RedisConfig>,
    /// Request and login limits.
    pub limits: LimitsConfig,
    /// Mail and the account lifecycle.
    pub mail: MailConfig,
    /// Passkeys.
    pub webauthn: WebauthnConfig,
    /// Sign-in with outside providers.
    pub oauth: OauthConfig,
    /// Account events: the stream and webhooks.
    pub events: EventsConfig,
    /// Breached passwords.
    pub breaches: BreachConfig,
    /// The secrets generated because they were empty (development only).
    pub generated_secrets: Vec<&'static str>,
    listing: Vec<(String, String)>,
}

/// Where settings come from. [`SettingsSources::from_process`] is what the binary uses;
/// tests build one from a map so that nothing on the machine leaks in.
#[derive(Debug, Clone, Default)]
pub struct SettingsSources {
    /// Environment variables (names in any case).
    pub env: HashMap<String, String>,
    /// A `.env` file to read, if it exists.
    pub dotenv: Option<PathBuf>,
    /// A folder with `default.toml` and `<APP_ENV>.toml`, if it exists.
    pub config_dir: Option<PathBuf>,
}

impl SettingsSources {
    /// The process environment, `.env` in the working directory and `CONFIG_DIR`
    /// (default `config`; read from the environment only).
    pub fn from_process() -> Self {
        let env: HashMap<String, String> = std::env::vars().collect();
        let config_dir = lookup(&env, "config_dir").unwrap_or_else(|| "config".to_owned());
        Self {
            env,
            dotenv: Some(PathBuf::from(".env")),
            config_dir: Some(PathBuf::from(config_dir)),
        }
    }

    /// Only these variables: no `.env`, no config folder.
    pub fn only<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            env: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            dotenv: None,
            config_dir: None,
        }
    }

    /// Reads and checks the settings.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first unusable variable.
    pub fn load(&self) -> Result<Settings, SettingsError> {
        let dotenv = read_dotenv(self.dotenv.as_deref())?;
        let env = AppEnv::parse(
            &lookup(&self.env, "app_env")
                .or_else(|| lookup(&dotenv, "app_env"))
                .unwrap_or_default(),
        )?;
        let mut builder = Config::builder();
        if let Some(dir) = &self.config_dir {
            for file in [
                dir.join("default.toml"),
                dir.join(format!("{}.toml", env.name())),
            ] {
                known_keys_only(&file)?;
                builder = builder.add_source(File::from(file).required(false));
            }
        }
        let config = builder
            .add_source(Environment::default().source(Some(dotenv.into_iter().collect())))
            .add_source(Environment::default().source(Some(self.env.clone().into_iter().collect())))
            .build()?;
        Settings::from_config(&config, env)
    }
}

impl Settings {
    /// Loads settings the way the binary does.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first unusable variable.
    pub fn load() -> Result<Self, SettingsError> {
        SettingsSources::from_process().load()
    }

    fn from_config(config: &Config, env: AppEnv) -> Result<Self, SettingsError> {
        let app: AppSection = read(config)?;
        let http: HttpSection = read(config)?;
        let auth: AuthSection = read(config)?;
        let database: DatabaseSection = read(config)?;
        let redis: RedisSection = read(config)?;
        let limits: LimitsSection = read(config)?;
        let mail: MailSection = read(config)?;
        let webauthn: WebauthnSection = read(config)?;
        let oauth: OauthSection = read(config)?;
        let events: EventsSection = read(config)?;
        let passwords: PasswordsSection = read(config)?;

        let mut generated_secrets = Vec::new();
        let mut secret = |name: &'static str, value: &SecretString| {
            if !value.expose_secret().trim().is_empty() {
                return Ok(value.clone());
            }
            if env != AppEnv::Development {
                return Err(SettingsError::MissingSecret(name, env.name()));
            }
            generated_secrets.push(name);
            Ok(random_secret())
        };
        let app_secret_key = secret("APP_SECRET_KEY", &app.app_secret_key)?;
        let jwt_secret = secret("JWT_SECRET_KEY", &auth.jwt_secret_key)?;

        let checked = Self {
            http: http.validate(env)?,
            auth: auth.validate(jwt_secret)?,
            database: database.validate()?,
            redis: redis.validate()?,
            limits: limits.validate()?,
            mail: mail.validate(env)?,
            webauthn: webauthn.validate(env)?,
            oauth: oauth
                .validate(|id, field| config.get_string(&format!("oauth_{id}_{field}")).ok())?,
            events: events.validate(env)?,
            breaches: passwords.validate(env)?,
            env,
            app_secret_key,
            generated_secrets,
            listing: Vec::new(),
        };
        let mut listing = Vec::new();
        for section in [
            list_section(&app),
            list_section(&http),
            list_section(&auth),
            list_section(&database),
            list_section(&redis),
            list_section(&limits),
            list_section(&mail),
            list_section(&webauthn),
            list_section(&oauth),
            list_section(&events),
            list_section(&passwords),
        ] {
            listing.extend(section);
        }
        for provider in &checked.oauth.providers {
            listing.extend(oauth::listing(provider));
        }
        // Where a value is normalised on the way in, the listing shows the one in force.
        for (name, value) in &mut listing {
            if checked.generated_secrets.contains(&name.as_str()) {
                "(generated for this run)".clone_into(value);
            }
            match name.as_str() {
                "APP_ENV" => env.name().clone_into(value),
                "DATABASE_URL" => *value = checked.database.pool.url.to_string(),
                _ => {}
            }
        }
        Ok(Self { listing, ..checked })
    }

    /// Every setting as `(VARIABLE, value)` — secrets and passwords in URLs redacted —
    /// section by section, for `flowrex config check`.
    pub fn listing(&self) -> &[(String, String)] {
        &self.listing
    }
}

/// A section read from the flat configuration; a value of the wrong type names its
/// variable.
fn read<T: DeserializeOwned>(config: &Config) -> Result<T, SettingsError> {
    config
        .clone()
        .try_deserialize()
        .map_err(|error| match error {
            ConfigError::Type {
                key: Some(key),
                unexpected,
                expected,
                ..
            } => invalid(
                &key.to_ascii_uppercase(),
                format!("invalid type: {unexpected}, expected {expected}"),
            ),
            other => SettingsError::Source(other),
        })
}

/// A section's settings as listed: its serialized fields, upper-cased, by name.
fn list_section<T: serde::Serialize>(section: &T) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(section) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (name.to_ascii_uppercase(), value)
        })
        .collect()
}

fn lookup(map: &HashMap<String, String>, key: &str) -> Option<String> {
    map.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value.clone())
}

fn read_dotenv(path: Option<&Path>) -> Result<HashMap<String, String>, SettingsError> {
    let Some(path) = path.filter(|p| p.is_file()) else {
        return Ok(HashMap::new());
    };
    let entries = dotenvy::from_path_iter(path).map_err(|e| invalid(".env", e))?;
    entries
        .map(|entry| entry.map_err(|e| invalid(".env", e)))
        .collect()
}

/// `value` if it is above zero.
fn positive<T: PartialOrd + Default>(value: T, variable: &'static str) -> Result<T, SettingsError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(invalid(variable, "must be greater than 0"))
    }
}

fn invalid(variable: &str, reason: impl ToString) -> SettingsError {
    SettingsError::Invalid {
        variable: variable.to_owned(),
        reason: reason.to_string(),
    }
}

/// 32 random bytes as hex, like Python's `secrets.token_hex(32)`.
fn random_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(hex::encode(bytes))
}

#[cfg(test)]
mod tests;
