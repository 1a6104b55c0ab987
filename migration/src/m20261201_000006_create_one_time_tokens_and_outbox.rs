//! `one_time_tokens`: the secrets of mailed links, stored as their SHA-256 only, with the
//! user, the purpose, the expiry and when each was used; and `outbox`: the mails queued in
//! the same transaction as the change that causes them, until a worker delivers them (the
//! body, encrypted, is emptied once sent).

use sea_orm_migration::prelude::*;

use crate::columns::{big_serial, counter, text, timestamp, user_id, varchar};
use crate::statements::{
    create_indexes, drop_tables, index, new_table, owned_by_user, unique_index,
};

crate::declare_migration!();

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(OneTimeTokens::Table)
                .col(big_serial(OneTimeTokens::Id))
                .col(user_id(OneTimeTokens::UserId, true))
                .col(varchar(OneTimeTokens::Purpose, 32, true))
                .col(varchar(OneTimeTokens::TokenHash, 64, true))
                .col(varchar(OneTimeTokens::NewEmail, 255, false))
                .col(timestamp(backend, OneTimeTokens::CreatedAt, true))
                .col(timestamp(backend, OneTimeTokens::ExpiresAt, true))
                .col(timestamp(backend, OneTimeTokens::UsedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_one_time_tokens_user_id",
                    OneTimeTokens::Table,
                    OneTimeTokens::UserId,
                ))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            unique_index(
                "ix_one_time_tokens_token_hash",
                OneTimeTokens::Table,
                [OneTimeTokens::TokenHash],
            ),
            index(
                "ix_one_time_tokens_user_id_purpose",
                OneTimeTokens::Table,
                [OneTimeTokens::UserId, OneTimeTokens::Purpose],
            ),
        ],
    )
    .await?;
    manager
        .create_table(
            new_table(Outbox::Table)
                .col(big_serial(Outbox::Id))
                .col(varchar(Outbox::Purpose, 32, true))
                .col(text(Outbox::Payload, false))
                .col(counter(Outbox::Attempts))
                .col(varchar(Outbox::LastError, 500, false))
                .col(timestamp(backend, Outbox::CreatedAt, true))
                .col(timestamp(backend, Outbox::NextAttemptAt, true))
                .col(timestamp(backend, Outbox::LockedUntil, false))
                .col(timestamp(backend, Outbox::SentAt, false))
                .col(timestamp(backend, Outbox::FailedAt, false))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "ix_outbox_next_attempt_at",
            Outbox::Table,
            [Outbox::NextAttemptAt],
        ))
        .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(
        manager,
        [Outbox::Table.into_iden(), OneTimeTokens::Table.into_iden()],
    )
    .await
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
