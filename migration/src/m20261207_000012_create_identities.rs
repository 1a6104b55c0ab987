//! Sign-in with outside providers. `identities`: a provider's account linked to a user,
//! unique by provider and subject (the provider's stable key, never the address; compared
//! exactly, also on MySQL/MariaDB), with the
//! address it last reported and when it was linked and last used; `federation_flows`: a
//! flow between its start and its exchange — the SHA-256 of its `state` and of the
//! browser's cookie, where it returns to, the front end's own PKCE challenge, the user who
//! links (under their stamp), and once the provider answered, the SHA-256 of the one-time
//! exchange code, whom it signs in and under which stamp; each part single use, with an
//! expiry. `mfa_challenges.first_method`: how a login's first half was proven (`pwd`, or
//! `fed` for a provider), `not null default 'pwd'`, so that rows from before are
//! password logins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::columns::{big_serial, text, timestamp, user_id, varchar};
use crate::statements::{
    add_column, create_indexes, drop_column, drop_tables, index, new_table, owned_by_user,
    unique_index,
};

crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(Identities::Table)
                .col(big_serial(Identities::Id))
                .col(user_id(Identities::UserId, true))
                .col(exact(backend, varchar(Identities::Provider, 32, true)))
                .col(exact(backend, varchar(Identities::Subject, 255, true)))
                .col(varchar(Identities::Email, 255, false))
                .col(timestamp(backend, Identities::CreatedAt, true))
                .col(timestamp(backend, Identities::LastLoginAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_identities_user_id",
                    Identities::Table,
                    Identities::UserId,
                ))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            unique_index(
                "ix_identities_provider_subject",
                Identities::Table,
                [Identities::Provider, Identities::Subject],
            ),
            index(
                "ix_identities_user_id",
                Identities::Table,
                [Identities::UserId],
            ),
        ],
    )
    .await?;
    manager
        .create_table(
            new_table(FederationFlows::Table)
                .col(big_serial(FederationFlows::Id))
                .col(varchar(FederationFlows::StateHash, 64, true))
                .col(varchar(FederationFlows::BrowserHash, 64, true))
                .col(varchar(FederationFlows::Provider, 32, true))
                .col(text(FederationFlows::ReturnTo, true))
                .col(varchar(FederationFlows::ClientChallenge, 128, false))
                .col(user_id(FederationFlows::LinkUserId, false))
                .col(
                    ColumnDef::new(FederationFlows::LinkStamp)
                        .big_integer()
                        .null(),
                )
                .col(timestamp(backend, FederationFlows::CreatedAt, true))
                .col(timestamp(backend, FederationFlows::ExpiresAt, true))
                .col(timestamp(backend, FederationFlows::StateUsedAt, false))
                .col(varchar(FederationFlows::CodeHash, 64, false))
                .col(user_id(FederationFlows::UserId, false))
                .col(ColumnDef::new(FederationFlows::Stamp).big_integer().null())
                .col(timestamp(backend, FederationFlows::CodeExpiresAt, false))
                .col(timestamp(backend, FederationFlows::CodeUsedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_federation_flows_link_user_id",
                    FederationFlows::Table,
                    FederationFlows::LinkUserId,
                ))
                .foreign_key(&mut owned_by_user(
                    "fk_federation_flows_user_id",
                    FederationFlows::Table,
                    FederationFlows::UserId,
                ))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            unique_index(
                "ix_federation_flows_state_hash",
                FederationFlows::Table,
                [FederationFlows::StateHash],
            ),
            unique_index(
                "ix_federation_flows_code_hash",
                FederationFlows::Table,
                [FederationFlows::CodeHash],
            ),
            index(
                "ix_federation_flows_expires_at",
                FederationFlows::Table,
                [FederationFlows::ExpiresAt],
            ),
        ],
    )
    .await?;
    add_column(
        manager,
        MfaChallenges::Table,
        ColumnDef::new(MfaChallenges::FirstMethod)
            .string_len(16)
            .not_null()
            .default("pwd")
            .to_owned(),
    )
    .await
}

/// `column` compared exactly on MySQL/MariaDB too, whose default collations ignore case,
/// accents and trailing spaces: a provider's subject `Alice` is not `alice`.
fn exact(backend: DbBackend, mut column: ColumnDef) -> ColumnDef {
    if backend == DbBackend::MySql {
        column.extra("COLLATE utf8mb4_bin");
    }
    column
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_column(manager, MfaChallenges::Table, MfaChallenges::FirstMethod).await?;
    drop_tables(
        manager,
        [
            FederationFlows::Table.into_iden(),
            Identities::Table.into_iden(),
        ],
    )
    .await
}

#[derive(DeriveIden)]
enum Identities {
    Table,
    Id,
    UserId,
    Provider,
    Subject,
    Email,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum FederationFlows {
    Table,
    Id,
    StateHash,
    BrowserHash,
    Provider,
    ReturnTo,
    ClientChallenge,
    LinkUserId,
    LinkStamp,
    CreatedAt,
    ExpiresAt,
    StateUsedAt,
    CodeHash,
    UserId,
    Stamp,
    CodeExpiresAt,
    CodeUsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    FirstMethod,
}
