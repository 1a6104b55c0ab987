//! The second-factor part of an account change: TOTP factors (enrolled, activated, their
//! last accepted step), recovery codes, and the sign-in challenges a change ends — each
//! inside the change's transaction.

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{AccountStoreError, RecoveryCodesChange, TotpChange};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, Set,
};

use crate::entity::{mfa_challenges, recovery_codes, totp_factors, users};

use super::{account_error, user_column};
/// A TOTP change inside `txn`: a conditional one ([`TotpChange::Activate`]) that finds its
/// factor no longer pending is [`AccountStoreError::TokenUsed`].
pub(super) async fn apply_totp(
    txn: &DatabaseTransaction,
    change: TotpChange,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    match change {
        TotpChange::Enroll { user, secret } => {
            let user = user_column(user)?;
            lock_user(txn, user).await?;
            totp_factors::Entity::delete_many()
                .filter(totp_factors::Column::UserId.eq(user))
                .filter(totp_factors::Column::Active.eq(false))
                .exec(txn)
                .await
                .map_err(account_error)?;
            totp_factors::ActiveModel {
                user_id: Set(user),
                secret: Set(secret.as_str().to_owned()),
                active: Set(false),
                last_used_step: Set(None),
                created_at: Set(at),
                activated_at: Set(None),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(account_error)?;
        }
        TotpChange::Activate { user, factor, step } => {
            let user = user_column(user)?;
            lock_user(txn, user).await?;
            let step = i64::try_from(step)
                .map_err(|_| AccountStoreError::Unexpected(anyhow!("step out of range")))?;
            let activated = totp_factors::Entity::update_many()
                .col_expr(totp_factors::Column::Active, Expr::value(true))
                .col_expr(totp_factors::Column::LastUsedStep, Expr::value(step))
                .col_expr(totp_factors::Column::ActivatedAt, Expr::value(at))
                .filter(totp_factors::Column::Id.eq(factor))
                .filter(totp_factors::Column::UserId.eq(user))
                .filter(totp_factors::Column::Active.eq(false))
                .exec(txn)
                .await
                .map_err(account_error)?;
            if activated.rows_affected != 1 {
                return Err(AccountStoreError::TokenUsed);
            }
            // The factor it replaces, if any.
            totp_factors::Entity::delete_many()
                .filter(totp_factors::Column::UserId.eq(user))
                .filter(totp_factors::Column::Id.ne(factor))
                .exec(txn)
                .await
                .map_err(account_error)?;
        }
        TotpChange::Remove { user } => delete_factors(txn, user_column(user)?).await?,
    }
    Ok(())
}

/// A recovery-code change inside `txn`: a code to consume that is not one of the user's
/// unused ones is [`AccountStoreError::TokenUsed`].
pub(super) async fn apply_recovery_codes(
    txn: &DatabaseTransaction,
    change: RecoveryCodesChange,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    match change {
        RecoveryCodesChange::Replace { user, codes } => {
            let user = user_column(user)?;
            recovery_codes::Entity::delete_many()
                .filter(recovery_codes::Column::UserId.eq(user))
                .exec(txn)
                .await
                .map_err(account_error)?;
            if codes.is_empty() {
                return Ok(());
            }
            let rows = codes.iter().map(|code| recovery_codes::ActiveModel {
                user_id: Set(user),
                code_hash: Set(code.as_str().to_owned()),
                created_at: Set(at),
                used_at: Set(None),
                ..Default::default()
            });
            recovery_codes::Entity::insert_many(rows)
                .exec(txn)
                .await
                .map(|_| ())
                .map_err(account_error)
        }
        RecoveryCodesChange::Consume { user, code } => {
            let used = recovery_codes::Entity::update_many()
                .col_expr(recovery_codes::Column::UsedAt, Expr::value(at))
                .filter(recovery_codes::Column::UserId.eq(user_column(user)?))
                .filter(recovery_codes::Column::CodeHash.eq(code.as_str()))
                .filter(recovery_codes::Column::UsedAt.is_null())
                .exec(txn)
                .await
                .map_err(account_error)?;
            if used.rows_affected == 1 {
                Ok(())
            } else {
                Err(AccountStoreError::TokenUsed)
            }
        }
    }
}

/// Every open sign-in challenge of `user`: logins that passed the password before it
/// changed, or before its sessions were ended, do not complete.
pub(super) async fn delete_challenges(
    txn: &DatabaseTransaction,
    user: i32,
) -> Result<(), AccountStoreError> {
    mfa_challenges::Entity::delete_many()
        .filter(mfa_challenges::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map(|_| ())
        .map_err(account_error)
}

/// Locks `user`'s row until `txn` ends (PostgreSQL, MySQL/MariaDB; SQLite has one writer at
/// a time anyway), so that two enrolments or activations of one user run one after the
/// other: never two pending factors, never two activations deleting each other's row.
async fn lock_user(txn: &DatabaseTransaction, user: i32) -> Result<(), AccountStoreError> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        return Ok(());
    }
    users::Entity::find_by_id(user)
        .lock(LockType::Update)
        .all(txn)
        .await
        .map(|_| ())
        .map_err(account_error)
}

/// Every TOTP factor and recovery code of `user`.
pub(super) async fn delete_factors(
    txn: &DatabaseTransaction,
    user: i32,
) -> Result<(), AccountStoreError> {
    totp_factors::Entity::delete_many()
        .filter(totp_factors::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map_err(account_error)?;
    recovery_codes::Entity::delete_many()
        .filter(recovery_codes::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map(|_| ())
        .map_err(account_error)
}
