//! `users.email_key` becomes nullable, without a default, so that rows other writers insert
//! with only the SPEC's columns (the original service during a rolling cutover, an import
//! in plain SQL) are valid: a missing key is `NULL`, and the unique index allows any number
//! of those, where `''` allowed one. The service finds such rows by their email in any
//! letter case and fills their key at their first lookup (README, "Upgrading").
//!
//! Rows the original wrote since the key column arrived (`''`) get their key here, computed
//! as the service computes it; one whose key another account already holds is left `NULL`
//! rather than merged.

use std::collections::HashSet;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use unicode_normalization::UnicodeNormalization;

use crate::statements::{Users, row_id, set_email_keys};

// One transaction on PostgreSQL and SQLite (MySQL commits each DDL statement anyway).
crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_unprepared(
                "ALTER TABLE users ALTER COLUMN email_key DROP NOT NULL, \
                 ALTER COLUMN email_key DROP DEFAULT",
            )
            .await?;
        }
        DbBackend::MySql => {
            db.execute_unprepared(
                "ALTER TABLE users MODIFY email_key varchar(255) NULL COLLATE utf8mb4_bin",
            )
            .await?;
        }
        _ => {
            // SQLite cannot change a column's constraints in place; a new column takes
            // the old one's place (no table rebuild, so `sessions`' foreign key is not
            // touched).
            swap_sqlite_column(manager, "varchar(255) NULL", "NULLIF(email_key, '')").await?;
        }
    }
    db.execute_unprepared("UPDATE users SET email_key = NULL WHERE email_key = ''")
        .await?;
    fill_missing_keys(manager, Clash::LeaveNull).await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // The old column needs a key in every row.
    fill_missing_keys(manager, Clash::Refuse).await?;
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_unprepared(
                "ALTER TABLE users ALTER COLUMN email_key SET DEFAULT '', \
                 ALTER COLUMN email_key SET NOT NULL",
            )
            .await?;
        }
        DbBackend::MySql => {
            db.execute_unprepared(
                "ALTER TABLE users MODIFY email_key varchar(255) NOT NULL DEFAULT '' \
                 COLLATE utf8mb4_bin",
            )
            .await?;
        }
        _ => {
            swap_sqlite_column(manager, "varchar(255) NOT NULL DEFAULT ''", "email_key").await?;
        }
    }
    Ok(())
}

/// Replaces SQLite's `email_key` by a column of `definition` holding `value` (an expression
/// over the old column), keeping its name, position among the indexes and unique index.
async fn swap_sqlite_column(
    manager: &SchemaManager<'_>,
    definition: &str,
    value: &str,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in [
        format!("ALTER TABLE users ADD COLUMN email_key_new {definition}"),
        format!("UPDATE users SET email_key_new = {value}"),
        "DROP INDEX ix_users_email_key".to_owned(),
        "ALTER TABLE users DROP COLUMN email_key".to_owned(),
        "ALTER TABLE users RENAME COLUMN email_key_new TO email_key".to_owned(),
        "CREATE UNIQUE INDEX ix_users_email_key ON users (email_key)".to_owned(),
    ] {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// What to do when a computed key is another account's already.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clash {
    /// Leave the row without a key (the service still finds it by its email).
    LeaveNull,
    /// Stop and name the accounts (the old schema has no place for a keyless row).
    Refuse,
}

/// The comparison key of an address as the service computed it when this migration
/// shipped: trimmed, NFC, lower-cased. Copied, not imported: a migration must keep doing
/// what it did when it shipped.
fn email_key(address: &str) -> String {
    address.trim().nfc().collect::<String>().to_lowercase()
}

/// Gives every row without a key the key of its email, unless that key is taken.
async fn fill_missing_keys(manager: &SchemaManager<'_>, clash: Clash) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all(
            &Query::select()
                .columns([Users::Id, Users::Email, Users::EmailKey])
                .from(Users::Table)
                .order_by(Users::Id, Order::Asc)
                .to_owned(),
        )
        .await?;
    let mut taken: HashSet<String> = HashSet::new();
    let mut missing = Vec::new();
    for row in &rows {
        let key: Option<String> = row.try_get("", "email_key")?;
        match key {
            Some(key) => {
                taken.insert(key);
            }
            None => {
                let id = row_id(row)?;
                let email: String = row.try_get("", "email")?;
                missing.push((id, email));
            }
        }
    }
    let mut refused = Vec::new();
    let mut fills = Vec::new();
    for (id, email) in missing {
        let key = email_key(&email);
        if taken.insert(key.clone()) {
            fills.push((id, key));
        } else {
            refused.push(format!("user {id} ({key})"));
        }
    }
    if clash == Clash::Refuse && !refused.is_empty() {
        return Err(DbErr::Migration(format!(
            "these accounts have the email of another account but for case or Unicode form; merge or rename them first: {}",
            refused.join("; ")
        )));
    }
    set_email_keys(manager, fills).await
}
