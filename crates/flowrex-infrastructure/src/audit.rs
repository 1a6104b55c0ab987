//! The audit trail on sea-orm (`audit_events`), and where each event came from.
//!
//! The domain says what happened, who did it to whom and in which session; the request an
//! event is written in says from where ([`with_origin`], in `event_rows.rs`, with the row
//! each event becomes). Events that go with a change are inserted by the stores in the
//! change's transaction; failed logins, which change nothing, go through
//! [`SeaOrmAuditLog::record`]: a bounded queue that a background task writes in batches, so
//! that a flood of failed logins never waits on (nor slows) the database — past
//! [`QUEUE_CAPACITY`] waiting events, new ones are dropped and counted
//! (`flowrex_audit_dropped_total`). Logins the throttle refused unchecked are only counted
//! ([`SeaOrmAuditLog::count_throttled`]): per key and window in memory (at most
//! [`THROTTLED_WINDOWS`] windows), each window written as one `login_throttled` event when
//! it ends, or at shutdown ([`SeaOrmAuditLog::flush`]). Each stored event is also logged as
//! a line with target `flowrex::audit` (JSON in production), for log shippers.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{AuditLog, RepositoryError};
use flowrex_domain::{
    AuditEvent, AuditFilter, RecordedEvent, ThrottleTally, ThrottledLogin, UserId,
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::mpsc;

use crate::database::repository_error;
use crate::db_error::read_retrying;
use crate::entity::users::id_column;
use crate::entity::{audit_events, users};
use crate::event_rows::{EventRow, current_origin, log_rows};
pub use crate::event_rows::{Origin, with_origin};

/// Failed-login events waiting to be written, at most.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Throttled-login windows counted in memory, at most.
pub const THROTTLED_WINDOWS: usize = 10_000;
/// Events one background insert writes, at most.
const BATCH: usize = 200;
/// How often ended throttled-login windows are looked for.
const TALLY_TICK: Duration = Duration::from_secs(1);

/// Throttled logins counted per key and window, with each window's first request's origin.
type Tally = Arc<Mutex<ThrottleTally<Origin>>>;

/// The trail in `audit_events`.
#[derive(Clone)]
pub struct SeaOrmAuditLog {
    db: DatabaseConnection,
    queue: mpsc::Sender<EventRow>,
    throttled: Tally,
}

impl SeaOrmAuditLog {
    /// The trail over a pool, with its background writer (call inside a tokio runtime).
    pub fn new(db: DatabaseConnection) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let throttled = Arc::new(Mutex::new(ThrottleTally::new(THROTTLED_WINDOWS)));
        tokio::spawn(write_queued(db.clone(), receiver, throttled.clone()));
        Self {
            db,
            queue,
            throttled,
        }
    }

    /// Writes the throttled-login windows still counting (their counts so far): at
    /// shutdown, so that a stopping service loses none.
    pub async fn flush(&self) {
        let rows = ended_windows(&self.throttled, None);
        if !rows.is_empty() {
            write_batch(&self.db, rows).await;
        }
    }
}

/// The rows of the throttled-login windows ended by `now` (all of them with `None`).
fn ended_windows(tally: &Tally, now: Option<DateTime<Utc>>) -> Vec<EventRow> {
    let ended = tally
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take_ended(now);
    let at = Utc::now();
    ended
        .into_iter()
        .map(|(event, origin)| EventRow::from(&event, at, None, origin))
        .collect()
}

/// Gives each row naming its subject by address that account's id, in one query per
/// batch; rows whose address has no account are dropped (unknown addresses leave no
/// event). A lookup that fails keeps the rows for the retry.
async fn resolve_subjects(
    db: &DatabaseConnection,
    batch: &mut Vec<EventRow>,
) -> Result<(), sea_orm::DbErr> {
    let keys: Vec<String> = batch
        .iter()
        .filter_map(|row| row.subject_key.clone())
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let found: std::collections::HashMap<String, i32> = users::Entity::find()
        .filter(users::Column::EmailKey.is_in(keys))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|user| Some((user.email_key?, user.id)))
        .collect();
    batch.retain_mut(|row| match row.subject_key.take() {
        None => true,
        Some(key) => {
            row.subject_id = found.get(&key).copied();
            row.subject_id.is_some()
        }
    });
    Ok(())
}

/// Writes queued events in batches, and the throttled-login windows as they end, until
/// every sender is gone.
async fn write_queued(
    db: DatabaseConnection,
    mut receiver: mpsc::Receiver<EventRow>,
    throttled: Tally,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut ticks = tokio::time::interval(TALLY_TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = receiver.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break;
                }
                write_batch(&db, std::mem::take(&mut batch)).await;
            }
            _ = ticks.tick() => {
                let rows = ended_windows(&throttled, Some(Utc::now()));
                if !rows.is_empty() {
                    write_batch(&db, rows).await;
                }
            }
        }
    }
}

/// Writes `batch` (its subjects named by address resolved first); a batch the database
/// refuses is retried a few times, then dropped and counted.
async fn write_batch(db: &DatabaseConnection, mut batch: Vec<EventRow>) {
    if let Err(error) = resolve_subjects(db, &mut batch).await {
        tracing::warn!(%error, "audit subjects not looked up; retrying once");
        tokio::time::sleep(Duration::from_millis(500)).await;
        if resolve_subjects(db, &mut batch).await.is_err() {
            batch.retain(|row| row.subject_key.is_none());
        }
    }
    if batch.is_empty() {
        return;
    }
    let mut tries = 0;
    loop {
        match audit_events::Entity::insert_many(batch.iter().map(EventRow::model))
            .exec(db)
            .await
        {
            Ok(_) => {
                log_rows(&batch);
                break;
            }
            Err(error) if tries < 3 => {
                tries += 1;
                tracing::warn!(%error, "audit events not written yet; retrying");
                tokio::time::sleep(Duration::from_millis(500 * tries)).await;
            }
            Err(error) => {
                tracing::error!(%error, lost = batch.len(), "audit events lost");
                metrics::counter!("flowrex_audit_dropped_total").increment(batch.len() as u64);
                break;
            }
        }
    }
}

fn recorded(row: audit_events::Model) -> RecordedEvent {
    RecordedEvent {
        id: row.id,
        action: row.action,
        created_at: row.created_at,
        actor: row.actor_id.map(|id| UserId::new(i64::from(id))),
        subject: row.subject_id.map(|id| UserId::new(i64::from(id))),
        session: row.session_id,
        ip: row.ip,
        user_agent: row.user_agent,
        request_id: row.request_id,
        details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
    }
}

#[async_trait]
impl AuditLog for SeaOrmAuditLog {
    async fn record(&self, event: AuditEvent) {
        let row = EventRow::of(&event, Utc::now(), None);
        if self.queue.try_send(row).is_err() {
            metrics::counter!("flowrex_audit_dropped_total").increment(1);
        }
    }

    async fn count_throttled(&self, refused: ThrottledLogin) {
        let counted = self
            .throttled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count(refused, current_origin);
        if !counted {
            metrics::counter!("flowrex_audit_dropped_total").increment(1);
        }
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, RepositoryError> {
        let mut condition = Condition::all();
        let column = |id: UserId| id_column(id).unwrap_or(-1);
        if let Some(user) = filter.user {
            condition = condition.add(
                Condition::any()
                    .add(audit_events::Column::ActorId.eq(column(user)))
                    .add(audit_events::Column::SubjectId.eq(column(user))),
            );
        }
        if let Some(subject) = filter.subject {
            condition = condition.add(audit_events::Column::SubjectId.eq(column(subject)));
        }
        if let Some(action) = filter.action {
            condition = condition.add(audit_events::Column::Action.eq(action.as_str()));
        }
        if let Some(since) = filter.since {
            condition = condition.add(audit_events::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            condition = condition.add(audit_events::Column::CreatedAt.lt(until));
        }
        if let Some(before) = before {
            condition = condition.add(audit_events::Column::Id.lt(before));
        }
        read_retrying(|| {
            audit_events::Entity::find()
                .filter(condition.clone())
                .order_by_desc(audit_events::Column::Id)
                .limit(limit)
                .all(&self.db)
        })
        .await
        .map(|rows| rows.into_iter().map(recorded).collect())
        .map_err(repository_error)
    }

    async fn purge_before(
        &self,
        before: DateTime<Utc>,
        batch: u64,
    ) -> Result<u64, RepositoryError> {
        // By id, so that one statement touches at most `batch` rows on every backend.
        let ids: Vec<i64> = audit_events::Entity::find()
            .filter(audit_events::Column::CreatedAt.lt(before))
            .order_by_asc(audit_events::Column::Id)
            .limit(batch)
            .all(&self.db)
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(|row| row.id)
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        audit_events::Entity::delete_many()
            .filter(audit_events::Column::Id.is_in(ids))
            .exec(&self.db)
            .await
            .map(|done| done.rows_affected)
            .map_err(repository_error)
    }
}

impl std::fmt::Debug for SeaOrmAuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaOrmAuditLog").finish_non_exhaustive()
    }
}
