//! Linked identities and outside-provider flows on sea-orm. A flow's state and its exchange
//! code are each spent by one conditional `UPDATE` (unspent and unexpired), whose
//! affected-row count decides which of two concurrent callbacks or exchanges gets it, on any
//! instance; the row is read back after.

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{
    FederationStore, FederationStoreError, NewFlow, RedeemedCode, ReturnedFlow,
};
use flowrex_domain::{Identity, IssuedUnder, ProviderId, SecurityStamp, TokenFingerprint, UserId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use crate::database::unique_row;
use crate::db_error::{is_unavailable, read_retrying};
use crate::entity::users::id_column;
use crate::entity::{federation_flows, identities};

/// Identities in `identities`, flows in `federation_flows`.
#[derive(Debug, Clone)]
pub struct SeaOrmFederationStore {
    db: DatabaseConnection,
}

impl SeaOrmFederationStore {
    /// A store over a pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl SeaOrmFederationStore {
    /// Spends the flow whose `hash` column holds `fingerprint`, by one conditional `UPDATE`
    /// (`used` still null, `expires` after `at`) whose affected-row count decides which of
    /// two concurrent calls spends it; the row, read back, for the one that did.
    async fn spend(
        &self,
        hash: federation_flows::Column,
        used: federation_flows::Column,
        expires: federation_flows::Column,
        fingerprint: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<federation_flows::Model>, FederationStoreError> {
        let spent = federation_flows::Entity::update_many()
            .col_expr(used, Expr::value(at))
            .filter(hash.eq(fingerprint.as_str()))
            .filter(used.is_null())
            .filter(expires.gt(at))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        if spent.rows_affected != 1 {
            return Ok(None);
        }
        unique_row(
            || federation_flows::Entity::find().filter(hash.eq(fingerprint.as_str())),
            &self.db,
        )
        .await
        .map_err(store_error)
    }
}

fn store_error(error: DbErr) -> FederationStoreError {
    if is_unavailable(&error) {
        FederationStoreError::Unavailable(anyhow!(error))
    } else {
        FederationStoreError::Unexpected(anyhow!(error))
    }
}

fn user_column(user: UserId) -> Result<i32, FederationStoreError> {
    id_column(user).ok_or_else(|| FederationStoreError::Unexpected(anyhow!("user id out of range")))
}

fn stamped(user: Option<i32>, stamp: Option<i64>) -> Option<IssuedUnder> {
    Some(IssuedUnder {
        user: UserId::new(i64::from(user?)),
        stamp: SecurityStamp::new(stamp?),
    })
}

fn provider(raw: &str) -> Result<ProviderId, FederationStoreError> {
    ProviderId::parse(raw)
        .ok_or_else(|| FederationStoreError::Unexpected(anyhow!("stored provider id malformed")))
}

#[async_trait]
impl FederationStore for SeaOrmFederationStore {
    async fn find_identity(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Identity>, FederationStoreError> {
        unique_row(
            || {
                identities::Entity::find()
                    .filter(identities::Column::Provider.eq(provider.as_str()))
                    .filter(identities::Column::Subject.eq(subject))
            },
            &self.db,
        )
        .await
        .map(|row| row.and_then(identities::identity))
        .map_err(store_error)
    }

    async fn identities(&self, user: UserId) -> Result<Vec<Identity>, FederationStoreError> {
        let user = user_column(user)?;
        read_retrying(|| {
            identities::Entity::find()
                .filter(identities::Column::UserId.eq(user))
                .order_by_asc(identities::Column::Id)
                .all(&self.db)
        })
        .await
        .map(|rows| rows.into_iter().filter_map(identities::identity).collect())
        .map_err(store_error)
    }

    async fn record_login(
        &self,
        id: i64,
        email: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), FederationStoreError> {
        let mut update = identities::Entity::update_many()
            .col_expr(identities::Column::LastLoginAt, Expr::value(at))
            .filter(identities::Column::Id.eq(id));
        if let Some(email) = email {
            update = update.col_expr(identities::Column::Email, Expr::value(email));
        }
        update.exec(&self.db).await.map(|_| ()).map_err(store_error)
    }

    async fn start_flow(&self, flow: NewFlow) -> Result<(), FederationStoreError> {
        let link_user = flow
            .link
            .map(|issued| user_column(issued.user))
            .transpose()?;
        federation_flows::ActiveModel {
            state_hash: Set(flow.state.as_str().to_owned()),
            browser_hash: Set(flow.browser.as_str().to_owned()),
            provider: Set(flow.provider.as_str().to_owned()),
            return_to: Set(flow.return_to),
            client_challenge: Set(flow.client_challenge),
            link_user_id: Set(link_user),
            link_stamp: Set(flow.link.map(|issued| issued.stamp.get())),
            created_at: Set(Utc::now()),
            expires_at: Set(flow.expires_at),
            state_used_at: Set(None),
            code_hash: Set(None),
            user_id: Set(None),
            stamp: Set(None),
            code_expires_at: Set(None),
            code_used_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn take_flow(
        &self,
        state: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<ReturnedFlow>, FederationStoreError> {
        let spent = self
            .spend(
                federation_flows::Column::StateHash,
                federation_flows::Column::StateUsedAt,
                federation_flows::Column::ExpiresAt,
                state,
                at,
            )
            .await?;
        let Some(row) = spent else {
            return Ok(None);
        };
        Ok(Some(ReturnedFlow {
            id: row.id,
            browser: TokenFingerprint::from_stored(row.browser_hash),
            provider: provider(&row.provider)?,
            return_to: row.return_to,
            client_challenge: row.client_challenge,
            link: stamped(row.link_user_id, row.link_stamp),
        }))
    }

    async fn issue_code(
        &self,
        id: i64,
        code: &TokenFingerprint,
        user: IssuedUnder,
        expires_at: DateTime<Utc>,
    ) -> Result<(), FederationStoreError> {
        federation_flows::Entity::update_many()
            .col_expr(
                federation_flows::Column::CodeHash,
                Expr::value(code.as_str()),
            )
            .col_expr(
                federation_flows::Column::UserId,
                Expr::value(user_column(user.user)?),
            )
            .col_expr(
                federation_flows::Column::Stamp,
                Expr::value(user.stamp.get()),
            )
            .col_expr(
                federation_flows::Column::CodeExpiresAt,
                Expr::value(expires_at),
            )
            .filter(federation_flows::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn take_code(
        &self,
        code: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<RedeemedCode>, FederationStoreError> {
        let spent = self
            .spend(
                federation_flows::Column::CodeHash,
                federation_flows::Column::CodeUsedAt,
                federation_flows::Column::CodeExpiresAt,
                code,
                at,
            )
            .await?;
        let Some(row) = spent else {
            return Ok(None);
        };
        let Some(user) = stamped(row.user_id, row.stamp) else {
            return Ok(None);
        };
        Ok(Some(RedeemedCode {
            user,
            provider: provider(&row.provider)?,
            client_challenge: row.client_challenge,
            browser: TokenFingerprint::from_stored(row.browser_hash),
        }))
    }

    async fn purge_flows(&self, before: DateTime<Utc>) -> Result<u64, FederationStoreError> {
        // Expired whole: its state, and its code if it has one.
        federation_flows::Entity::delete_many()
            .filter(federation_flows::Column::ExpiresAt.lt(before))
            .filter(
                federation_flows::Column::CodeExpiresAt
                    .is_null()
                    .or(federation_flows::Column::CodeExpiresAt.lt(before)),
            )
            .exec(&self.db)
            .await
            .map(|result| result.rows_affected)
            .map_err(store_error)
    }
}
