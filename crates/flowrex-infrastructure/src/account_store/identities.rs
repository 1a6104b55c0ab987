//! The identity part of an account change: an identity linked or unlinked (never the last
//! way in), or every one of a user's removed, inside the change's transaction.

use chrono::{DateTime, Utc};
use flowrex_domain::IdentityOwner;
use flowrex_domain::ports::{AccountStoreError, IdentityChange};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};

use crate::db_error::violates_unique;
use crate::entity::identities::{self, SUBJECT_INDEX};
use crate::entity::{federation_flows, passkeys, users};

use super::{account_error, user_column};

/// An identity change inside `txn`, `inserted` being the user the same set inserted. An
/// unlink is a credential event: the user's row is locked already (its stamp moved on), so
/// that the ways left are counted with no other change of theirs in between.
pub(super) async fn apply_identity(
    txn: &DatabaseTransaction,
    change: IdentityChange,
    inserted: Option<i32>,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    match change {
        IdentityChange::Link(new) => {
            let user = match new.owner {
                IdentityOwner::User(user) => user_column(user)?,
                IdentityOwner::Inserted => inserted.ok_or_else(|| {
                    AccountStoreError::Unexpected(anyhow::anyhow!("no inserted user"))
                })?,
            };
            identities::ActiveModel {
                user_id: Set(user),
                provider: Set(new.provider.as_str().to_owned()),
                subject: Set(new.subject),
                email: Set(new.email),
                created_at: Set(at),
                last_login_at: Set(Some(at)),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(|error| {
                if violates_unique(&error, &[SUBJECT_INDEX.0], &SUBJECT_INDEX.1) {
                    AccountStoreError::IdentityTaken
                } else {
                    account_error(error)
                }
            })?;
            Ok(())
        }
        IdentityChange::Unlink { user, id } => {
            let user = user_column(user)?;
            let deleted = identities::Entity::delete_many()
                .filter(identities::Column::Id.eq(id))
                .filter(identities::Column::UserId.eq(user))
                .exec(txn)
                .await
                .map_err(account_error)?;
            if deleted.rows_affected != 1 {
                return Err(AccountStoreError::IdentityGone);
            }
            if !has_a_way_in(txn, user).await? {
                // Dropped uncommitted: nothing happened.
                return Err(AccountStoreError::LastWayIn);
            }
            Ok(())
        }
    }
}

/// Whether `user` can still sign in: a usable password, a passkey or an identity.
async fn has_a_way_in(txn: &DatabaseTransaction, user: i32) -> Result<bool, AccountStoreError> {
    let password = users::Entity::find_by_id(user)
        .one(txn)
        .await
        .map_err(account_error)?
        .is_some_and(|row| flowrex_domain::PasswordHash::new(row.hashed_password).is_usable());
    if password {
        return Ok(true);
    }
    let passkeys = passkeys::Entity::find()
        .filter(passkeys::Column::UserId.eq(user))
        .count(txn)
        .await
        .map_err(account_error)?;
    let identities = identities::Entity::find()
        .filter(identities::Column::UserId.eq(user))
        .count(txn)
        .await
        .map_err(account_error)?;
    Ok(passkeys > 0 || identities > 0)
}

/// Deletes every identity of `user`.
pub(super) async fn delete_identities(
    txn: &DatabaseTransaction,
    user: i32,
) -> Result<(), AccountStoreError> {
    identities::Entity::delete_many()
        .filter(identities::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map_err(account_error)?;
    Ok(())
}

/// Deletes the flows that link to `user` or sign them in (a deleted user's).
pub(super) async fn delete_flows(
    txn: &DatabaseTransaction,
    user: i32,
) -> Result<(), AccountStoreError> {
    federation_flows::Entity::delete_many()
        .filter(
            federation_flows::Column::LinkUserId
                .eq(user)
                .or(federation_flows::Column::UserId.eq(user)),
        )
        .exec(txn)
        .await
        .map_err(account_error)?;
    Ok(())
}
