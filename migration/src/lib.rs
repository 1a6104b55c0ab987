//! Flowrex's schema, owned here alone: one file per migration, applied in order by
//! [`Migrator`]. Run as a CLI with `cargo run -p migration -- up|down|status|fresh`; the
//! server applies pending migrations at start-up unless `AUTO_MIGRATE=false`.

pub use sea_orm_migration::prelude::*;

/// Declares a migration module's `Migration`, named after its file, whose `up` and `down`
/// are the module's functions of those names; `in_one_transaction` runs each in one
/// transaction where the backend allows (PostgreSQL, SQLite; MySQL commits each DDL
/// statement anyway).
macro_rules! declare_migration {
    () => {
        $crate::declare_migration!(@with None);
    };
    (in_one_transaction) => {
        $crate::declare_migration!(@with Some(true));
    };
    (@with $transaction:expr) => {
        #[derive(sea_orm_migration::prelude::DeriveMigrationName)]
        pub struct Migration;

        #[async_trait::async_trait]
        impl sea_orm_migration::MigrationTrait for Migration {
            fn use_transaction(&self) -> Option<bool> {
                $transaction
            }

            async fn up(
                &self,
                manager: &sea_orm_migration::SchemaManager,
            ) -> Result<(), sea_orm_migration::DbErr> {
                up(manager).await
            }

            async fn down(
                &self,
                manager: &sea_orm_migration::SchemaManager,
            ) -> Result<(), sea_orm_migration::DbErr> {
                down(manager).await
            }
        }
    };
}
pub(crate) use declare_migration;

pub mod cli;
mod columns;
mod m20261124_000001_create_users;
mod m20261127_000002_add_users_email_key;
mod m20261127_000003_create_sessions;
mod m20261201_000004_make_users_email_key_nullable;
mod m20261201_000005_drop_sessions_family_id;
mod m20261201_000006_create_one_time_tokens_and_outbox;
mod m20261201_000007_add_users_last_login_at;
mod m20261201_000008_create_audit_events;
mod m20261201_000009_create_second_factors;
mod m20261201_000010_create_passkeys;
mod m20261207_000011_add_security_stamps;
mod m20261207_000012_create_identities;
mod m20261207_000013_create_account_events;
mod m20261207_000014_create_email_logins;
mod statements;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_users::Migration),
            Box::new(m20261127_000002_add_users_email_key::Migration),
            Box::new(m20261127_000003_create_sessions::Migration),
            Box::new(m20261201_000004_make_users_email_key_nullable::Migration),
            Box::new(m20261201_000005_drop_sessions_family_id::Migration),
            Box::new(m20261201_000006_create_one_time_tokens_and_outbox::Migration),
            Box::new(m20261201_000007_add_users_last_login_at::Migration),
            Box::new(m20261201_000008_create_audit_events::Migration),
            Box::new(m20261201_000009_create_second_factors::Migration),
            Box::new(m20261201_000010_create_passkeys::Migration),
            Box::new(m20261207_000011_add_security_stamps::Migration),
            Box::new(m20261207_000012_create_identities::Migration),
            Box::new(m20261207_000013_create_account_events::Migration),
            Box::new(m20261207_000014_create_email_logins::Migration),
        ]
    }
}
