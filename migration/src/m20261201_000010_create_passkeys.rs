//! Passkeys. `passkeys`: each user's WebAuthn credentials — the credential id (unique by
//! its SHA-256, so one authenticator's credential belongs to one account), the relying party's record
//! (public key, signature counter), a name, and when it was registered and last used;
//! `webauthn_ceremonies`: the server-side state of a registration or sign-in between its
//! start and its finish, by the SHA-256 of its ceremony id, single use, with an expiry.

use sea_orm_migration::prelude::*;

use crate::columns::{big_serial, string_key, text, timestamp, user_id, varchar};
use crate::statements::{
    create_indexes, drop_tables, index, new_table, owned_by_user, unique_index,
};

crate::declare_migration!();

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(Passkeys::Table)
                .col(big_serial(Passkeys::Id))
                .col(user_id(Passkeys::UserId, true))
                .col(varchar(Passkeys::Name, 64, true))
                // base64url of up to 1023 bytes: too long for an index on MySQL, so
                // the unique key is its SHA-256 (which also compares case-exactly).
                .col(text(Passkeys::CredentialId, true))
                .col(varchar(Passkeys::CredentialHash, 64, true))
                .col(text(Passkeys::Credential, true))
                .col(timestamp(backend, Passkeys::CreatedAt, true))
                .col(timestamp(backend, Passkeys::LastUsedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_passkeys_user_id",
                    Passkeys::Table,
                    Passkeys::UserId,
                ))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            unique_index(
                "ix_passkeys_credential_hash",
                Passkeys::Table,
                [Passkeys::CredentialHash],
            ),
            index("ix_passkeys_user_id", Passkeys::Table, [Passkeys::UserId]),
        ],
    )
    .await?;
    manager
        .create_table(
            new_table(WebauthnCeremonies::Table)
                .col(string_key(WebauthnCeremonies::Id, 64))
                .col(varchar(WebauthnCeremonies::Kind, 16, true))
                .col(user_id(WebauthnCeremonies::UserId, false))
                .col(text(WebauthnCeremonies::State, true))
                .col(timestamp(backend, WebauthnCeremonies::CreatedAt, true))
                .col(timestamp(backend, WebauthnCeremonies::ExpiresAt, true))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index(
            "ix_webauthn_ceremonies_expires_at",
            WebauthnCeremonies::Table,
            [WebauthnCeremonies::ExpiresAt],
        ))
        .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(
        manager,
        [
            WebauthnCeremonies::Table.into_iden(),
            Passkeys::Table.into_iden(),
        ],
    )
    .await
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    Name,
    CredentialId,
    CredentialHash,
    Credential,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnCeremonies {
    Table,
    Id,
    Kind,
    UserId,
    State,
    CreatedAt,
    ExpiresAt,
}
