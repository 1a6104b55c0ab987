//! `users.email_key`: the case-insensitive, Unicode-normalised form of `email` (as the
//! service's `EmailAddress::key_of` computed it when this shipped), unique, so that `Foo@Example.com` and `foo@example.com` are one
//! account. `email` keeps the address as the user typed it.

use std::collections::BTreeMap;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use unicode_normalization::UnicodeNormalization;

use crate::statements::{
    Users, add_column, drop_column, drop_index, row_id, set_email_keys, unique_index,
};

// In one transaction where the backend allows (PostgreSQL, SQLite), so that a stop
// half-way leaves the table as it was.
crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // Checked before any change, so that a refusal leaves the schema untouched.
    let keys = existing_keys(manager).await?;
    add_column(
        manager,
        Users::Table,
        email_key_column(manager.get_database_backend()),
    )
    .await?;
    set_email_keys(manager, keys).await?;
    if manager.get_database_backend() == DbBackend::MySql {
        // The SPEC's unique index on `email` must not fold accents either: `email_key`
        // decides which addresses are one account.
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE users MODIFY email varchar(255) NOT NULL COLLATE utf8mb4_bin",
            )
            .await?;
    }
    manager
        .create_index(unique_index(
            "ix_users_email_key",
            Users::Table,
            [Users::EmailKey],
        ))
        .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::MySql {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE users MODIFY email varchar(255) NOT NULL")
            .await?;
    }
    drop_index(manager, "ix_users_email_key", Users::Table).await?;
    drop_column(manager, Users::Table, Users::EmailKey).await
}

/// `email_key varchar(255) not null default ''`; on MySQL/MariaDB with a binary collation,
/// since their default ones also fold accents (`josé` = `jose`): the key is already
/// lower-cased and NFC, so an exact comparison is the intended one.
fn email_key_column(backend: DbBackend) -> ColumnDef {
    let mut column = ColumnDef::new(Users::EmailKey);
    column.string_len(255).not_null().default("");
    if backend == DbBackend::MySql {
        column.extra("COLLATE utf8mb4_bin");
    }
    column.to_owned()
}

/// The key of every existing row, computed in Rust (SQL's `LOWER` knows neither Unicode
/// case nor normalisation on every backend). Addresses that differ only by case or Unicode
/// form would become one account: the migration stops and names them instead of guessing.
async fn existing_keys(manager: &SchemaManager<'_>) -> Result<Vec<(i64, String)>, DbErr> {
    let rows = manager
        .get_connection()
        .query_all(
            &Query::select()
                .columns([Users::Id, Users::Email])
                .from(Users::Table)
                .order_by(Users::Id, Order::Asc)
                .to_owned(),
        )
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    let mut owners: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in &rows {
        let id = row_id(row)?;
        let email: String = row.try_get("", "email")?;
        let key = email_key(&email);
        owners.entry(key.clone()).or_default().push(id);
        keys.push((id, key));
    }
    let clashes: Vec<String> = owners
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(key, ids)| format!("{key}: users {ids:?}"))
        .collect();
    if !clashes.is_empty() {
        return Err(DbErr::Migration(format!(
            "these accounts differ only by case or Unicode form of their email and would become one; merge or rename them first: {}",
            clashes.join("; ")
        )));
    }
    Ok(keys)
}

/// The comparison key of an address as the service computed it when this migration
/// shipped: trimmed, NFC, lower-cased. Copied, not imported: a migration must keep doing
/// what it did when it shipped.
fn email_key(address: &str) -> String {
    address.trim().nfc().collect::<String>().to_lowercase()
}
