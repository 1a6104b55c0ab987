//! The `email_logins` table.

use sea_orm::entity::prelude::*;

/// One row of `email_logins`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_logins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The address mailed, as the account stores addresses.
    pub email: String,
    /// The account, unless the mail may create it.
    pub user_id: Option<i32>,
    /// The account's security stamp then.
    pub stamp: Option<i64>,
    /// SHA-256 of the link's token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// SHA-256 of the code (bound to the token), hex.
    pub code_hash: String,
    /// Wrong codes tried.
    pub attempts: i32,
    pub return_to: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

/// None declared: the foreign key to `users` (ON DELETE CASCADE) is the migrations'.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
