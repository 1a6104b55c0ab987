//! The mail outbox on sea-orm: queued mails, encrypted at rest ([`SecretBox`]), claimed by
//! delivery workers with a lease. On PostgreSQL and MySQL/MariaDB a claim locks the rows
//! it takes (`FOR UPDATE SKIP LOCKED`), so that workers on several instances never take
//! one message twice and never wait for each other; SQLite has one writer at a time, which
//! serialises claims by itself.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{OutboxError, OutboxStore, QueuedMail};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use crate::entity::outbox;
use crate::secret_box::SecretBox;

/// Longest error text kept with a failed message (the column's size).
const MAX_ERROR_CHARS: usize = 500;

/// Mails waiting in the `outbox` table.
#[derive(Clone)]
pub struct SeaOrmOutbox {
    db: DatabaseConnection,
    sealer: Arc<SecretBox>,
}

impl SeaOrmOutbox {
    /// The outbox over a pool, sealing with `sealer`.
    pub fn new(db: DatabaseConnection, sealer: Arc<SecretBox>) -> Self {
        Self { db, sealer }
    }
}

fn unavailable(error: impl Into<anyhow::Error>) -> OutboxError {
    OutboxError(error.into())
}

impl SeaOrmOutbox {
    /// Leases each of `rows` that is still `due` (a compare-and-set, so that a row another
    /// worker took meanwhile is left to it), and opens its message.
    async fn take(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<outbox::Model>,
        due: Condition,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, OutboxError> {
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let leased = outbox::Entity::update_many()
                .col_expr(outbox::Column::LockedUntil, Expr::value(until))
                .filter(outbox::Column::Id.eq(row.id))
                .filter(due.clone())
                .exec(conn)
                .await
                .map_err(unavailable)?;
            if leased.rows_affected != 1 {
                continue;
            }
            match outbox::mail_of(&self.sealer, &row) {
                Some(mail) => claimed.push(QueuedMail {
                    id: row.id,
                    mail,
                    attempts: u32::try_from(row.attempts).unwrap_or(0),
                    queued_at: row.created_at,
                }),
                None => self.give_up_unreadable(conn, row.id, now).await?,
            }
        }
        Ok(claimed)
    }

    /// Gives up a row whose payload cannot be read (another `APP_SECRET_KEY`).
    async fn give_up_unreadable(
        &self,
        conn: &impl ConnectionTrait,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        tracing::error!(
            mail_id = id,
            "queued mail cannot be opened (APP_SECRET_KEY changed?): given up"
        );
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Payload, Expr::value(Option::<String>::None))
            .col_expr(outbox::Column::FailedAt, Expr::value(now))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value("payload cannot be opened"),
            )
            .filter(outbox::Column::Id.eq(id))
            .exec(conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

#[async_trait]
impl OutboxStore for SeaOrmOutbox {
    async fn claim(
        &self,
        limit: u64,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, OutboxError> {
        let until = now + chrono::Duration::from_std(lease).map_err(unavailable)?;
        let due = Condition::all()
            .add(outbox::Column::SentAt.is_null())
            .add(outbox::Column::FailedAt.is_null())
            .add(outbox::Column::NextAttemptAt.lte(now))
            .add(
                Condition::any()
                    .add(outbox::Column::LockedUntil.is_null())
                    .add(outbox::Column::LockedUntil.lte(now)),
            );
        let select = outbox::Entity::find()
            .filter(due.clone())
            .order_by_asc(outbox::Column::Id)
            .limit(limit);
        if self.db.get_database_backend() == DbBackend::Sqlite {
            // One writer at a time: each row is taken by its own conditional update
            // (a read-then-write transaction would fail on a concurrent commit).
            let rows = select.all(&self.db).await.map_err(unavailable)?;
            return self.take(&self.db, rows, due, until, now).await;
        }
        let txn = self.db.begin().await.map_err(unavailable)?;
        let rows = select
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await
            .map_err(unavailable)?;
        let claimed = self.take(&txn, rows, due, until, now).await?;
        txn.commit().await.map_err(unavailable)?;
        Ok(claimed)
    }

    async fn delivered(&self, id: i64, at: DateTime<Utc>) -> Result<(), OutboxError> {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::SentAt, Expr::value(at))
            .col_expr(outbox::Column::Payload, Expr::value(Option::<String>::None))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn failed(
        &self,
        id: i64,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), OutboxError> {
        let reason: String = error.chars().take(MAX_ERROR_CHARS).collect();
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::LastError, Expr::value(reason))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            );
        update = match retry_at {
            Some(at) => update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at)),
            None => update
                .col_expr(outbox::Column::FailedAt, Expr::value(Utc::now()))
                .col_expr(outbox::Column::Payload, Expr::value(Option::<String>::None)),
        };
        update
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn purge_finished(&self, before: DateTime<Utc>, batch: u64) -> Result<u64, OutboxError> {
        // By id, so that one statement touches at most `batch` rows on every backend.
        let ids = self.finished_ids(before, batch).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        outbox::Entity::delete_many()
            .filter(outbox::Column::Id.is_in(ids))
            .exec(&self.db)
            .await
            .map(|done| done.rows_affected)
            .map_err(unavailable)
    }
}

/// The outbox's state, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Messages waiting.
    pub pending: u64,
    /// When the oldest waiting message was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// The outbox figures `/metrics` reads: an operator's concern that no use case has, so it
/// is not part of the domain's [`OutboxStore`] port.
#[async_trait]
pub trait OutboxFigures: Send + Sync {
    /// How many messages wait, and since when.
    ///
    /// # Errors
    /// [`OutboxError`].
    async fn stats(&self) -> Result<OutboxStats, OutboxError>;
}

#[async_trait]
impl OutboxFigures for SeaOrmOutbox {
    async fn stats(&self) -> Result<OutboxStats, OutboxError> {
        let pending = || {
            outbox::Entity::find()
                .filter(outbox::Column::SentAt.is_null())
                .filter(outbox::Column::FailedAt.is_null())
        };
        let count = pending().count(&self.db).await.map_err(unavailable)?;
        let oldest = pending()
            .order_by_asc(outbox::Column::Id)
            .one(&self.db)
            .await
            .map_err(unavailable)?
            .map(|row| row.created_at);
        Ok(OutboxStats {
            pending: count,
            oldest_pending: oldest,
        })
    }
}

impl SeaOrmOutbox {
    /// The ids of up to `batch` finished rows queued before `before`.
    async fn finished_ids(
        &self,
        before: DateTime<Utc>,
        batch: u64,
    ) -> Result<Vec<i64>, OutboxError> {
        let finished = Condition::any()
            .add(outbox::Column::SentAt.is_not_null())
            .add(outbox::Column::FailedAt.is_not_null());
        let rows = outbox::Entity::find()
            .filter(finished)
            .filter(outbox::Column::CreatedAt.lt(before))
            .order_by_asc(outbox::Column::Id)
            .limit(batch)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(|row| row.id).collect())
    }
}

impl std::fmt::Debug for SeaOrmOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaOrmOutbox").finish_non_exhaustive()
    }
}
