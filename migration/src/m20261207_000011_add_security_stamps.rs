//! Security stamps: `users.security_stamp`, moved on by every credential event, and the stamp
//! each link token (`one_time_tokens.stamp`), sign-in challenge (`mfa_challenges.stamp`)
//! and passkey ceremony (`webauthn_ceremonies.stamp`) was issued under; one is honoured
//! only while its user's stamp is still the same. `bigint not null default 0`, so that rows
//! the original service or plain SQL insert without the column are valid, and everything
//! issued before this migration holds until its user's next credential event.

use sea_orm_migration::prelude::*;

use crate::columns::stamp;
use crate::statements::{add_column, drop_column};

crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    add_column(manager, Users::Table, stamp(Users::SecurityStamp)).await?;
    for table in [
        Issued::OneTimeTokens,
        Issued::MfaChallenges,
        Issued::WebauthnCeremonies,
    ] {
        add_column(manager, table, stamp(Issued::Stamp)).await?;
    }
    Ok(())
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for table in [
        Issued::OneTimeTokens,
        Issued::MfaChallenges,
        Issued::WebauthnCeremonies,
    ] {
        drop_column(manager, table, Issued::Stamp).await?;
    }
    drop_column(manager, Users::Table, Users::SecurityStamp).await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    SecurityStamp,
}

/// The tables of what is issued under a stamp, and their column.
#[derive(DeriveIden, Clone, Copy)]
enum Issued {
    OneTimeTokens,
    MfaChallenges,
    WebauthnCeremonies,
    Stamp,
}
