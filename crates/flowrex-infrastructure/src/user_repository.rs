//! The user repository on sea-orm (SQLite, PostgreSQL, MySQL/MariaDB): reads, and the
//! completion of rows other writers stored without their email key. Users are written by
//! the account store (`account_store.rs`).

use async_trait::async_trait;
use flowrex_domain::ports::{RepositoryError, UserDirectory, UserFilter, UserRepository};
use flowrex_domain::{EmailAddress, User, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::database::{repository_error, unique_row};
use crate::db_error::read_retrying;
use crate::entity::users::{self, id_column};

/// Users in the `users` table.
#[derive(Debug, Clone)]
pub struct SeaOrmUserRepository {
    db: DatabaseConnection,
}

impl SeaOrmUserRepository {
    /// A repository over a pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Gives a row that another writer stored without `email_key` (the original service, an
    /// import in plain SQL) its key, so that from now on it is found by the index alone.
    /// Best effort: a key another account holds already is left alone and logged.
    async fn fill_key(&self, row: &users::Model, email: &EmailAddress) {
        if EmailAddress::key_of(&row.email) != email.key() {
            // SQL's LOWER matched, the service's Unicode rules do not: not this key.
            return;
        }
        let filled = users::Entity::update_many()
            .col_expr(users::Column::EmailKey, Expr::value(email.key()))
            .filter(users::Column::Id.eq(row.id))
            .filter(users::Column::EmailKey.is_null())
            .exec(&self.db)
            .await;
        match filled {
            Ok(_) => tracing::info!(user_id = row.id, "email key filled for a row without one"),
            Err(error) => tracing::warn!(
                user_id = row.id,
                %error,
                "email key not filled (another account may hold it)"
            ),
        }
    }
}

/// The account `rows` (all matching one address) stand for: the keyed row if there is one,
/// else a keyless one, spelled exactly as typed if several are (the original compared
/// exactly, so it let case variants coexist), else the oldest.
fn pick<'a>(rows: &'a [users::Model], email: &EmailAddress) -> Option<&'a users::Model> {
    rows.iter()
        .find(|row| row.email_key.is_some())
        .or_else(|| rows.iter().find(|row| row.email == email.as_str()))
        .or_else(|| rows.iter().min_by_key(|row| row.id))
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    /// By `email_key` through its unique index; rows without a key (see
    /// `fill_key`) by `LOWER(email)`, which the same index narrows to the keyless
    /// rows (`email_key IS NULL`) first.
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError> {
        let keyless = Condition::all()
            .add(users::Column::EmailKey.is_null())
            .add(ExprTrait::eq(
                Func::lower(Expr::col(users::Column::Email)),
                Func::lower(Expr::value(email.as_str())),
            ));
        let matching = Condition::any()
            .add(users::Column::EmailKey.eq(email.key()))
            .add(keyless);
        let rows = read_retrying(|| users::Entity::find().filter(matching.clone()).all(&self.db))
            .await
            .map_err(repository_error)?;
        let Some(row) = pick(&rows, email) else {
            return Ok(None);
        };
        if row.email_key.is_none() && rows.len() == 1 {
            self.fill_key(row, email).await;
        }
        Ok(Some(User::from(row.clone())))
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let Some(id) = id_column(id) else {
            return Ok(None);
        };
        unique_row(|| users::Entity::find_by_id(id), &self.db)
            .await
            .map(|row| row.map(User::from))
            .map_err(repository_error)
    }
}

#[async_trait]
impl UserDirectory for SeaOrmUserRepository {
    async fn list(
        &self,
        filter: &UserFilter,
        before: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<User>, RepositoryError> {
        let mut condition = Condition::all();
        if let Some(needle) = filter.email_contains.as_deref() {
            // `\` escapes the pattern's own `%` and `_`; lower-cased on both sides.
            let escaped: String = needle
                .to_lowercase()
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    other => vec![other],
                })
                .collect();
            condition = condition.add(
                Expr::expr(Func::lower(Expr::col(users::Column::Email)))
                    .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            );
        }
        if let Some(active) = filter.is_active {
            condition = condition.add(users::Column::IsActive.eq(active));
        }
        if let Some(verified) = filter.is_verified {
            condition = condition.add(users::Column::IsVerified.eq(verified));
        }
        if let Some(superuser) = filter.is_superuser {
            condition = condition.add(users::Column::IsSuperuser.eq(superuser));
        }
        if let Some(before) = before {
            let Some(before) = id_column(before) else {
                return Ok(Vec::new());
            };
            condition = condition.add(users::Column::Id.lt(before));
        }
        let select = || {
            users::Entity::find()
                .filter(condition.clone())
                .order_by_desc(users::Column::Id)
                .limit(limit)
        };
        read_retrying(|| select().all(&self.db))
            .await
            .map(|rows| rows.into_iter().map(User::from).collect())
            .map_err(repository_error)
    }
}
