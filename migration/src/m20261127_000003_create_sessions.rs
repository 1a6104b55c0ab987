//! `sessions`: one row per login. Refresh tokens rotate within their row (the family), and
//! only their SHA-256 is stored, never the token itself.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let timestamp = |column: Sessions, required: bool| {
            let mut column = ColumnDef::new(column);
            match manager.get_database_backend() {
                DbBackend::MySql => column.custom(Alias::new("timestamp(6)")),
                _ => column.timestamp_with_time_zone(),
            };
            if required {
                column.not_null();
            } else {
                column.null();
            }
            column.to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Sessions::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Sessions::UserId).integer().not_null())
                    .col(ColumnDef::new(Sessions::FamilyId).string_len(36).not_null())
                    .col(
                        ColumnDef::new(Sessions::RefreshTokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::PreviousRefreshTokenHash)
                            .string_len(64)
                            .null(),
                    )
                    .col(timestamp(Sessions::RotatedAt, false))
                    .col(timestamp(Sessions::CreatedAt, true))
                    .col(timestamp(Sessions::LastUsedAt, true))
                    .col(timestamp(Sessions::ExpiresAt, true))
                    .col(timestamp(Sessions::RevokedAt, false))
                    .col(
                        ColumnDef::new(Sessions::RevokedReason)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(Sessions::UserAgent).string_len(255).null())
                    .col(ColumnDef::new(Sessions::Ip).string_len(45).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user_id")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_sessions_user_id", Sessions::UserId),
            ("ix_sessions_expires_at", Sessions::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Sessions::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
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

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
