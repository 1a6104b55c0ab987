//! The HTTP server: where it listens, which origins and proxies it trusts, how long a
//! body and a shutdown may take.

use std::time::Duration;

use super::section::{list, section};
use super::{AppEnv, SettingsError, invalid, positive};
use crate::client_ip::TrustedProxies;

section! {
    /// `HOST`, `PORT`, `WORKERS`, `CORS_ORIGINS`, `TRUSTED_PROXIES`, `CSRF_PROTECTION_ENABLED`,
    /// `REQUEST_BODY_TIMEOUT_SECONDS`, `SHUTDOWN_GRACE_SECONDS`.
    pub struct HttpSection {
        /// Address to listen on.
        host: String = "127.0.0.1".to_owned(),
        /// Port to listen on; 0 picks a free one.
        port: u16 = 8000,
        /// HTTP worker threads; 0 means one per CPU.
        workers: usize = 0,
        /// Allowed CORS origins, comma-separated (credentials, any method and header).
        cors_origins: String = "http://localhost:3000".to_owned(),
        /// Proxies whose forwarding headers name the client: addresses or CIDR networks.
        trusted_proxies: String = String::new(),
        /// The SPEC's CSRF header rule; applies in production and staging only.
        csrf_protection_enabled: bool = true,
        /// How long a request body may take to arrive after its head (then 408).
        request_body_timeout_seconds: u64 = 5,
        /// After SIGTERM/SIGINT, how long requests in flight may take to finish.
        shutdown_grace_seconds: u64 = 30,
    }
}

/// The HTTP settings, checked.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST`.
    pub host: String,
    /// `PORT`.
    pub port: u16,
    /// `WORKERS`, when not 0.
    pub workers: Option<usize>,
    /// `CORS_ORIGINS`.
    pub cors_origins: Vec<String>,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: TrustedProxies,
    /// The CSRF rule is on (production-like environment and `CSRF_PROTECTION_ENABLED`).
    pub csrf: bool,
    /// `Strict-Transport-Security` is sent (production-like environment).
    pub hsts: bool,
    /// `REQUEST_BODY_TIMEOUT_SECONDS`.
    pub body_timeout: Duration,
    /// `SHUTDOWN_GRACE_SECONDS`.
    pub shutdown_grace: Duration,
}

impl HttpConfig {
    /// `HOST:PORT`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl HttpSection {
    /// Checks the section for `env`.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self, env: AppEnv) -> Result<HttpConfig, SettingsError> {
        let cors_origins = list(&self.cors_origins);
        if let Some(origin) = cors_origins.iter().find(|o| o.as_str() == "*") {
            return Err(invalid(
                "CORS_ORIGINS",
                format!("`{origin}` cannot be combined with credentials; list the origins"),
            ));
        }
        Ok(HttpConfig {
            host: self.host.clone(),
            port: self.port,
            workers: (self.workers > 0).then_some(self.workers),
            cors_origins,
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)
                .map_err(|e| invalid("TRUSTED_PROXIES", e))?,
            csrf: env.is_production_like() && self.csrf_protection_enabled,
            hsts: env.is_production_like(),
            body_timeout: Duration::from_secs(positive(
                self.request_body_timeout_seconds,
                "REQUEST_BODY_TIMEOUT_SECONDS",
            )?),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
        })
    }
}
