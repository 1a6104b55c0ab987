//! Passkeys and WebAuthn ceremony states on sea-orm. A credential id is unique (one
//! authenticator credential, one account, on every backend: by its SHA-256); a ceremony
//! state is taken back once, by a `DELETE` whose affected-row count decides which of two
//! finishes gets it; a sign-in's new record replaces only the one it was checked against.

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{
    CeremonyKind, CeremonyState, PasskeyStore, PasskeyStoreError, StoredPasskey,
};
use flowrex_domain::{IssuedUnder, SecurityStamp, TokenFingerprint, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use crate::database::unique_row;
use crate::db_error::{is_unavailable, read_retrying};
use crate::entity::passkeys::stored;
use crate::entity::users::id_column;
use crate::entity::{passkeys, webauthn_ceremonies};

/// Passkeys in `passkeys`, ceremony states in `webauthn_ceremonies`.
#[derive(Debug, Clone)]
pub struct SeaOrmPasskeyStore {
    db: DatabaseConnection,
}

impl SeaOrmPasskeyStore {
    /// A store over a pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn store_error(error: DbErr) -> PasskeyStoreError {
    if is_unavailable(&error) {
        PasskeyStoreError::Unavailable(anyhow!(error))
    } else {
        PasskeyStoreError::Unexpected(anyhow!(error))
    }
}

fn user_column(user: UserId) -> Result<i32, PasskeyStoreError> {
    id_column(user).ok_or_else(|| PasskeyStoreError::Unexpected(anyhow!("user id out of range")))
}

#[async_trait]
impl PasskeyStore for SeaOrmPasskeyStore {
    async fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, PasskeyStoreError> {
        let user = user_column(user)?;
        read_retrying(|| {
            passkeys::Entity::find()
                .filter(passkeys::Column::UserId.eq(user))
                .order_by_asc(passkeys::Column::Id)
                .all(&self.db)
        })
        .await
        .map(|rows| rows.into_iter().map(stored).collect())
        .map_err(store_error)
    }

    async fn find_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, PasskeyStoreError> {
        let hash = TokenFingerprint::of(credential_id);
        unique_row(
            || passkeys::Entity::find().filter(passkeys::Column::CredentialHash.eq(hash.as_str())),
            &self.db,
        )
        .await
        .map(|row| row.map(stored))
        .map_err(store_error)
    }

    async fn record_use(
        &self,
        id: i64,
        checked: &str,
        updated: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool, PasskeyStoreError> {
        let mut update = passkeys::Entity::update_many()
            .col_expr(passkeys::Column::LastUsedAt, Expr::value(at))
            .filter(passkeys::Column::Id.eq(id))
            .filter(passkeys::Column::Credential.eq(checked));
        if let Some(credential) = updated {
            update = update.col_expr(passkeys::Column::Credential, Expr::value(credential));
        }
        update
            .exec(&self.db)
            .await
            .map(|result| result.rows_affected == 1)
            .map_err(store_error)
    }

    async fn delete_expired_ceremonies(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, PasskeyStoreError> {
        webauthn_ceremonies::Entity::delete_many()
            .filter(webauthn_ceremonies::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map(|result| result.rows_affected)
            .map_err(store_error)
    }

    async fn save_ceremony(
        &self,
        fingerprint: &TokenFingerprint,
        kind: CeremonyKind,
        state: CeremonyState,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), PasskeyStoreError> {
        let user_id = state
            .user
            .map(|issued| user_column(issued.user))
            .transpose()?;
        webauthn_ceremonies::ActiveModel {
            id: Set(fingerprint.as_str().to_owned()),
            kind: Set(kind.as_str().to_owned()),
            user_id: Set(user_id),
            state: Set(state.state),
            created_at: Set(at),
            expires_at: Set(expires_at),
            stamp: Set(state
                .user
                .map_or(SecurityStamp::INITIAL, |issued| issued.stamp)
                .get()),
        }
        .insert(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn take_ceremony(
        &self,
        fingerprint: &TokenFingerprint,
        kind: CeremonyKind,
        now: DateTime<Utc>,
    ) -> Result<Option<CeremonyState>, PasskeyStoreError> {
        let row = unique_row(
            || {
                webauthn_ceremonies::Entity::find_by_id(fingerprint.as_str().to_owned())
                    .filter(webauthn_ceremonies::Column::Kind.eq(kind.as_str()))
            },
            &self.db,
        )
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let taken = webauthn_ceremonies::Entity::delete_many()
            .filter(webauthn_ceremonies::Column::Id.eq(row.id.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        if taken.rows_affected != 1 || row.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(CeremonyState {
            user: row.user_id.map(|id| IssuedUnder {
                user: UserId::new(i64::from(id)),
                stamp: SecurityStamp::new(row.stamp),
            }),
            state: row.state,
        }))
    }
}
