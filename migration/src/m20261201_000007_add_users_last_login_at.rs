//! `users.last_login_at`: when the user last logged in (`NULL` until then, and in rows the
//! original writes, which does not know the column). The administration API shows it.

use sea_orm_migration::prelude::*;

use crate::columns::timestamp;
use crate::statements::{add_column, drop_column};

crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    add_column(
        manager,
        Users::Table,
        timestamp(backend, Users::LastLoginAt, false),
    )
    .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_column(manager, Users::Table, Users::LastLoginAt).await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    LastLoginAt,
}
