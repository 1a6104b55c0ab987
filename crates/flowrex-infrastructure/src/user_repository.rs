//! The user repository on sea-orm (SQLite, PostgreSQL, MySQL/MariaDB).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{RepositoryError, UserRepository};
use flowrex_domain::{EmailAddress, FullName, NewUser, PasswordHash, User, UserId, UserParts};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::database::{repository_error, unique_row};
use crate::entity::users;

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

    /// Sets one column of a user, and `updated_at`; an id that cannot exist changes nothing.
    async fn update_column(
        &self,
        id: UserId,
        column: users::Column,
        value: impl Into<sea_orm::Value>,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let Some(id) = user_column(id) else {
            return Ok(());
        };
        users::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(repository_error)
    }
}

/// The `users.id` value of an id; `None` beyond the column's range, where no user can exist.
pub(crate) fn user_column(id: UserId) -> Option<i32> {
    i32::try_from(id.get()).ok()
}

pub(crate) fn into_user(model: users::Model) -> User {
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
    }
    .into()
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn insert(&self, user: NewUser) -> Result<User, RepositoryError> {
        let row = users::ActiveModel {
            email: Set(user.email.as_str().to_owned()),
            email_key: Set(user.email.key().to_owned()),
            hashed_password: Set(user.password_hash.as_str().to_owned()),
            full_name: Set(user.full_name.map(FullName::into_inner)),
            is_active: Set(true),
            is_verified: Set(false),
            is_superuser: Set(user.is_superuser),
            created_at: Set(user.created_at),
            updated_at: Set(user.created_at),
            ..Default::default()
        };
        row.insert(&self.db)
            .await
            .map(into_user)
            .map_err(repository_error)
    }

    async fn set_active(
        &self,
        id: UserId,
        active: bool,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        self.update_column(id, users::Column::IsActive, active, at)
            .await
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        self.update_column(id, users::Column::HashedPassword, hash.as_str(), at)
            .await
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError> {
        let select = users::Entity::find().filter(users::Column::EmailKey.eq(email.key()));
        unique_row(select, &self.db)
            .await
            .map(|row| row.map(into_user))
            .map_err(repository_error)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        let Some(id) = user_column(id) else {
            return Ok(None);
        };
        unique_row(users::Entity::find_by_id(id), &self.db)
            .await
            .map(|row| row.map(into_user))
            .map_err(repository_error)
    }
}
