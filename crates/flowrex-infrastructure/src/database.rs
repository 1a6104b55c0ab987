//! Database URLs and connections.

use std::fmt;
use std::time::Duration;

use anyhow::anyhow;
use flowrex_domain::ports::{MfaStoreError, RepositoryError, SessionStoreError};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, EntityTrait, Select};

use crate::db_error::{is_unavailable, read_retrying};

/// A database URL in the form sea-orm understands (`sqlite://…`, `postgres://…`,
/// `mysql://…`), made from either that form or the original service's SQLAlchemy form.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

/// The URL names a database we do not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported database URL scheme `{0}`: use sqlite://, postgres:// or mysql:// (or the SQLAlchemy forms sqlite+aiosqlite:///, postgresql+asyncpg://)"
)]
pub struct DatabaseUrlError(String);

/// Which backend a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file or in-memory database.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl DatabaseUrl {
    /// Accepts `sqlite://path`, `sqlite::memory:`, `postgres://`, `postgresql://`,
    /// `mysql://`, `mariadb://` and SQLAlchemy's `sqlite[+driver]:///path`,
    /// `postgresql[+driver]://` and `mysql[+driver]://`.
    ///
    /// # Errors
    /// [`DatabaseUrlError`] for any other scheme.
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once(':')
            .ok_or_else(|| DatabaseUrlError(raw.chars().take(20).collect()))?;
        let (dialect, driver) = match scheme.split_once('+') {
            Some((dialect, driver)) => (dialect, Some(driver)),
            None => (scheme, None),
        };
        let url = match dialect.to_ascii_lowercase().as_str() {
            "sqlite" => Self::sqlite(rest, driver.is_some()),
            "postgres" | "postgresql" => format!("postgres:{rest}"),
            "mysql" | "mariadb" => format!("mysql:{rest}"),
            _ => return Err(DatabaseUrlError(scheme.to_owned())),
        };
        Ok(Self(url))
    }

    /// SQLAlchemy writes `sqlite:///relative.db`, `sqlite:////absolute.db` and
    /// `sqlite://` (in memory); sqlx reads what follows `sqlite://` as the path.
    fn sqlite(rest: &str, sqlalchemy: bool) -> String {
        let Some(after_slashes) = rest.strip_prefix("//") else {
            // `sqlite::memory:` or `sqlite:path`: already sqlx's form.
            return format!("sqlite:{rest}");
        };
        let path = if sqlalchemy {
            after_slashes.strip_prefix('/').unwrap_or(after_slashes)
        } else {
            after_slashes
        };
        let (file, query) = path.split_once('?').unwrap_or((path, ""));
        if file.is_empty() || file == ":memory:" {
            return "sqlite::memory:".to_owned();
        }
        match query {
            "" => format!("sqlite://{file}"),
            query => format!("sqlite://{file}?{query}"),
        }
    }

    /// The URL to hand to sea-orm. Contains the password, if any: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Which backend it names.
    pub fn backend(&self) -> Backend {
        if self.0.starts_with("sqlite:") {
            Backend::Sqlite
        } else if self.0.starts_with("postgres:") {
            Backend::Postgres
        } else {
            Backend::MySql
        }
    }

    /// Whether it is an in-memory SQLite database, which lives only as long as its one
    /// connection.
    pub fn is_sqlite_memory(&self) -> bool {
        self.0.starts_with("sqlite::memory:") || self.0.contains("mode=memory")
    }
}

/// Prints the URL with any password replaced, for logs.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return f.write_str(&self.0);
        };
        match rest.split_once('@') {
            Some((credentials, host)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or_default();
                write!(f, "{scheme}://{user}:***@{host}")
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Pool and connection settings.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Where the database is.
    pub url: DatabaseUrl,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a request waits for a connection before failing as unavailable.
    pub acquire_timeout: Duration,
    /// How long an idle connection is kept.
    pub idle_timeout: Option<Duration>,
    /// Ping each connection before handing it out.
    pub test_before_acquire: bool,
    /// Log every statement (the original's `DEBUG` echo).
    pub log_statements: bool,
}

impl DatabaseSettings {
    /// Defaults suited to `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: 10,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(3),
            idle_timeout: Some(Duration::from_secs(600)),
            test_before_acquire: false,
            log_statements: false,
        }
    }
}

/// Opens a connection pool. SQLite files are created when missing and run in WAL mode with
/// a busy timeout, so that concurrent writers wait instead of failing.
///
/// # Errors
/// The driver's error when the database cannot be reached or opened.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.url.expose());
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout)
        .test_before_acquire(settings.test_before_acquire)
        .sqlx_logging(settings.log_statements)
        .sqlx_logging_level(log::LevelFilter::Debug);
    if settings.url.backend() == Backend::Sqlite {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
        if settings.url.is_sqlite_memory() {
            // Each in-memory connection is its own database: keep exactly one, forever.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
    }
    Database::connect(options).await
}

/// A connection pool's figures, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolFigures {
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
}

/// Reads a connection pool's figures (`GET /metrics`), without handing out the pool.
pub trait PoolStats: Send + Sync {
    /// The figures now.
    fn figures(&self) -> PoolFigures;
}

impl PoolStats for DatabaseConnection {
    fn figures(&self) -> PoolFigures {
        use sea_orm::DbBackend;
        let (open, idle) = match self.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = self.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Postgres => {
                let pool = self.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::MySql => {
                let pool = self.get_mysql_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        };
        PoolFigures {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }
}

/// The row a unique key selects, or `None`; retried once on a lost connection
/// ([`read_retrying`]).
///
/// Not sea-orm's `one()`: it appends `LIMIT ?` with the limit as a bound parameter, and
/// SQLite (3.51) re-prepares a statement whose `LIMIT` is a parameter every time the
/// parameter is bound again, statement cache or not. On `GET /me` that re-parse was a
/// quarter of the database thread's CPU (docs/benchmarks.md). A unique key needs no limit.
pub async fn unique_row<E: EntityTrait>(
    select: impl Fn() -> Select<E>,
    db: &DatabaseConnection,
) -> Result<Option<E::Model>, DbErr> {
    read_retrying(|| select().all(db))
        .await
        .map(|rows| rows.into_iter().next())
}

/// Declares `$name`, the translation of a sea-orm error into `$error`, a store error of
/// `Unavailable` and `Unexpected`: lost connections, refused connects and pool timeouts
/// become `Unavailable`, anything else `Unexpected`. (Which unique key a violation names is
/// the caller's business: only the user repository knows that the email keys mean
/// "taken".)
macro_rules! store_error {
    ($(#[$doc:meta])* $vis:vis $name:ident -> $error:ident) => {
        $(#[$doc])*
        $vis fn $name(error: DbErr) -> $error {
            if is_unavailable(&error) {
                $error::Unavailable(anyhow!(error))
            } else {
                $error::Unexpected(anyhow!(error))
            }
        }
    };
}

store_error!(
    /// A sea-orm error as the user repository's error.
    pub repository_error -> RepositoryError
);
store_error!(
    /// A sea-orm error as the session store's error.
    pub session_store_error -> SessionStoreError
);
store_error!(
    /// A sea-orm error as the second-factor store's error.
    pub(crate) mfa_error -> MfaStoreError
);

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(raw: &str) -> String {
        DatabaseUrl::parse(raw)
            .map(|u| u.expose().to_owned())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn sqlalchemy_urls_become_native_ones() {
        let cases = [
            (
                "sqlite+aiosqlite:///./flowrex_dev.db",
                "sqlite://./flowrex_dev.db",
            ),
            (
                "sqlite+aiosqlite:///flowrex_dev.db",
                "sqlite://flowrex_dev.db",
            ),
            (
                "sqlite+aiosqlite:////var/lib/flowrex.db",
                "sqlite:///var/lib/flowrex.db",
            ),
            ("sqlite+aiosqlite:///:memory:", "sqlite::memory:"),
            ("sqlite+aiosqlite://", "sqlite::memory:"),
            (
                "postgresql+asyncpg://u:pw@db:5432/flowrex",
                "postgres://u:pw@db:5432/flowrex",
            ),
            ("postgresql://u@db/flowrex", "postgres://u@db/flowrex"),
            (
                "mysql+aiomysql://root@127.0.0.1/test",
                "mysql://root@127.0.0.1/test",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalized(raw), expected, "{raw}");
        }
    }

    #[test]
    fn native_urls_are_kept() {
        for raw in [
            "sqlite://flowrex_dev.db",
            "sqlite:///tmp/x.db?mode=rwc",
            "sqlite::memory:",
            "postgres://postgres@127.0.0.1:5432/test",
            "mysql://root@127.0.0.1:3306/test",
        ] {
            assert_eq!(normalized(raw), raw);
        }
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(DatabaseUrl::parse("oracle://x").is_err());
        assert!(DatabaseUrl::parse("flowrex.db").is_err());
    }

    #[test]
    fn passwords_are_not_displayed() {
        let url = DatabaseUrl::parse("postgresql+asyncpg://app:s3cret@db/flowrex");
        let shown = url.map(|u| format!("{u} {u:?}")).unwrap_or_default();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://app:***@db/flowrex"), "{shown}");
    }
}
