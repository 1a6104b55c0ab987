//! The `mfa_challenges` table, and completing a challenge (once).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;

/// One row of `mfa_challenges`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_challenges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    /// SHA-256 of the `mfa_token`, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub tries: i32,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    /// The user's security stamp the password was checked under.
    pub stamp: i64,
    /// How the first half was proven (`pwd`, `fed`).
    pub first_method: String,
}

/// None declared: the foreign key to `users` (ON DELETE CASCADE) is the migrations', and
/// no query joins through it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Marks challenge `id` used at `at` through `conn`, if it was not used yet: `false` when a
/// concurrent request completed it first.
///
/// # Errors
/// The database's error.
pub(crate) async fn complete(
    conn: &impl ConnectionTrait,
    id: i64,
    at: DateTimeUtc,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
