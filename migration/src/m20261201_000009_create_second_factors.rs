//! Second factors. `sessions.amr` and `sessions.aal`: how each session was authenticated
//! (`pwd` and `aal1` for every session before this migration); `totp_factors`: each user's
//! TOTP secret, sealed with `APP_SECRET_KEY`, pending until a code activates it, with the
//! last time step a code was accepted for (a code is never accepted twice);
//! `recovery_codes`: their SHA-256 only, each used at most once; `mfa_challenges`: logins
//! that passed their password and await a code, by the SHA-256 of their `mfa_token`, with a
//! count of tries.

use sea_orm_migration::prelude::*;

use crate::columns::{big_serial, counter, text, timestamp, user_id, varchar};
use crate::statements::{
    add_column, drop_column, drop_tables, index, new_table, owned_by_user, unique_index,
};

crate::declare_migration!();

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    add_column(
        manager,
        Sessions::Table,
        varchar(Sessions::Amr, 64, true).default("pwd").to_owned(),
    )
    .await?;
    add_column(
        manager,
        Sessions::Table,
        varchar(Sessions::Aal, 8, true).default("aal1").to_owned(),
    )
    .await?;
    manager
        .create_table(
            new_table(TotpFactors::Table)
                .col(big_serial(TotpFactors::Id))
                .col(user_id(TotpFactors::UserId, true))
                .col(text(TotpFactors::Secret, true))
                .col(ColumnDef::new(TotpFactors::Active).boolean().not_null())
                .col(
                    ColumnDef::new(TotpFactors::LastUsedStep)
                        .big_integer()
                        .null(),
                )
                .col(timestamp(backend, TotpFactors::CreatedAt, true))
                .col(timestamp(backend, TotpFactors::ActivatedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_totp_factors_user_id",
                    TotpFactors::Table,
                    TotpFactors::UserId,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "ix_totp_factors_user_id",
            TotpFactors::Table,
            [TotpFactors::UserId],
        ))
        .await?;
    manager
        .create_table(
            new_table(RecoveryCodes::Table)
                .col(big_serial(RecoveryCodes::Id))
                .col(user_id(RecoveryCodes::UserId, true))
                .col(varchar(RecoveryCodes::CodeHash, 64, true))
                .col(timestamp(backend, RecoveryCodes::CreatedAt, true))
                .col(timestamp(backend, RecoveryCodes::UsedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_recovery_codes_user_id",
                    RecoveryCodes::Table,
                    RecoveryCodes::UserId,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "ix_recovery_codes_user_id_code_hash",
            RecoveryCodes::Table,
            [RecoveryCodes::UserId, RecoveryCodes::CodeHash],
        ))
        .await?;
    manager
        .create_table(
            new_table(MfaChallenges::Table)
                .col(big_serial(MfaChallenges::Id))
                .col(user_id(MfaChallenges::UserId, true))
                .col(varchar(MfaChallenges::TokenHash, 64, true))
                .col(counter(MfaChallenges::Tries))
                .col(timestamp(backend, MfaChallenges::CreatedAt, true))
                .col(timestamp(backend, MfaChallenges::ExpiresAt, true))
                .col(timestamp(backend, MfaChallenges::UsedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_mfa_challenges_user_id",
                    MfaChallenges::Table,
                    MfaChallenges::UserId,
                ))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "ix_mfa_challenges_token_hash",
            MfaChallenges::Table,
            [MfaChallenges::TokenHash],
        ))
        .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(
        manager,
        [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpFactors::Table.into_iden(),
        ],
    )
    .await?;
    drop_column(manager, Sessions::Table, Sessions::Aal).await?;
    drop_column(manager, Sessions::Table, Sessions::Amr).await
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Amr,
    Aal,
}

#[derive(DeriveIden)]
enum TotpFactors {
    Table,
    Id,
    UserId,
    Secret,
    Active,
    LastUsedStep,
    CreatedAt,
    ActivatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    Id,
    UserId,
    TokenHash,
    Tries,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
