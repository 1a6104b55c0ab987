//! The database and its pool.

use std::time::Duration;

use flowrex_infrastructure::{DatabaseSettings, DatabaseUrl};
use secrecy::{ExposeSecret, SecretString};

use super::section::section;
use super::{SettingsError, invalid, positive};

/// Where a bare development server keeps its data.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://flowrex_dev.db";

section! {
    /// `DATABASE_URL`, the pool's `DATABASE_*` settings, `DEBUG` (SQL echo) and `AUTO_MIGRATE`.
    pub struct DatabaseSection {
        /// sqlite://, postgres://, mysql:// or the original's SQLAlchemy forms; empty: the
        /// SQLite file `flowrex_dev.db` in the working directory.
        #[serde(
            deserialize_with = "super::section::secret",
            serialize_with = "super::section::redacted_url"
        )]
        database_url: SecretString = SecretString::from(DEFAULT_DATABASE_URL),
        /// Pool size.
        database_max_connections: u32 = 10,
        /// Idle connections kept open.
        database_min_connections: u32 = 1,
        /// How long to wait to connect or for a free connection before answering 503.
        database_acquire_timeout_seconds: u64 = 3,
        /// How long an idle connection is kept; 0 keeps it.
        database_idle_timeout_seconds: u64 = 600,
        /// Ping each connection before handing it out.
        database_test_before_acquire: bool = false,
        /// Log every SQL statement at debug level (the original's SQL echo).
        debug: bool = true,
        /// Apply pending migrations at start-up.
        auto_migrate: bool = true,
    }
}

/// The database, checked.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The pool's settings.
    pub pool: DatabaseSettings,
    /// `AUTO_MIGRATE`.
    pub auto_migrate: bool,
}

impl DatabaseSection {
    /// Checks the section.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first unusable variable.
    pub fn validate(&self) -> Result<DatabaseConfig, SettingsError> {
        let raw = match self.database_url.expose_secret().trim() {
            "" => DEFAULT_DATABASE_URL,
            url => url,
        };
        let url = DatabaseUrl::parse(raw).map_err(|e| invalid("DATABASE_URL", e))?;
        let max_connections = positive(self.database_max_connections, "DATABASE_MAX_CONNECTIONS")?;
        if self.database_min_connections > max_connections {
            return Err(invalid(
                "DATABASE_MIN_CONNECTIONS",
                "must not exceed DATABASE_MAX_CONNECTIONS",
            ));
        }
        let idle = self.database_idle_timeout_seconds;
        Ok(DatabaseConfig {
            pool: DatabaseSettings {
                url,
                max_connections,
                min_connections: self.database_min_connections,
                acquire_timeout: Duration::from_secs(positive(
                    self.database_acquire_timeout_seconds,
                    "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
                )?),
                idle_timeout: (idle > 0).then(|| Duration::from_secs(idle)),
                test_before_acquire: self.database_test_before_acquire,
                log_statements: self.debug,
            },
            auto_migrate: self.auto_migrate,
        })
    }
}
