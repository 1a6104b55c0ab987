//! The `passkeys` table.

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

/// A row belongs to a user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The row's user.
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}
