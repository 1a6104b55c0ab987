//! `sessions.family_id` goes: it always held the session's own id (the token family of a
//! login is its session, whose refresh token rotates in place), so it said nothing `id`
//! does not. `down` brings it back, filled with each row's id.

use sea_orm_migration::prelude::*;

use crate::columns::varchar;
use crate::statements::{add_column, drop_column};

crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_column(manager, Sessions::Table, Sessions::FamilyId).await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    add_column(
        manager,
        Sessions::Table,
        varchar(Sessions::FamilyId, 36, true).default("").to_owned(),
    )
    .await?;
    manager
        .exec_stmt(
            Query::update()
                .table(Sessions::Table)
                .value(Sessions::FamilyId, Expr::col(Sessions::Id))
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    FamilyId,
}
