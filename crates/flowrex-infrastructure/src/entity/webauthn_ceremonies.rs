//! The `webauthn_ceremonies` table.

use sea_orm::entity::prelude::*;

/// One row of `webauthn_ceremonies`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_ceremonies")]
pub struct Model {
    /// SHA-256 of the ceremony id, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    pub user_id: Option<i32>,
    /// The relying party's state (webauthn-rs JSON).
    pub state: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// The user's security stamp a registration was begun under (0 for a sign-in).
    pub stamp: i64,
}

/// No relations: a sign-in ceremony belongs to nobody yet.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
