//! Flowrex's schema, owned here alone: one file per migration, applied in order by
//! [`Migrator`]. Run as a CLI with `cargo run -p migration -- up|down|status|fresh`; the
//! server applies pending migrations at start-up unless `AUTO_MIGRATE=false`.

pub use sea_orm_migration::prelude::*;

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
        ]
    }
}
