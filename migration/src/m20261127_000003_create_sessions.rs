//! `sessions`: one row per login. Refresh tokens rotate within their row (the family), and
//! only their SHA-256 is stored, never the token itself.

use sea_orm_migration::prelude::*;

use crate::columns::{string_key, timestamp, user_id, varchar};
use crate::statements::{create_indexes, drop_tables, index, new_table, owned_by_user};

crate::declare_migration!();

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(Sessions::Table)
                .col(string_key(Sessions::Id, 36))
                .col(user_id(Sessions::UserId, true))
                .col(varchar(Sessions::FamilyId, 36, true))
                .col(varchar(Sessions::RefreshTokenHash, 64, true))
                .col(varchar(Sessions::PreviousRefreshTokenHash, 64, false))
                .col(timestamp(backend, Sessions::RotatedAt, false))
                .col(timestamp(backend, Sessions::CreatedAt, true))
                .col(timestamp(backend, Sessions::LastUsedAt, true))
                .col(timestamp(backend, Sessions::ExpiresAt, true))
                .col(timestamp(backend, Sessions::RevokedAt, false))
                .col(varchar(Sessions::RevokedReason, 32, false))
                .col(varchar(Sessions::UserAgent, 255, false))
                .col(varchar(Sessions::Ip, 45, false))
                .foreign_key(&mut owned_by_user(
                    "fk_sessions_user_id",
                    Sessions::Table,
                    Sessions::UserId,
                ))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            index("ix_sessions_user_id", Sessions::Table, [Sessions::UserId]),
            index(
                "ix_sessions_expires_at",
                Sessions::Table,
                [Sessions::ExpiresAt],
            ),
        ],
    )
    .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(manager, [Sessions::Table.into_iden()]).await
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    FamilyId,
    RefreshTokenHash,
    PreviousRefreshTokenHash,
    RotatedAt,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
    UserAgent,
    Ip,
}
