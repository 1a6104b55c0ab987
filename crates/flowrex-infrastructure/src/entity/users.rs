//! The `users` table, and its mapping to the domain's [`User`].

use flowrex_domain::{EmailAddress, PasswordHash, SecurityStamp, User, UserId, UserParts};
use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

/// One row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub email: String,
    /// `EmailAddress::key`: what accounts are looked up by. `NULL` in rows other writers
    /// inserted with only the SPEC's columns, until their first lookup fills it.
    #[sea_orm(unique)]
    pub email_key: Option<String>,
    pub hashed_password: String,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_superuser: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the user last logged in; `NULL` until then.
    pub last_login_at: Option<DateTimeUtc>,
    /// Moved on by every credential event (`flowrex_domain::stamp`); 0 in rows other
    /// writers insert.
    pub security_stamp: i64,
}

/// No relation is declared from this side: the sessions' join is
/// [`super::sessions::Relation::User`] reversed, so that the two entities do not refer to
/// each other.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// No hook: rows change through the account store's statements, which set `updated_at`
/// themselves (the account store's contract checks it).
impl ActiveModelBehavior for ActiveModel {}

/// The unique indexes that make an email "taken" (the SPEC's on `email`, ours on
/// `email_key`), by name, and for SQLite by column.
pub(crate) const EMAIL_INDEXES: [&str; 2] = ["ix_users_email", "ix_users_email_key"];
pub(crate) const EMAIL_COLUMNS: [&str; 2] = ["users.email", "users.email_key"];

/// Holds `user`'s row locked until the transaction of `conn` ends, if the user's stamp is
/// still `stamp`: `false` when it moved on (or the user is gone). One `UPDATE` that changes
/// nothing, so that every backend takes the row's write lock and PostgreSQL and MySQL
/// read the latest committed stamp (a concurrent credential event either commits first and
/// is seen, or waits for this transaction).
///
/// # Errors
/// The database's error.
pub(crate) async fn hold_stamp(
    conn: &impl ConnectionTrait,
    user: i32,
    stamp: SecurityStamp,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let held = Entity::update_many()
        .col_expr(Column::SecurityStamp, Expr::col(Column::SecurityStamp))
        .filter(Column::Id.eq(user))
        .filter(Column::SecurityStamp.eq(stamp.get()))
        .exec(conn)
        .await?;
    // MySQL counts matched rows, not changed ones: sqlx connects with CLIENT_FOUND_ROWS.
    Ok(held.rows_affected == 1)
}

/// Moves `user`'s stamp on, in the transaction of `conn` (a credential event).
///
/// # Errors
/// The database's error.
pub(crate) async fn move_stamp_on(conn: &impl ConnectionTrait, user: i32) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    Entity::update_many()
        .col_expr(
            Column::SecurityStamp,
            Expr::col(Column::SecurityStamp).add(1),
        )
        .filter(Column::Id.eq(user))
        .exec(conn)
        .await
        .map(|_| ())
}

/// The `users.id` value of an id; `None` beyond the column's range, where no user can exist.
pub fn id_column(id: UserId) -> Option<i32> {
    i32::try_from(id.get()).ok()
}

impl From<Model> for User {
    fn from(model: Model) -> Self {
        UserParts {
            id: UserId::new(i64::from(model.id)),
            email: EmailAddress::from_stored(model.email),
            password_hash: PasswordHash::new(model.hashed_password),
            full_name: model.full_name,
            is_active: model.is_active,
            is_verified: model.is_verified,
            is_superuser: model.is_superuser,
            created_at: model.created_at,
            updated_at: model.updated_at,
            last_login_at: model.last_login_at,
            security_stamp: SecurityStamp::new(model.security_stamp),
        }
        .into()
    }
}
