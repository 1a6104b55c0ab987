//! The `federation_flows` table: a flow with an outside provider between its start and its
//! exchange.

use sea_orm::entity::prelude::*;

/// One row of `federation_flows`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "federation_flows")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 of the `state`, hex.
    #[sea_orm(unique)]
    pub state_hash: String,
    /// SHA-256 of the browser's cookie, hex.
    pub browser_hash: String,
    pub provider: String,
    pub return_to: String,
    /// The front end's own PKCE S256 challenge.
    pub client_challenge: Option<String>,
    /// The user who links, and their stamp then.
    pub link_user_id: Option<i32>,
    pub link_stamp: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub state_used_at: Option<DateTimeUtc>,
    /// SHA-256 of the one-time exchange code, hex, once the provider answered.
    #[sea_orm(unique)]
    pub code_hash: Option<String>,
    /// Whom the code signs in, under which stamp.
    pub user_id: Option<i32>,
    pub stamp: Option<i64>,
    pub code_expires_at: Option<DateTimeUtc>,
    pub code_used_at: Option<DateTimeUtc>,
}

/// None declared: the foreign keys to `users` (ON DELETE CASCADE) are the migrations', and
/// no query joins through them.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
