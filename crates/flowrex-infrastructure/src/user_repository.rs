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
        let Ok(id) = i32::try_from(id.get()) else {
            return Ok(());
        };
        users::Entity::update_many()
            .col_expr(users::Column::IsActive, Expr::value(active))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(repository_error)
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let Ok(id) = i32::try_from(id.get()) else {
            return Ok(());
        };
        users::Entity::update_many()
            .col_expr(users::Column::HashedPassword, Expr::value(hash.as_str()))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(repository_error)
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError> {
        let select = users::Entity::find().filter(users::Column::EmailKey.eq(email.key()));
        unique_row(select, &self.db)
            .await
            .map(|row| row.map(into_user))
            .map_err(repository_error)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        // Ids beyond the column's range cannot exist.
        let Ok(id) = i32::try_from(id.get()) else {
            return Ok(None);
        };
        unique_row(users::Entity::find_by_id(id), &self.db)
            .await
            .map(|row| row.map(into_user))
            .map_err(repository_error)
    }
}
