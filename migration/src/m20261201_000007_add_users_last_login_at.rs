//! `users.last_login_at`: when the user last logged in (`NULL` until then, and in rows the
//! original writes, which does not know the column). The administration API shows it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(Users::LastLoginAt);
        match manager.get_database_backend() {
            // MySQL's TIMESTAMP keeps whole seconds unless given a precision.
            DbBackend::MySql => column.custom(Alias::new("timestamp(6)")),
            _ => column.timestamp_with_time_zone(),
        };
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(column.null().to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::LastLoginAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    LastLoginAt,
}
