//! Sessions on sea-orm. Every statement is one indexed query (by primary key, or by user).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{SessionStore, SessionStoreError};
use flowrex_domain::{
    Assurance, AuditEvent, RevokeReason, SecurityStamp, Session, SessionId, TokenFingerprint, User,
    UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, Set, TransactionTrait,
};

use crate::database::{session_store_error, unique_row};
use crate::db_error::read_retrying;
use crate::entity::users::id_column;
use crate::entity::{sessions, users};
use crate::event_rows::{insert_events, log_rows};

/// Sessions in the `sessions` table.
#[derive(Debug, Clone)]
pub struct SeaOrmSessionStore {
    db: DatabaseConnection,
}

impl SeaOrmSessionStore {
    /// A store over a pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn into_session(model: sessions::Model) -> Option<Session> {
    Some(Session {
        id: SessionId::parse(&model.id)?,
        user_id: UserId::new(i64::from(model.user_id)),
        refresh_token_hash: TokenFingerprint::from_stored(model.refresh_token_hash),
        previous_refresh_token_hash: model
            .previous_refresh_token_hash
            .map(TokenFingerprint::from_stored),
        rotated_at: model.rotated_at,
        created_at: model.created_at,
        last_used_at: model.last_used_at,
        expires_at: model.expires_at,
        revoked_at: model.revoked_at,
        revoked_reason: model.revoked_reason,
        user_agent: model.user_agent,
        ip: model.ip,
        assurance: Assurance::from_stored(&model.amr),
    })
}

#[async_trait]
impl SessionStore for SeaOrmSessionStore {
    async fn create(
        &self,
        session: Session,
        stamp: SecurityStamp,
        audit: Option<AuditEvent>,
    ) -> Result<bool, SessionStoreError> {
        let user_id = id_column(session.user_id).ok_or_else(|| {
            SessionStoreError::Unexpected(anyhow::anyhow!("user id out of range"))
        })?;
        let at = session.created_at;
        let row = sessions::ActiveModel {
            id: Set(session.id.as_str().to_owned()),
            user_id: Set(user_id),
            refresh_token_hash: Set(session.refresh_token_hash.as_str().to_owned()),
            previous_refresh_token_hash: Set(None),
            rotated_at: Set(None),
            created_at: Set(session.created_at),
            last_used_at: Set(session.last_used_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(None),
            revoked_reason: Set(None),
            user_agent: Set(session.user_agent),
            ip: Set(session.ip),
            amr: Set(session.assurance.to_stored()),
            aal: Set(session.assurance.aal().as_str().to_owned()),
        };
        let txn = self.db.begin().await.map_err(session_store_error)?;
        // First, and under the stamp the sign-in was proven with: the row's lock makes a
        // concurrent credential event either come first (and refuse this login) or wait.
        // Not through the users model, whose save would also move `updated_at`.
        let recorded = users::Entity::update_many()
            .col_expr(users::Column::LastLoginAt, Expr::value(at))
            .filter(users::Column::Id.eq(user_id))
            .filter(users::Column::SecurityStamp.eq(stamp.get()))
            .exec(&txn)
            .await
            .map_err(session_store_error)?;
        // MySQL counts matched rows, not changed ones: sqlx connects with CLIENT_FOUND_ROWS.
        if recorded.rows_affected != 1 {
            return Ok(false);
        }
        row.insert(&txn).await.map_err(session_store_error)?;
        let events = insert_events(&txn, audit.as_slice(), at, None)
            .await
            .map_err(session_store_error)?;
        txn.commit().await.map_err(session_store_error)?;
        log_rows(&events);
        Ok(true)
    }

    async fn find(&self, id: &SessionId) -> Result<Option<Session>, SessionStoreError> {
        unique_row(
            || sessions::Entity::find_by_id(id.as_str().to_owned()),
            &self.db,
        )
        .await
        .map(|row| row.and_then(into_session))
        .map_err(session_store_error)
    }

    async fn find_active_user(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, SessionStoreError> {
        let Some(user) = id_column(user) else {
            return Ok(None);
        };
        let select = || {
            users::Entity::find_by_id(user)
                .join(JoinType::InnerJoin, sessions::Relation::User.def().rev())
                .filter(sessions::Column::Id.eq(id.as_str()))
                .filter(sessions::Column::RevokedAt.is_null())
                .filter(sessions::Column::ExpiresAt.gt(now))
                .filter(users::Column::IsActive.eq(true))
        };
        unique_row(select, &self.db)
            .await
            .map(|row| row.map(User::from))
            .map_err(session_store_error)
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected: &TokenFingerprint,
        next: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError> {
        let result = sessions::Entity::update_many()
            .col_expr(
                sessions::Column::RefreshTokenHash,
                Expr::value(next.as_str()),
            )
            .col_expr(
                sessions::Column::PreviousRefreshTokenHash,
                Expr::value(expected.as_str()),
            )
            .col_expr(sessions::Column::RotatedAt, Expr::value(now))
            .col_expr(sessions::Column::LastUsedAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(id.as_str()))
            .filter(sessions::Column::RefreshTokenHash.eq(expected.as_str()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(session_store_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<bool, SessionStoreError> {
        let revoke = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .col_expr(
                sessions::Column::RevokedReason,
                Expr::value(reason.as_str()),
            )
            .filter(sessions::Column::Id.eq(id.as_str()))
            .filter(sessions::Column::RevokedAt.is_null());
        let Some(event) = audit else {
            let result = revoke.exec(&self.db).await.map_err(session_store_error)?;
            return Ok(result.rows_affected == 1);
        };
        let txn = self.db.begin().await.map_err(session_store_error)?;
        let result = revoke.exec(&txn).await.map_err(session_store_error)?;
        if result.rows_affected != 1 {
            return Ok(false);
        }
        let events = insert_events(&txn, &[event], now, None)
            .await
            .map_err(session_store_error)?;
        txn.commit().await.map_err(session_store_error)?;
        log_rows(&events);
        Ok(true)
    }

    async fn list_active(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError> {
        let Some(user) = id_column(user) else {
            return Ok(Vec::new());
        };
        read_retrying(|| {
            sessions::Entity::find()
                .filter(sessions::Column::UserId.eq(user))
                .filter(sessions::Column::RevokedAt.is_null())
                .filter(sessions::Column::ExpiresAt.gt(now))
                .order_by_desc(sessions::Column::LastUsedAt)
                .all(&self.db)
        })
        .await
        .map(|rows| rows.into_iter().filter_map(into_session).collect())
        .map_err(session_store_error)
    }

    async fn delete_expired(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, SessionStoreError> {
        // In small batches by primary key, so that no statement holds the table for long.
        let ids: Vec<String> = sessions::Entity::find()
            .select_only()
            .column(sessions::Column::Id)
            .filter(sessions::Column::ExpiresAt.lt(before))
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(session_store_error)?;
        if ids.is_empty() {
            return Ok(0);
        }
        sessions::Entity::delete_many()
            .filter(sessions::Column::Id.is_in(ids))
            .exec(&self.db)
            .await
            .map(|result| result.rows_affected)
            .map_err(session_store_error)
    }
}
