//! The `account_events` table: each event a committed change announced, its body as JSON
//! (the user as the admin API shows it, and what changed: never a secret).

use sea_orm::entity::prelude::*;

/// One row of `account_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event's id (a UUID), the same in every sink and on every try.
    pub event_id: String,
    pub event_type: String,
    /// Whom it is about (no foreign key: a deleted user's events outlive the user).
    pub user_id: Option<i32>,
    /// `data`, as JSON.
    pub payload: String,
    pub created_at: DateTimeUtc,
}

/// Deliveries refer to it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
