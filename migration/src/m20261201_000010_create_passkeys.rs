//! Passkeys. `passkeys`: each user's WebAuthn credentials — the credential id (unique by
//! its SHA-256, so one authenticator's credential belongs to one account), the relying party's record
//! (public key, signature counter), a name, and when it was registered and last used;
//! `webauthn_ceremonies`: the server-side state of a registration or sign-in between its
//! start and its finish, by the SHA-256 of its ceremony id, single use, with an expiry.

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
                    .table(Passkeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Passkeys::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Passkeys::UserId).integer().not_null())
                    .col(ColumnDef::new(Passkeys::Name).string_len(64).not_null())
                    // base64url of up to 1023 bytes: too long for an index on MySQL, so
                    // the unique key is its SHA-256 (which also compares case-exactly).
                    .col(ColumnDef::new(Passkeys::CredentialId).text().not_null())
                    .col(
                        ColumnDef::new(Passkeys::CredentialHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Passkeys::Credential).text().not_null())
                    .col(timestamp(backend, Passkeys::CreatedAt, true))
                    .col(timestamp(backend, Passkeys::LastUsedAt, false))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkeys_user_id")
                            .from(Passkeys::Table, Passkeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_passkeys_credential_hash")
                    .table(Passkeys::Table)
                    .col(Passkeys::CredentialHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_passkeys_user_id")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebauthnCeremonies::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(WebauthnCeremonies::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebauthnCeremonies::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebauthnCeremonies::UserId).integer().null())
                    .col(ColumnDef::new(WebauthnCeremonies::State).text().not_null())
                    .col(timestamp(backend, WebauthnCeremonies::CreatedAt, true))
                    .col(timestamp(backend, WebauthnCeremonies::ExpiresAt, true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webauthn_ceremonies_expires_at")
                    .table(WebauthnCeremonies::Table)
                    .col(WebauthnCeremonies::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebauthnCeremonies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Passkeys::Table).to_owned())
            .await
    }
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

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
