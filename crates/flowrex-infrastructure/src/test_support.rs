//! Test support (feature `test-support`): a fresh, empty database per test, on SQLite by
//! default or on the server named by `TEST_DATABASE_URL` (PostgreSQL or MySQL/MariaDB);
//! a private SMTP server ([`smtp`]); a webhook receiver ([`webhooks`]); breached-password
//! range files and a range server ([`ranges`]); a spare loopback port ([`spare_port`]) and a wait for
//! a server to listen on one ([`wait_for_port`]), for tests that start servers.
//!
//! Server databases are named `flowrex_t_…`; `.ci/run` drops them after the suite. When
//! `TEST_DATABASE_URL` is set and its server cannot be reached, tests fail: they never fall
//! back to SQLite silently.

mod ports;
pub mod ranges;
pub mod smtp;
pub mod webhooks;

pub use ports::{spare_port, wait_for_port};

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};

use crate::database::{Backend, DatabaseUrl};

/// The variable that selects a database server for tests.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Prefix of every database the tests create on a server.
pub const TEST_DATABASE_PREFIX: &str = "flowrex_t_";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new empty database: a SQLite file inside `dir`, or a new database on the
/// `TEST_DATABASE_URL` server.
///
/// # Errors
/// When the server cannot be reached or the database cannot be created.
pub async fn fresh_database(dir: &Path) -> anyhow::Result<DatabaseUrl> {
    match std::env::var(TEST_DATABASE_URL) {
        Ok(server) if !server.trim().is_empty() => fresh_server_database(&server).await,
        _ => DatabaseUrl::parse(&format!("sqlite://{}", dir.join("flowrex.db").display()))
            .context("temp SQLite URL"),
    }
}

/// A new empty database on the PostgreSQL or MySQL server `server` (an admin URL).
///
/// # Errors
/// When the server cannot be reached or the database cannot be created.
pub async fn fresh_server_database(server: &str) -> anyhow::Result<DatabaseUrl> {
    let admin = DatabaseUrl::parse(server).context("TEST_DATABASE_URL is not a database URL")?;
    let name = format!(
        "{TEST_DATABASE_PREFIX}{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let create = match admin.backend() {
        Backend::Postgres => format!("CREATE DATABASE \"{name}\""),
        Backend::MySql => {
            format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        }
        Backend::Sqlite => {
            anyhow::bail!("TEST_DATABASE_URL must name a PostgreSQL or MySQL server")
        }
    };
    let db = Database::connect(admin.expose())
        .await
        .with_context(|| format!("TEST_DATABASE_URL ({admin}) is set but unreachable"))?;
    db.execute_unprepared(&create)
        .await
        .with_context(|| format!("creating test database {name}"))?;
    db.close().await.context("closing the admin connection")?;
    DatabaseUrl::parse(&with_database(admin.expose(), &name)).context("test database URL")
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or(host_and_path);
    let mut result = format!("{}{host}/{name}", &base[..scheme_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

/// The key tests seal queued mail with.
pub fn test_sealer() -> std::sync::Arc<crate::secret_box::SecretBox> {
    std::sync::Arc::new(crate::secret_box::SecretBox::new(
        &secrecy::SecretString::from("test-app-secret-key"),
        "outbox",
    ))
}

/// The account store over `db`, sealing with [`test_sealer`].
pub fn account_store(db: sea_orm::DatabaseConnection) -> crate::SeaOrmAccountStore {
    crate::SeaOrmAccountStore::new(db, test_sealer())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
