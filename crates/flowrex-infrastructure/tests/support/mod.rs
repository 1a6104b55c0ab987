//! What the store contract tests share: a fresh database migrated through a connection of
//! its own (as the server migrates), pools of their own on it, and a user to own what the
//! stores keep.

use chrono::{SubsecRound, Utc};
use flowrex_domain::ports::{AccountStore, Changes};
use flowrex_domain::{EmailAddress, NewUser, PasswordHash, UserId};
use flowrex_infrastructure::database::{self, DatabaseSettings, DatabaseUrl};
use flowrex_infrastructure::test_support;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tempfile::TempDir;

/// A fresh database (SQLite in the directory returned, or on the server named by
/// `TEST_DATABASE_URL`), migrated; the connection that migrated it is closed.
pub async fn migrated() -> (DatabaseUrl, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = test_support::fresh_database(dir.path()).await.unwrap();
    let migrating = pool(&url).await;
    Migrator::up(&migrating, None).await.unwrap();
    migrating.close().await.unwrap();
    (url, dir)
}

/// A pool of its own on `url`, as another instance would have.
pub async fn pool(url: &DatabaseUrl) -> DatabaseConnection {
    database::connect(&DatabaseSettings::new(url.clone()))
        .await
        .unwrap()
}

/// A fresh, migrated database and a pool on it.
#[allow(dead_code)] // each test file compiles this module; not all want a pool at once
pub async fn migrated_pool() -> (DatabaseConnection, TempDir) {
    let (url, dir) = migrated().await;
    (pool(&url).await, dir)
}

/// Inserts an unverified user `email` through the account store, as registration does.
#[allow(dead_code)] // not every test file needs a user
pub async fn insert_user(db: &DatabaseConnection, email: &str) -> UserId {
    let now = Utc::now().trunc_subsecs(6);
    let new = NewUser {
        email: EmailAddress::parse(email).unwrap(),
        password_hash: PasswordHash::new("$2b$04$x".to_owned()),
        full_name: None,
        created_at: now,
        is_superuser: false,
        is_verified: false,
    };
    let changes = Changes {
        insert_user: Some(new),
        ..Changes::default()
    };
    test_support::account_store(db.clone())
        .apply(changes, now)
        .await
        .unwrap()
        .user
        .unwrap()
        .id()
}
