//! Sign-in by email. `email_logins`: each asked-for sign-in mail — the address it went to,
//! the account and its security stamp then (none when the mail may create the account),
//! the SHA-256 of the link's token and of its six-digit code, the wrong codes tried, the
//! front end to return to, and when it expires or was used. One row answers one sign-in:
//! the link or the code spends it; a newer request replaces the older.

use sea_orm_migration::prelude::*;

use crate::columns::{big_serial, counter, text, timestamp, user_id, varchar};
use crate::statements::{
    create_indexes, drop_tables, index, new_table, owned_by_user, unique_index,
};

crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(EmailLogins::Table)
                .col(big_serial(EmailLogins::Id))
                .col(varchar(EmailLogins::Email, 255, true))
                .col(user_id(EmailLogins::UserId, false))
                .col(ColumnDef::new(EmailLogins::Stamp).big_integer().null())
                .col(varchar(EmailLogins::TokenHash, 64, true))
                .col(varchar(EmailLogins::CodeHash, 64, true))
                .col(counter(EmailLogins::Attempts))
                .col(text(EmailLogins::ReturnTo, false))
                .col(timestamp(backend, EmailLogins::CreatedAt, true))
                .col(timestamp(backend, EmailLogins::ExpiresAt, true))
                .col(timestamp(backend, EmailLogins::UsedAt, false))
                .foreign_key(&mut owned_by_user(
                    "fk_email_logins_user_id",
                    EmailLogins::Table,
                    EmailLogins::UserId,
                ))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            unique_index(
                "ix_email_logins_token_hash",
                EmailLogins::Table,
                [EmailLogins::TokenHash],
            ),
            index(
                "ix_email_logins_email",
                EmailLogins::Table,
                [EmailLogins::Email],
            ),
        ],
    )
    .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(manager, [EmailLogins::Table.into_iden()]).await
}

#[derive(DeriveIden)]
enum EmailLogins {
    Table,
    Id,
    Email,
    UserId,
    Stamp,
    TokenHash,
    CodeHash,
    Attempts,
    ReturnTo,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
