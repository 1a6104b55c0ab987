//! The `totp_factors` table.

use sea_orm::entity::prelude::*;

/// One row of `totp_factors`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_factors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    /// Sealed with `APP_SECRET_KEY`.
    pub secret: String,
    pub active: bool,
    pub last_used_step: Option<i64>,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
}

/// None declared: the foreign key to `users` (ON DELETE CASCADE) is the migrations', and
/// no query joins through it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
