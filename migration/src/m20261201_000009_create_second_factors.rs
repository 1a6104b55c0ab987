//! Second factors. `sessions.amr` and `sessions.aal`: how each session was authenticated
//! (`pwd` and `aal1` for every session before this migration); `totp_factors`: each user's
//! TOTP secret, sealed with `APP_SECRET_KEY`, pending until a code activates it, with the
//! last time step a code was accepted for (a code is never accepted twice);
//! `recovery_codes`: their SHA-256 only, each used at most once; `mfa_challenges`: logins
//! that passed their password and await a code, by the SHA-256 of their `mfa_token`, with a
//! count of tries.

use sea_orm_migration::prelude::*;

use crate::columns::timestamp;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn owner(table: impl IntoIden, column: impl IntoIden, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // One column per statement: SQLite adds no more at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::Amr)
                            .string_len(64)
                            .not_null()
                            .default("pwd"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::Aal)
                            .string_len(8)
                            .not_null()
                            .default("aal1"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TotpFactors::Table)
                    .if_not_exists()
                    .col(id(TotpFactors::Id))
                    .col(ColumnDef::new(TotpFactors::UserId).integer().not_null())
                    .col(ColumnDef::new(TotpFactors::Secret).text().not_null())
                    .col(ColumnDef::new(TotpFactors::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(TotpFactors::LastUsedStep)
                            .big_integer()
                            .null(),
                    )
                    .col(timestamp(backend, TotpFactors::CreatedAt, true))
                    .col(timestamp(backend, TotpFactors::ActivatedAt, false))
                    .foreign_key(&mut owner(
                        TotpFactors::Table,
                        TotpFactors::UserId,
                        "fk_totp_factors_user_id",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_totp_factors_user_id")
                    .table(TotpFactors::Table)
                    .col(TotpFactors::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .if_not_exists()
                    .col(id(RecoveryCodes::Id))
                    .col(ColumnDef::new(RecoveryCodes::UserId).integer().not_null())
                    .col(
                        ColumnDef::new(RecoveryCodes::CodeHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(timestamp(backend, RecoveryCodes::CreatedAt, true))
                    .col(timestamp(backend, RecoveryCodes::UsedAt, false))
                    .foreign_key(&mut owner(
                        RecoveryCodes::Table,
                        RecoveryCodes::UserId,
                        "fk_recovery_codes_user_id",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_recovery_codes_user_id_code_hash")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .col(RecoveryCodes::CodeHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .if_not_exists()
                    .col(id(MfaChallenges::Id))
                    .col(ColumnDef::new(MfaChallenges::UserId).integer().not_null())
                    .col(
                        ColumnDef::new(MfaChallenges::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MfaChallenges::Tries)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(timestamp(backend, MfaChallenges::CreatedAt, true))
                    .col(timestamp(backend, MfaChallenges::ExpiresAt, true))
                    .col(timestamp(backend, MfaChallenges::UsedAt, false))
                    .foreign_key(&mut owner(
                        MfaChallenges::Table,
                        MfaChallenges::UserId,
                        "fk_mfa_challenges_user_id",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mfa_challenges_token_hash")
                    .table(MfaChallenges::Table)
                    .col(MfaChallenges::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpFactors::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [Sessions::Aal, Sessions::Amr] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
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

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
