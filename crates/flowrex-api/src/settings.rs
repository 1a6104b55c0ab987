//! Configuration: built-in defaults < `CONFIG_DIR/default.toml` < `CONFIG_DIR/<APP_ENV>.toml`
//! < `.env` < environment variables, with the SPEC's variable names (case-insensitive).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use flowrex_infrastructure::{DatabaseSettings, DatabaseUrl, JwtClaimsPolicy, JwtKeys};

use crate::client_ip::TrustedProxies;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// The defaults, compiled in so that the binary runs with no `config/` folder beside it.
const BUILT_IN_DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Where a bare development server keeps its data.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://flowrex_dev.db";

/// The deployment environment (`APP_ENV`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEnv {
    /// `development` (the default): secrets may be generated.
    Development,
    /// `production` or `prod`: CSRF rule, JSON logs, secrets required.
    Production,
    /// Anything else (`test`, `staging`, …): secrets required.
    Other(String),
}

impl AppEnv {
    fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "development" => Self::Development,
            "production" | "prod" => Self::Production,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The name of its config file, without `.toml`.
    pub fn name(&self) -> &str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
            Self::Other(name) => name,
        }
    }

    /// Whether this is production.
    pub fn is_production(&self) -> bool {
        *self == Self::Production
    }
}

/// A setting that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required secret is empty outside development.
    #[error("{0} must be set when APP_ENV is not development (APP_ENV={1})")]
    MissingSecret(&'static str, String),
    /// A value of the wrong form.
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        /// The environment variable's name.
        variable: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration file that exists but cannot be read.
    #[error("cannot read the configuration: {0}")]
    Source(#[from] config::ConfigError),
}

/// Everything the service reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `APP_ENV`.
    pub app_env: AppEnv,
    /// `APP_SECRET_KEY` (reserved for signing non-JWT values; generated in development).
    pub app_secret_key: SecretString,
    /// `JWT_SECRET_KEY`.
    pub jwt_secret_key: SecretString,
    /// Names of the secrets that were generated because they were empty (development).
    pub generated_secrets: Vec<&'static str>,
    /// `JWT_ALGORITHM`.
    pub jwt_algorithm: String,
    /// `JWT_PRIVATE_KEY_FILE` (EdDSA, RS256).
    pub jwt_private_key_file: Option<PathBuf>,
    /// `JWT_RETIRED_PUBLIC_KEY_FILES` (comma-separated).
    pub jwt_retired_public_key_files: Vec<PathBuf>,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub access_token_expire_minutes: i64,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`.
    pub refresh_token_expire_days: i64,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_LEEWAY_SECONDS`.
    pub jwt_claims: JwtClaimsPolicy,
    /// `REFRESH_REUSE_GRACE_SECONDS`.
    pub refresh_reuse_grace_seconds: u32,
    /// `SESSION_CLEANUP_INTERVAL_SECONDS` (0: off).
    pub session_cleanup_interval_seconds: u64,
    /// `DATABASE_URL` and the pool settings.
    pub database: DatabaseSettings,
    /// `REDIS_URL`, when set.
    pub redis_url: Option<SecretString>,
    /// `REDIS_KEY_PREFIX`: the start of every key this service writes to Redis.
    pub redis_key_prefix: String,
    /// `REDIS_TIMEOUT_MS`: how long a Redis call may take before the service falls back.
    pub redis_timeout: Duration,
    /// `DEBUG`: log SQL statements (at debug level).
    pub debug: bool,
    /// `CSRF_PROTECTION_ENABLED` (applies in production).
    pub csrf_protection_enabled: bool,
    /// `HOST`.
    pub host: String,
    /// `PORT` (0 picks a free port).
    pub port: u16,
    /// `BCRYPT_COST`.
    pub bcrypt_cost: u32,
    /// `RATE_LIMIT_PER_MINUTE` (0 turns the limit off).
    pub rate_limit_per_minute: u32,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`: failed logins per account and client IP in a
    /// window before further attempts are refused (0: no limit).
    pub login_max_failures_per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`: failed logins per client IP in a window (0: no limit).
    pub login_max_failures_per_ip: u32,
    /// `LOGIN_FAILURE_WINDOW_SECONDS`.
    pub login_failure_window: Duration,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: TrustedProxies,
    /// `CORS_ORIGINS`.
    pub cors_origins: Vec<String>,
    /// `AUTO_MIGRATE`: apply pending migrations at start-up.
    pub auto_migrate: bool,
    /// `WORKERS`: HTTP worker threads (0: one per CPU).
    pub workers: usize,
    /// `SHUTDOWN_GRACE_SECONDS`: how long in-flight requests may finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// `REQUEST_BODY_TIMEOUT_SECONDS`: how long a request body may take to arrive (408).
    pub request_body_timeout: Duration,
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
    /// (default `config`).
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

    /// Reads and validates the settings.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first unusable variable.
    pub fn load(&self) -> Result<Settings, SettingsError> {
        let dotenv = read_dotenv(self.dotenv.as_deref())?;
        let app_env = AppEnv::parse(
            &lookup(&self.env, "app_env")
                .or_else(|| lookup(&dotenv, "app_env"))
                .unwrap_or_default(),
        );
        let mut builder =
            Config::builder().add_source(File::from_str(BUILT_IN_DEFAULTS, FileFormat::Toml));
        if let Some(dir) = &self.config_dir {
            builder = builder
                .add_source(File::from(dir.join("default.toml")).required(false))
                .add_source(
                    File::from(dir.join(format!("{}.toml", app_env.name()))).required(false),
                );
        }
        let config = builder
            .add_source(Environment::default().source(Some(dotenv.into_iter().collect())))
            .add_source(Environment::default().source(Some(self.env.clone().into_iter().collect())))
            .build()?;
        Settings::from_config(&config, app_env)
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

    fn from_config(config: &Config, app_env: AppEnv) -> Result<Self, SettingsError> {
        let mut generated_secrets = Vec::new();
        let mut secret = |name: &'static str| -> Result<SecretString, SettingsError> {
            let value: String = get(config, name)?;
            if !value.trim().is_empty() {
                return Ok(SecretString::from(value));
            }
            if app_env != AppEnv::Development {
                return Err(SettingsError::MissingSecret(
                    name,
                    app_env.name().to_owned(),
                ));
            }
            generated_secrets.push(name);
            Ok(random_secret())
        };
        let app_secret_key = secret("APP_SECRET_KEY")?;
        let jwt_secret_key = secret("JWT_SECRET_KEY")?;

        let raw_url: String = get(config, "DATABASE_URL")?;
        let raw_url = match raw_url.trim() {
            "" => DEFAULT_DATABASE_URL,
            url => url,
        };
        let url = DatabaseUrl::parse(raw_url).map_err(|e| invalid("DATABASE_URL", e))?;
        let idle: u64 = get(config, "DATABASE_IDLE_TIMEOUT_SECONDS")?;
        let debug: bool = get(config, "DEBUG")?;
        let database = DatabaseSettings {
            url,
            max_connections: positive(
                get(config, "DATABASE_MAX_CONNECTIONS")?,
                "DATABASE_MAX_CONNECTIONS",
            )?,
            min_connections: get(config, "DATABASE_MIN_CONNECTIONS")?,
            acquire_timeout: Duration::from_secs(positive(
                get(config, "DATABASE_ACQUIRE_TIMEOUT_SECONDS")?,
                "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
            )?),
            idle_timeout: (idle > 0).then(|| Duration::from_secs(idle)),
            test_before_acquire: get(config, "DATABASE_TEST_BEFORE_ACQUIRE")?,
            log_statements: debug,
        };

        let redis_url: String = get(config, "REDIS_URL")?;
        let cors_origins: String = get(config, "CORS_ORIGINS")?;
        let settings = Self {
            app_secret_key,
            jwt_secret_key,
            generated_secrets,
            jwt_algorithm: get(config, "JWT_ALGORITHM")?,
            jwt_private_key_file: Some(get::<String>(config, "JWT_PRIVATE_KEY_FILE")?)
                .filter(|path| !path.trim().is_empty())
                .map(PathBuf::from),
            jwt_retired_public_key_files: get::<String>(config, "JWT_RETIRED_PUBLIC_KEY_FILES")?
                .split(',')
                .map(str::trim)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
                .collect(),
            access_token_expire_minutes: positive(
                get(config, "ACCESS_TOKEN_EXPIRE_MINUTES")?,
                "ACCESS_TOKEN_EXPIRE_MINUTES",
            )?,
            refresh_token_expire_days: positive(
                get(config, "REFRESH_TOKEN_EXPIRE_DAYS")?,
                "REFRESH_TOKEN_EXPIRE_DAYS",
            )?,
            jwt_claims: JwtClaimsPolicy {
                issuer: get(config, "JWT_ISSUER")?,
                audience: get(config, "JWT_AUDIENCE")?,
                leeway_seconds: get(config, "JWT_LEEWAY_SECONDS")?,
            },
            refresh_reuse_grace_seconds: get(config, "REFRESH_REUSE_GRACE_SECONDS")?,
            session_cleanup_interval_seconds: get(config, "SESSION_CLEANUP_INTERVAL_SECONDS")?,
            database,
            redis_url: (!redis_url.trim().is_empty()).then(|| SecretString::from(redis_url)),
            redis_key_prefix: get(config, "REDIS_KEY_PREFIX")?,
            redis_timeout: Duration::from_millis(positive(
                get(config, "REDIS_TIMEOUT_MS")?,
                "REDIS_TIMEOUT_MS",
            )?),
            debug,
            csrf_protection_enabled: get(config, "CSRF_PROTECTION_ENABLED")?,
            host: get(config, "HOST")?,
            port: get(config, "PORT")?,
            bcrypt_cost: get(config, "BCRYPT_COST")?,
            rate_limit_per_minute: get(config, "RATE_LIMIT_PER_MINUTE")?,
            login_max_failures_per_account: get(config, "LOGIN_MAX_FAILURES_PER_ACCOUNT")?,
            login_max_failures_per_ip: get(config, "LOGIN_MAX_FAILURES_PER_IP")?,
            login_failure_window: Duration::from_secs(positive(
                get(config, "LOGIN_FAILURE_WINDOW_SECONDS")?,
                "LOGIN_FAILURE_WINDOW_SECONDS",
            )?),
            trusted_proxies: TrustedProxies::parse(&get::<String>(config, "TRUSTED_PROXIES")?)
                .map_err(|e| invalid("TRUSTED_PROXIES", e))?,
            cors_origins: cors_origins
                .split(',')
                .map(str::trim)
                .filter(|origin| !origin.is_empty())
                .map(str::to_owned)
                .collect(),
            auto_migrate: get(config, "AUTO_MIGRATE")?,
            workers: get(config, "WORKERS")?,
            shutdown_grace_seconds: get(config, "SHUTDOWN_GRACE_SECONDS")?,
            request_body_timeout: Duration::from_secs(positive(
                get(config, "REQUEST_BODY_TIMEOUT_SECONDS")?,
                "REQUEST_BODY_TIMEOUT_SECONDS",
            )?),
            app_env,
        };
        settings.check()?;
        Ok(settings)
    }

    /// Checks what the types alone do not.
    fn check(&self) -> Result<(), SettingsError> {
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(invalid("BCRYPT_COST", "must be between 4 and 31"));
        }
        if self.access_token_expire_minutes > 60 * 24 * 365 {
            return Err(invalid(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                "must be at most a year",
            ));
        }
        if self.refresh_token_expire_days > 3650 {
            return Err(invalid("REFRESH_TOKEN_EXPIRE_DAYS", "must be at most 3650"));
        }
        if self.database.min_connections > self.database.max_connections {
            return Err(invalid(
                "DATABASE_MIN_CONNECTIONS",
                "must not exceed DATABASE_MAX_CONNECTIONS",
            ));
        }
        if let Some(origin) = self.cors_origins.iter().find(|o| o.as_str() == "*") {
            return Err(invalid(
                "CORS_ORIGINS",
                format!("`{origin}` cannot be combined with credentials; list the origins"),
            ));
        }
        if let Some(url) = &self.redis_url {
            let url = url.expose_secret();
            if url.starts_with("rediss://") {
                return Err(invalid(
                    "REDIS_URL",
                    "TLS (rediss://) is not supported yet; use redis:// (over a private network or a TLS tunnel)",
                ));
            }
            if !(url.starts_with("redis://") || url.starts_with("unix://")) {
                return Err(invalid("REDIS_URL", "must start with redis:// or unix://"));
            }
        }
        if self.jwt_claims.issuer.trim().is_empty() || self.jwt_claims.audience.trim().is_empty() {
            return Err(invalid(
                "JWT_ISSUER",
                "JWT_ISSUER and JWT_AUDIENCE must not be empty",
            ));
        }
        if self.jwt_claims.leeway_seconds > 300 {
            return Err(invalid("JWT_LEEWAY_SECONDS", "must be at most 300"));
        }
        flowrex_infrastructure::JwtTokens::new(
            &self.jwt_algorithm,
            &self.jwt_keys()?,
            &self.jwt_claims,
        )
        .map_err(|e| invalid("JWT_ALGORITHM", e))?;
        Ok(())
    }

    /// The signing keys: the key files when `JWT_PRIVATE_KEY_FILE` is set, the secret
    /// otherwise.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the file variable when a file cannot be read.
    pub fn jwt_keys(&self) -> Result<JwtKeys, SettingsError> {
        let Some(private) = &self.jwt_private_key_file else {
            return Ok(JwtKeys::Secret(self.jwt_secret_key.clone()));
        };
        let read = |variable: &str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| invalid(variable, format!("{}: {e}", path.display())))
        };
        Ok(JwtKeys::KeyPair {
            private_pem: read("JWT_PRIVATE_KEY_FILE", private)?,
            retired_public_pems: self
                .jwt_retired_public_key_files
                .iter()
                .map(|path| read("JWT_RETIRED_PUBLIC_KEY_FILES", path))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Every setting as `(VARIABLE, value)`, secrets and passwords in URLs redacted, for
    /// `flowrex config check`.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let secret = |name: &'static str| {
            if self.generated_secrets.contains(&name) {
                "(generated for this run)".to_owned()
            } else {
                "(set, redacted)".to_owned()
            }
        };
        let files = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        vec![
            ("APP_ENV", self.app_env.name().to_owned()),
            ("APP_SECRET_KEY", secret("APP_SECRET_KEY")),
            ("JWT_SECRET_KEY", secret("JWT_SECRET_KEY")),
            ("JWT_ALGORITHM", self.jwt_algorithm.clone()),
            (
                "JWT_PRIVATE_KEY_FILE",
                self.jwt_private_key_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "JWT_RETIRED_PUBLIC_KEY_FILES",
                files(&self.jwt_retired_public_key_files),
            ),
            ("JWT_ISSUER", self.jwt_claims.issuer.clone()),
            ("JWT_AUDIENCE", self.jwt_claims.audience.clone()),
            (
                "JWT_LEEWAY_SECONDS",
                self.jwt_claims.leeway_seconds.to_string(),
            ),
            (
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                self.access_token_expire_minutes.to_string(),
            ),
            (
                "REFRESH_TOKEN_EXPIRE_DAYS",
                self.refresh_token_expire_days.to_string(),
            ),
            (
                "REFRESH_REUSE_GRACE_SECONDS",
                self.refresh_reuse_grace_seconds.to_string(),
            ),
            (
                "SESSION_CLEANUP_INTERVAL_SECONDS",
                self.session_cleanup_interval_seconds.to_string(),
            ),
            ("DATABASE_URL", self.database.url.to_string()),
            (
                "DATABASE_MAX_CONNECTIONS",
                self.database.max_connections.to_string(),
            ),
            (
                "DATABASE_MIN_CONNECTIONS",
                self.database.min_connections.to_string(),
            ),
            (
                "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
                self.database.acquire_timeout.as_secs().to_string(),
            ),
            (
                "DATABASE_IDLE_TIMEOUT_SECONDS",
                self.database
                    .idle_timeout
                    .map_or(0, |d| d.as_secs())
                    .to_string(),
            ),
            (
                "DATABASE_TEST_BEFORE_ACQUIRE",
                self.database.test_before_acquire.to_string(),
            ),
            ("AUTO_MIGRATE", self.auto_migrate.to_string()),
            (
                "REDIS_URL",
                self.redis_url
                    .as_ref()
                    .map(|url| redact_url(url.expose_secret()))
                    .unwrap_or_default(),
            ),
            ("REDIS_KEY_PREFIX", self.redis_key_prefix.clone()),
            (
                "REDIS_TIMEOUT_MS",
                self.redis_timeout.as_millis().to_string(),
            ),
            ("DEBUG", self.debug.to_string()),
            (
                "CSRF_PROTECTION_ENABLED",
                self.csrf_protection_enabled.to_string(),
            ),
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("WORKERS", self.workers.to_string()),
            (
                "SHUTDOWN_GRACE_SECONDS",
                self.shutdown_grace_seconds.to_string(),
            ),
            (
                "REQUEST_BODY_TIMEOUT_SECONDS",
                self.request_body_timeout.as_secs().to_string(),
            ),
            ("BCRYPT_COST", self.bcrypt_cost.to_string()),
            (
                "RATE_LIMIT_PER_MINUTE",
                self.rate_limit_per_minute.to_string(),
            ),
            (
                "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                self.login_max_failures_per_account.to_string(),
            ),
            (
                "LOGIN_MAX_FAILURES_PER_IP",
                self.login_max_failures_per_ip.to_string(),
            ),
            (
                "LOGIN_FAILURE_WINDOW_SECONDS",
                self.login_failure_window.as_secs().to_string(),
            ),
            ("TRUSTED_PROXIES", self.trusted_proxies.to_string()),
            ("CORS_ORIGINS", self.cors_origins.join(",")),
        ]
    }

    /// `HOST:PORT`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A URL with the password between `:` and `@` replaced.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
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

fn get<T: DeserializeOwned>(config: &Config, variable: &'static str) -> Result<T, SettingsError> {
    config
        .get::<T>(&variable.to_ascii_lowercase())
        .map_err(|e| invalid(variable, strip_key(&e.to_string())))
}

/// config's messages end with "for key `x`"; the variable is named already.
fn strip_key(message: &str) -> String {
    message
        .split(" for key")
        .next()
        .unwrap_or(message)
        .to_owned()
}

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
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        SettingsSources::only(vars.iter().copied()).load()
    }

    #[test]
    fn defaults_are_the_specs() {
        let settings = load(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.app_env, AppEnv::Development);
        assert_eq!(settings.jwt_algorithm, "HS256");
        assert_eq!(settings.access_token_expire_minutes, 30);
        assert_eq!(settings.refresh_token_expire_days, 7);
        assert_eq!(settings.database.url.expose(), "sqlite://flowrex_dev.db");
        assert!(settings.redis_url.is_none());
        assert!(settings.debug && settings.csrf_protection_enabled && settings.auto_migrate);
        assert_eq!(settings.address(), "127.0.0.1:8000");
        assert_eq!(settings.bcrypt_cost, 12);
        assert_eq!(settings.rate_limit_per_minute, 200);
        assert_eq!(settings.cors_origins, ["http://localhost:3000"]);
    }

    #[test]
    fn development_generates_missing_secrets() {
        let settings = load(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.generated_secrets,
            ["APP_SECRET_KEY", "JWT_SECRET_KEY"]
        );
        let jwt = settings.jwt_secret_key.expose_secret();
        assert_eq!(jwt.len(), 64);
        assert!(jwt.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(jwt, settings.app_secret_key.expose_secret());
    }

    #[test]
    fn production_without_a_secret_fails_naming_it() {
        let error = load(&[("APP_ENV", "production"), ("APP_SECRET_KEY", "x")])
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err(
                "JWT_SECRET_KEY must be set when APP_ENV is not development (APP_ENV=production)"
                    .to_owned()
            )
        );
        let prod = load(&[
            ("app_env", "prod"),
            ("jwt_secret_key", "j"),
            ("app_secret_key", "a"),
        ]);
        assert!(matches!(prod, Ok(s) if s.app_env.is_production()));
    }

    #[test]
    fn names_are_case_insensitive_and_values_are_parsed() {
        let settings = load(&[
            ("port", "9001"),
            ("Debug", "false"),
            ("CORS_ORIGINS", "http://a.test, http://b.test"),
            ("DATABASE_URL", "sqlite+aiosqlite:///./x.db"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.port, 9001);
        assert!(!settings.debug);
        assert_eq!(settings.cors_origins, ["http://a.test", "http://b.test"]);
        assert_eq!(settings.database.url.expose(), "sqlite://./x.db");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (vars, variable) in [
            (vec![("PORT", "eighty")], "PORT is invalid"),
            (vec![("BCRYPT_COST", "40")], "BCRYPT_COST is invalid"),
            (
                vec![("DATABASE_URL", "oracle://db")],
                "DATABASE_URL is invalid",
            ),
            (vec![("JWT_ALGORITHM", "RS256")], "JWT_ALGORITHM is invalid"),
            (
                vec![
                    ("JWT_ALGORITHM", "EdDSA"),
                    ("JWT_PRIVATE_KEY_FILE", "/nonexistent.pem"),
                ],
                "JWT_PRIVATE_KEY_FILE is invalid",
            ),
            (
                vec![("ACCESS_TOKEN_EXPIRE_MINUTES", "0")],
                "ACCESS_TOKEN_EXPIRE_MINUTES is invalid",
            ),
            (vec![("CORS_ORIGINS", "*")], "CORS_ORIGINS is invalid"),
            (
                vec![("REDIS_URL", "localhost:6379")],
                "REDIS_URL is invalid",
            ),
        ] {
            let message = load(&vars).map(|_| ()).map_err(|e| e.to_string());
            assert!(
                matches!(&message, Err(m) if m.starts_with(variable)),
                "{vars:?}: {message:?}"
            );
        }
    }

    #[test]
    fn the_description_never_shows_a_secret() {
        let settings = load(&[
            ("JWT_SECRET_KEY", "jwt-very-secret"),
            ("APP_SECRET_KEY", "app-very-secret"),
            ("DATABASE_URL", "postgresql+asyncpg://app:dbpass@db/flowrex"),
            ("REDIS_URL", "redis://:redispass@cache:6379/0"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let text = format!("{:?}", settings.describe());
        for secret in ["jwt-very-secret", "app-very-secret", "dbpass", "redispass"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("postgres://app:***@db/flowrex"), "{text}");
        assert!(text.contains("redis://:***@cache:6379/0"), "{text}");
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("flowrex-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        std::fs::write(
            dir.join("default.toml"),
            "port = 1111\nbcrypt_cost = 5\nrate_limit_per_minute = 7\n",
        )
        .unwrap_or_default();
        std::fs::write(dir.join("test.toml"), "port = 2222\nbcrypt_cost = 6\n").unwrap_or_default();
        std::fs::write(
            dir.join(".env"),
            "PORT=3333\nAPP_ENV=test\nJWT_SECRET_KEY=j\nAPP_SECRET_KEY=a\n",
        )
        .unwrap_or_default();
        let sources = SettingsSources {
            env: HashMap::from([("PORT".to_owned(), "4444".to_owned())]),
            dotenv: Some(dir.join(".env")),
            config_dir: Some(dir.clone()),
        };
        let settings = sources.load().unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_dir_all(&dir).unwrap_or_default();
        assert_eq!(settings.app_env, AppEnv::Other("test".to_owned()));
        assert_eq!(settings.port, 4444, "environment beats .env");
        assert_eq!(settings.bcrypt_cost, 6, "<APP_ENV>.toml beats default.toml");
        assert_eq!(
            settings.rate_limit_per_minute, 7,
            "default.toml beats the built-in defaults"
        );
        assert_eq!(settings.jwt_secret_key.expose_secret(), "j", ".env is read");
    }
}
