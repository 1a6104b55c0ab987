//! The migration commands, shared by this crate's binary and `flowrex migrate`.

use clap::Subcommand;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{DatabaseConnection, DbErr};

use crate::Migrator;

/// What to do with the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (all, or the next N).
    Up {
        /// How many to apply.
        #[arg(short, long)]
        num: Option<u32>,
    },
    /// Roll back applied migrations (the last one, or the last N).
    Down {
        /// How many to roll back.
        #[arg(short, long, default_value_t = 1)]
        num: u32,
    },
    /// Show which migrations are applied and which are pending.
    Status,
    /// Drop every table, then apply all migrations.
    Fresh,
    /// Roll back all migrations, then apply them again.
    Refresh,
    /// Roll back all migrations.
    Reset,
}

/// Runs `command` against `db`, printing what it did.
///
/// # Errors
/// The database's error when a migration fails.
pub async fn run(db: &DatabaseConnection, command: MigrateCommand) -> Result<(), DbErr> {
    match command {
        MigrateCommand::Up { num } => Migrator::up(db, num).await?,
        MigrateCommand::Down { num } => Migrator::down(db, Some(num)).await?,
        MigrateCommand::Fresh => Migrator::fresh(db).await?,
        MigrateCommand::Refresh => Migrator::refresh(db).await?,
        MigrateCommand::Reset => Migrator::reset(db).await?,
        MigrateCommand::Status => {}
    }
    print_status(db).await
}

async fn print_status(db: &DatabaseConnection) -> Result<(), DbErr> {
    let migrations = Migrator::get_migration_with_status(db).await?;
    for migration in migrations {
        println!(
            "{:<9} {}",
            format!("{:?}", migration.status()),
            migration.name()
        );
    }
    Ok(())
}
