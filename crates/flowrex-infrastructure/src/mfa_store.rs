//! Second factors on sea-orm: TOTP factors and sign-in challenges. Every decision that must
//! hold across instances is one conditional `UPDATE` whose affected-row count answers it:
//! a TOTP step is accepted only if it is later than the stored one, a challenge gets a try
//! only while it has fewer than the limit, and is completed only once.

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{MfaChallenge, MfaStore, MfaStoreError, TotpFactor};
use flowrex_domain::{
    AuthMethod, IssuedUnder, SealedSecret, SecurityStamp, TokenFingerprint, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::database::{mfa_error, unique_row};
use crate::db_error::read_retrying;
use crate::entity::users::id_column;
use crate::entity::{mfa_challenges, totp_factors};

/// Factors and challenges in `totp_factors` and `mfa_challenges` (their changes that go
/// with mail and audit events are the account store's).
#[derive(Debug, Clone)]
pub struct SeaOrmMfaStore {
    db: DatabaseConnection,
}

impl SeaOrmMfaStore {
    /// A store over a pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn step_column(step: u64) -> Result<i64, MfaStoreError> {
    i64::try_from(step).map_err(|_| MfaStoreError::Unexpected(anyhow!("step out of range")))
}

#[async_trait]
impl MfaStore for SeaOrmMfaStore {
    async fn totp_factors(&self, user: UserId) -> Result<Vec<TotpFactor>, MfaStoreError> {
        let Some(user_id) = id_column(user) else {
            return Ok(Vec::new());
        };
        let rows = read_retrying(|| {
            totp_factors::Entity::find()
                .filter(totp_factors::Column::UserId.eq(user_id))
                .order_by_asc(totp_factors::Column::Id)
                .all(&self.db)
        })
        .await
        .map_err(mfa_error)?;
        Ok(rows
            .into_iter()
            .map(|row| TotpFactor {
                id: row.id,
                user,
                secret: SealedSecret::new(row.secret),
                active: row.active,
                last_used_step: row.last_used_step.and_then(|s| u64::try_from(s).ok()),
            })
            .collect())
    }

    async fn accept_totp_step(&self, factor: i64, step: u64) -> Result<bool, MfaStoreError> {
        let step = step_column(step)?;
        let result = totp_factors::Entity::update_many()
            .col_expr(totp_factors::Column::LastUsedStep, Expr::value(step))
            .filter(totp_factors::Column::Id.eq(factor))
            .filter(totp_factors::Column::Active.eq(true))
            .filter(
                totp_factors::Column::LastUsedStep
                    .is_null()
                    .or(totp_factors::Column::LastUsedStep.lt(step)),
            )
            .exec(&self.db)
            .await
            .map_err(mfa_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn create_challenge(
        &self,
        issued: IssuedUnder,
        first: AuthMethod,
        fingerprint: &TokenFingerprint,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), MfaStoreError> {
        let user_id = id_column(issued.user)
            .ok_or_else(|| MfaStoreError::Unexpected(anyhow!("user id out of range")))?;
        mfa_challenges::ActiveModel {
            user_id: Set(user_id),
            token_hash: Set(fingerprint.as_str().to_owned()),
            tries: Set(0),
            created_at: Set(at),
            expires_at: Set(expires_at),
            used_at: Set(None),
            stamp: Set(issued.stamp.get()),
            first_method: Set(first.as_str().to_owned()),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map(|_| ())
        .map_err(mfa_error)
    }

    async fn try_challenge(
        &self,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
        max_tries: u32,
    ) -> Result<Option<MfaChallenge>, MfaStoreError> {
        let max_tries = i32::try_from(max_tries).unwrap_or(i32::MAX);
        let counted = mfa_challenges::Entity::update_many()
            .col_expr(
                mfa_challenges::Column::Tries,
                Expr::col(mfa_challenges::Column::Tries).add(1),
            )
            .filter(mfa_challenges::Column::TokenHash.eq(fingerprint.as_str()))
            .filter(mfa_challenges::Column::UsedAt.is_null())
            .filter(mfa_challenges::Column::ExpiresAt.gt(now))
            .filter(mfa_challenges::Column::Tries.lt(max_tries))
            .exec(&self.db)
            .await
            .map_err(mfa_error)?;
        if counted.rows_affected != 1 {
            return Ok(None);
        }
        let row = unique_row(
            || {
                mfa_challenges::Entity::find()
                    .filter(mfa_challenges::Column::TokenHash.eq(fingerprint.as_str()))
            },
            &self.db,
        )
        .await
        .map_err(mfa_error)?;
        Ok(row.map(|row| MfaChallenge {
            id: row.id,
            user: UserId::new(i64::from(row.user_id)),
            stamp: SecurityStamp::new(row.stamp),
            // Rows from before the column: a password.
            first: AuthMethod::parse(&row.first_method).unwrap_or(AuthMethod::Password),
        }))
    }

    async fn complete_challenge(&self, id: i64, now: DateTime<Utc>) -> Result<bool, MfaStoreError> {
        mfa_challenges::complete(&self.db, id, now)
            .await
            .map_err(mfa_error)
    }

    async fn delete_expired_challenges(&self, before: DateTime<Utc>) -> Result<u64, MfaStoreError> {
        mfa_challenges::Entity::delete_many()
            .filter(mfa_challenges::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map(|result| result.rows_affected)
            .map_err(mfa_error)
    }
}
