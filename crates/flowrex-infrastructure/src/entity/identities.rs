//! The `identities` table, and its mapping to the domain's [`Identity`].

use flowrex_domain::{Identity, ProviderId, UserId};
use sea_orm::entity::prelude::*;

/// One row of `identities`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    /// The provider's configured id.
    pub provider: String,
    /// The provider's stable key of the account (unique with `provider`).
    pub subject: String,
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
}

/// None declared: the foreign key to `users` (ON DELETE CASCADE) is the migrations', and
/// no query joins through it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The unique index on provider and subject: its name, and for SQLite its columns.
pub(crate) const SUBJECT_INDEX: (&str, [&str; 2]) = (
    "ix_identities_provider_subject",
    ["identities.provider", "identities.subject"],
);

/// `row` as the domain sees it; `None` for a provider id no longer of a valid shape.
pub(crate) fn identity(row: Model) -> Option<Identity> {
    Some(Identity {
        id: row.id,
        user: UserId::new(i64::from(row.user_id)),
        provider: ProviderId::parse(&row.provider)?,
        subject: row.subject,
        email: row.email,
        created_at: row.created_at,
        last_login_at: row.last_login_at,
    })
}
