//! `users`, exactly as the original's Alembic revision 001 made it.

use sea_orm_migration::prelude::*;

use crate::columns::{serial, timestamp, varchar};
use crate::statements::{drop_index, drop_tables, new_table, unique_index};

crate::declare_migration!();

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(Users::Table)
                .col(serial(Users::Id))
                .col(varchar(Users::Email, 255, true))
                .col(varchar(Users::HashedPassword, 255, true))
                .col(varchar(Users::FullName, 255, false))
                .col(flag(Users::IsActive, true))
                .col(flag(Users::IsVerified, false))
                .col(flag(Users::IsSuperuser, false))
                .col(timestamp(backend, Users::CreatedAt, true))
                .col(timestamp(backend, Users::UpdatedAt, true))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index("ix_users_email", Users::Table, [Users::Email]))
        .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_index(manager, "ix_users_email", Users::Table).await?;
    drop_tables(manager, [Users::Table.into_iden()]).await
}

/// `boolean not null default value`.
fn flag(column: Users, value: bool) -> ColumnDef {
    ColumnDef::new(column)
        .boolean()
        .not_null()
        .default(value)
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    HashedPassword,
    FullName,
    IsActive,
    IsVerified,
    IsSuperuser,
    CreatedAt,
    UpdatedAt,
}
