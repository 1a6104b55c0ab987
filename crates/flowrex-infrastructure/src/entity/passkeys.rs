//! The `passkeys` table, and its mapping to the domain's [`StoredPasskey`].

use flowrex_domain::UserId;
use flowrex_domain::ports::StoredPasskey;
use sea_orm::entity::prelude::*;

/// One row of `passkeys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    pub name: String,
    /// base64url.
    pub credential_id: String,
    /// SHA-256 of `credential_id`, hex: the unique key.
    #[sea_orm(unique)]
    pub credential_hash: String,
    /// The relying party's record (webauthn-rs JSON).
    pub credential: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
}

/// None declared: the foreign key to `users` (ON DELETE CASCADE) is the migrations', and
/// no query joins through it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The unique index on the credential (its name, and for SQLite its column).
pub(crate) const CREDENTIAL_INDEX: (&str, &str) =
    ("ix_passkeys_credential_hash", "passkeys.credential_hash");

/// `row` as the domain sees it.
pub(crate) fn stored(row: Model) -> StoredPasskey {
    StoredPasskey {
        id: row.id,
        user: UserId::new(i64::from(row.user_id)),
        name: row.name,
        credential_id: row.credential_id,
        credential: row.credential,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}
