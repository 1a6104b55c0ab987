//! The passkey part of an account change: a passkey added or removed, or every one of a
//! user's removed, inside the change's transaction.

use chrono::{DateTime, Utc};
use flowrex_domain::TokenFingerprint;
use flowrex_domain::ports::{AccountStoreError, PasskeyChange, StoredPasskey};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::db_error::violates_unique;
use crate::entity::passkeys::{self, CREDENTIAL_INDEX};
use crate::entity::webauthn_ceremonies;

use super::{account_error, user_column};

/// A passkey change inside `txn`: the stored passkey when one was added.
pub(super) async fn apply_passkey(
    txn: &DatabaseTransaction,
    change: PasskeyChange,
    at: DateTime<Utc>,
) -> Result<Option<StoredPasskey>, AccountStoreError> {
    match change {
        PasskeyChange::Add(passkey) => {
            let row = passkeys::ActiveModel {
                user_id: Set(user_column(passkey.user)?),
                name: Set(passkey.name),
                credential_hash: Set(TokenFingerprint::of(&passkey.registered.credential_id)
                    .as_str()
                    .to_owned()),
                credential_id: Set(passkey.registered.credential_id),
                credential: Set(passkey.registered.credential),
                created_at: Set(at),
                last_used_at: Set(None),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(|error| {
                if violates_unique(&error, &[CREDENTIAL_INDEX.0], &[CREDENTIAL_INDEX.1]) {
                    AccountStoreError::PasskeyTaken
                } else {
                    account_error(error)
                }
            })?;
            Ok(Some(passkeys::stored(row)))
        }
        PasskeyChange::Remove { user, id } => {
            let deleted = passkeys::Entity::delete_many()
                .filter(passkeys::Column::Id.eq(id))
                .filter(passkeys::Column::UserId.eq(user_column(user)?))
                .exec(txn)
                .await
                .map_err(account_error)?;
            if deleted.rows_affected != 1 {
                return Err(AccountStoreError::PasskeyGone);
            }
            Ok(None)
        }
    }
}

/// Deletes every passkey of `user`, and the registration ceremonies begun for them.
pub(super) async fn delete_passkeys(
    txn: &DatabaseTransaction,
    user: i32,
) -> Result<(), AccountStoreError> {
    passkeys::Entity::delete_many()
        .filter(passkeys::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map_err(account_error)?;
    webauthn_ceremonies::Entity::delete_many()
        .filter(webauthn_ceremonies::Column::UserId.eq(user))
        .exec(txn)
        .await
        .map_err(account_error)?;
    Ok(())
}
