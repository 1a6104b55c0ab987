//! `one_time_tokens`: the secrets of mailed links, stored as their SHA-256 only, with the
//! user, the purpose, the expiry and when each was used; and `outbox`: the mails queued in
//! the same transaction as the change that causes them, until a worker delivers them (the
//! body, encrypted, is emptied once sent).

use sea_orm_migration::prelude::*;

use crate::columns::timestamp;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(OneTimeTokens::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OneTimeTokens::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OneTimeTokens::UserId).integer().not_null())
                    .col(
                        ColumnDef::new(OneTimeTokens::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OneTimeTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OneTimeTokens::NewEmail)
                            .string_len(255)
                            .null(),
                    )
                    .col(timestamp(backend, OneTimeTokens::CreatedAt, true))
                    .col(timestamp(backend, OneTimeTokens::ExpiresAt, true))
                    .col(timestamp(backend, OneTimeTokens::UsedAt, false))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_one_time_tokens_user_id")
                            .from(OneTimeTokens::Table, OneTimeTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_one_time_tokens_token_hash")
                    .table(OneTimeTokens::Table)
                    .col(OneTimeTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_one_time_tokens_user_id_purpose")
                    .table(OneTimeTokens::Table)
                    .col(OneTimeTokens::UserId)
                    .col(OneTimeTokens::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Outbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Outbox::Purpose).string_len(32).not_null())
                    .col(ColumnDef::new(Outbox::Payload).text().null())
                    .col(
                        ColumnDef::new(Outbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Outbox::LastError).string_len(500).null())
                    .col(timestamp(backend, Outbox::CreatedAt, true))
                    .col(timestamp(backend, Outbox::NextAttemptAt, true))
                    .col(timestamp(backend, Outbox::LockedUntil, false))
                    .col(timestamp(backend, Outbox::SentAt, false))
                    .col(timestamp(backend, Outbox::FailedAt, false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_next_attempt_at")
                    .table(Outbox::Table)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OneTimeTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OneTimeTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    NewEmail,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Purpose,
    Payload,
    Attempts,
    LastError,
    CreatedAt,
    NextAttemptAt,
    LockedUntil,
    SentAt,
    FailedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
