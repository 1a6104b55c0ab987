//! Sign-in mails in `email_logins`: stored replacing the address's earlier ones, used up
//! once, found by token or address, code tries reserved, expired ones deleted.

use chrono::{DateTime, Utc};
use flowrex_domain::ports::AccountStoreError;
use flowrex_domain::{
    EmailLoginKey, IssuedUnder, MAX_CODE_TRIES, NewEmailLogin, SecurityStamp, StoredEmailLogin,
    TokenFingerprint, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{account_error, user_column};
use crate::entity::email_logins;

/// Stores `login`: the address's used rows go, its unused ones count as used (replaced).
pub(super) async fn issue(
    txn: &DatabaseTransaction,
    login: NewEmailLogin,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    let key = login.email.key().to_owned();
    email_logins::Entity::delete_many()
        .filter(email_logins::Column::Email.eq(key.as_str()))
        .filter(email_logins::Column::UsedAt.is_not_null())
        .exec(txn)
        .await
        .map_err(account_error)?;
    email_logins::Entity::update_many()
        .col_expr(email_logins::Column::UsedAt, Expr::value(at))
        .filter(email_logins::Column::Email.eq(key.as_str()))
        .filter(email_logins::Column::UsedAt.is_null())
        .exec(txn)
        .await
        .map_err(account_error)?;
    let (user, stamp) = match login.owner {
        Some(owner) => (Some(user_column(owner.user)?), Some(owner.stamp.get())),
        None => (None, None),
    };
    email_logins::ActiveModel {
        email: Set(key),
        user_id: Set(user),
        stamp: Set(stamp),
        token_hash: Set(login.token.as_str().to_owned()),
        code_hash: Set(login.code.as_str().to_owned()),
        attempts: Set(0),
        return_to: Set(login.return_to),
        created_at: Set(at),
        expires_at: Set(login.expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map(|_| ())
    .map_err(account_error)
}

/// Uses up the sign-in mail `id`: [`AccountStoreError::TokenUsed`] unless it was unused.
pub(super) async fn consume(
    txn: &DatabaseTransaction,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    let consumed = email_logins::Entity::update_many()
        .col_expr(email_logins::Column::UsedAt, Expr::value(at))
        .filter(email_logins::Column::Id.eq(id))
        .filter(email_logins::Column::UsedAt.is_null())
        .filter(email_logins::Column::ExpiresAt.gt(at))
        .exec(txn)
        .await
        .map_err(account_error)?;
    if consumed.rows_affected == 1 {
        Ok(())
    } else {
        Err(AccountStoreError::TokenUsed)
    }
}

/// Deletes the sign-in mails of user `id` (the account goes).
pub(super) async fn delete_of(txn: &DatabaseTransaction, id: i32) -> Result<(), AccountStoreError> {
    email_logins::Entity::delete_many()
        .filter(email_logins::Column::UserId.eq(id))
        .exec(txn)
        .await
        .map(|_| ())
        .map_err(account_error)
}

/// The sign-in mail `key` names.
pub(super) async fn find(
    db: &impl ConnectionTrait,
    key: EmailLoginKey,
) -> Result<Option<StoredEmailLogin>, AccountStoreError> {
    let select = match key {
        EmailLoginKey::Token(token) => {
            email_logins::Entity::find().filter(email_logins::Column::TokenHash.eq(token.as_str()))
        }
        EmailLoginKey::Email(email) => email_logins::Entity::find()
            .filter(email_logins::Column::Email.eq(email))
            .order_by_desc(email_logins::Column::Id),
    };
    let row = select.limit(1).one(db).await.map_err(account_error)?;
    Ok(row.map(stored))
}

/// Reserves one code try of `id`, if it has one left (see the port).
pub(super) async fn reserve_code_try(
    db: &impl ConnectionTrait,
    id: i64,
    at: DateTime<Utc>,
) -> Result<bool, AccountStoreError> {
    let reserved = email_logins::Entity::update_many()
        .col_expr(
            email_logins::Column::Attempts,
            Expr::col(email_logins::Column::Attempts).add(1),
        )
        .filter(email_logins::Column::Id.eq(id))
        .filter(email_logins::Column::UsedAt.is_null())
        .filter(email_logins::Column::ExpiresAt.gt(at))
        .filter(
            email_logins::Column::Attempts.lt(i32::try_from(MAX_CODE_TRIES).unwrap_or(i32::MAX)),
        )
        .exec(db)
        .await
        .map_err(account_error)?;
    Ok(reserved.rows_affected == 1)
}

/// Deletes the sign-in mails that expired before `before`.
pub(super) async fn purge(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, AccountStoreError> {
    email_logins::Entity::delete_many()
        .filter(email_logins::Column::ExpiresAt.lt(before))
        .exec(db)
        .await
        .map(|deleted| deleted.rows_affected)
        .map_err(account_error)
}

fn stored(row: email_logins::Model) -> StoredEmailLogin {
    let owner = row.user_id.zip(row.stamp).map(|(user, stamp)| IssuedUnder {
        user: UserId::new(i64::from(user)),
        stamp: SecurityStamp::new(stamp),
    });
    StoredEmailLogin {
        id: row.id,
        email: row.email,
        owner,
        token: TokenFingerprint::from_stored(row.token_hash),
        code: TokenFingerprint::from_stored(row.code_hash),
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        return_to: row.return_to,
        expires_at: row.expires_at,
        used_at: row.used_at,
    }
}
