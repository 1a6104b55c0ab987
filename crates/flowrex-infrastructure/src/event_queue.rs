//! Account events on sea-orm: the events a change announces, queued in its transaction
//! (`announce`, called by [`crate::SeaOrmAccountStore`]) with one delivery per sink —
//! the stream when it is on, and every enabled webhook endpoint that wants the type —;
//! the queue workers claim from ([`SeaOrmEventQueue`]: leases, `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL and MySQL/MariaDB, and never a user's delivery while an earlier one of
//! that user's to the same sink is pending); and the webhook endpoints, their secrets
//! sealed ([`SecretBox`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{
    Attempt, DeliveryRecord, EventFilter, EventQueue, EventQueueError, EventSink,
    NewWebhookEndpoint, PendingDelivery, WebhookEndpoint, WebhookEndpointChange, WebhookStore,
    WebhookTarget,
};
use flowrex_domain::{AccountEvent, AuditEvent, EventType, Mail, UserId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};

use crate::entity::event_deliveries::{self, DELIVERED, FAILED, NATS_LANE, PENDING, webhook_lane};
use crate::entity::outbox::queued_row;
use crate::entity::users::id_column;
use crate::entity::{account_events, webhook_endpoints};
use crate::event_rows::{insert_events, log_rows};
use crate::secret_box::SecretBox;

/// Longest error text kept with a delivery (the column's size).
const MAX_ERROR_CHARS: usize = 500;

fn unavailable(error: impl Into<anyhow::Error>) -> EventQueueError {
    EventQueueError(error.into())
}

/// Where a change set's events go: the stream (when on) and the enabled webhook endpoints
/// that want each type; and whom to wake once they are committed.
#[derive(Debug, Clone, Default)]
pub struct EventRouting {
    /// Whether the stream is on (`EVENTS_NATS_URL`).
    pub stream: bool,
    /// The local delivery worker, woken after a commit that queued events (the other
    /// instances' workers find them at their next poll).
    pub wake: Option<Arc<tokio::sync::Notify>>,
}

/// Inserts `events` and their deliveries inside `conn`'s transaction.
pub(crate) async fn announce(
    conn: &impl ConnectionTrait,
    events: &[AccountEvent],
    routing: &EventRouting,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let endpoints = webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::Enabled.eq(true))
        .order_by_asc(webhook_endpoints::Column::Id)
        .all(conn)
        .await?;
    let endpoints: Vec<(i64, EventFilter)> = endpoints
        .into_iter()
        .filter_map(|row| Some((row.id, filter_of(&row.events)?)))
        .collect();
    for event in events {
        let mut lanes: Vec<(String, Option<i64>)> = Vec::new();
        if routing.stream {
            lanes.push((NATS_LANE.to_owned(), None));
        }
        for (id, filter) in &endpoints {
            if filter.wants(event.kind) {
                lanes.push((webhook_lane(*id), Some(*id)));
            }
        }
        // An event no sink takes is not kept: nothing would ever read it.
        if !lanes.is_empty() {
            queue_event(conn, event, &lanes, at).await?;
        }
    }
    Ok(())
}

/// Inserts `event` with one pending delivery per lane of `lanes`.
async fn queue_event(
    conn: &impl ConnectionTrait,
    event: &AccountEvent,
    lanes: &[(String, Option<i64>)],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let user = event.user.and_then(id_column);
    let row = account_events::ActiveModel {
        event_id: Set(event.id.clone()),
        event_type: Set(event.kind.as_str().to_owned()),
        user_id: Set(user),
        payload: Set(event.data.to_string()),
        created_at: Set(event.time),
        ..Default::default()
    };
    let event_row = account_events::Entity::insert(row)
        .exec(conn)
        .await?
        .last_insert_id;
    for (lane, endpoint) in lanes {
        event_deliveries::ActiveModel {
            event_row_id: Set(event_row),
            lane: Set(lane.clone()),
            endpoint_id: Set(*endpoint),
            user_id: Set(user),
            status: Set(PENDING.to_owned()),
            attempts: Set(0),
            created_at: Set(at),
            next_attempt_at: Set(at),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

fn filter_of(stored: &str) -> Option<EventFilter> {
    let names: Vec<String> = serde_json::from_str(stored).ok()?;
    EventFilter::parse(&names)
}

fn stored_filter(filter: &EventFilter) -> String {
    serde_json::to_string(&filter.names()).unwrap_or_else(|_| "[]".to_owned())
}

/// The event queue and the webhook endpoints over a pool.
#[derive(Clone)]
pub struct SeaOrmEventQueue {
    db: DatabaseConnection,
    /// Seals the endpoints' secrets.
    secrets: Arc<SecretBox>,
    /// Seals the notices queued in the mail outbox.
    mail: Arc<SecretBox>,
}

impl SeaOrmEventQueue {
    /// The queue over `db`; endpoints' secrets sealed with `secrets`, notices with `mail`
    /// (the outbox's).
    pub fn new(db: DatabaseConnection, secrets: Arc<SecretBox>, mail: Arc<SecretBox>) -> Self {
        Self { db, secrets, mail }
    }

    fn endpoint(row: webhook_endpoints::Model) -> WebhookEndpoint {
        WebhookEndpoint {
            id: row.id,
            events: filter_of(&row.events).unwrap_or(EventFilter::Only(Vec::new())),
            url: row.url,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            previous_secret_until: row.previous_secret_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    fn open(&self, sealed: &str) -> Option<SecretString> {
        let plain = self.secrets.open(sealed).ok()?;
        String::from_utf8(plain).ok().map(SecretString::from)
    }

    /// The sender's view of `row`: its secrets opened (the previous one while it still
    /// signs at `now`).
    fn target(&self, row: &webhook_endpoints::Model, now: DateTime<Utc>) -> WebhookTarget {
        let mut secrets: Vec<SecretString> = self.open(&row.secret).into_iter().collect();
        if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until)
            && until > now
        {
            secrets.extend(self.open(previous));
        }
        WebhookTarget {
            id: row.id,
            url: row.url.clone(),
            secrets,
        }
    }

    /// The pending, due, unleased deliveries that are the earliest pending of their user
    /// on their lane.
    fn due(now: DateTime<Utc>) -> Condition {
        let earlier = Alias::new("earlier");
        let blocked = Query::select()
            .expr(Expr::val(1))
            .from_as(event_deliveries::Entity, earlier.clone())
            .and_where(
                Expr::col((earlier.clone(), event_deliveries::Column::Lane))
                    .equals((event_deliveries::Entity, event_deliveries::Column::Lane)),
            )
            .and_where(
                Expr::col((earlier.clone(), event_deliveries::Column::UserId))
                    .equals((event_deliveries::Entity, event_deliveries::Column::UserId)),
            )
            .and_where(
                Expr::col((earlier.clone(), event_deliveries::Column::Id)).lt(Expr::col((
                    event_deliveries::Entity,
                    event_deliveries::Column::Id,
                ))),
            )
            .and_where(Expr::col((earlier, event_deliveries::Column::Status)).eq(PENDING))
            .to_owned();
        Condition::all()
            .add(event_deliveries::Column::Status.eq(PENDING))
            .add(event_deliveries::Column::NextAttemptAt.lte(now))
            .add(
                Condition::any()
                    .add(event_deliveries::Column::LockedUntil.is_null())
                    .add(event_deliveries::Column::LockedUntil.lte(now)),
            )
            .add(Expr::exists(blocked).not())
    }

    /// Leases each of `rows` still due (a compare-and-set: one another worker took
    /// meanwhile is left to it), and reads its event and endpoint.
    async fn take(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<event_deliveries::Model>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingDelivery>, EventQueueError> {
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            // The due condition restated without its subquery: MySQL refuses an UPDATE whose
            // subquery reads the table it updates; the select already applied it.
            let leased = event_deliveries::Entity::update_many()
                .col_expr(event_deliveries::Column::LockedUntil, Expr::value(until))
                .filter(event_deliveries::Column::Id.eq(row.id))
                .filter(event_deliveries::Column::Status.eq(PENDING))
                .filter(event_deliveries::Column::NextAttemptAt.lte(now))
                .filter(
                    Condition::any()
                        .add(event_deliveries::Column::LockedUntil.is_null())
                        .add(event_deliveries::Column::LockedUntil.lte(now)),
                )
                .exec(conn)
                .await
                .map_err(unavailable)?;
            if leased.rows_affected != 1 {
                continue;
            }
            let event = account_events::Entity::find_by_id(row.event_row_id)
                .one(conn)
                .await
                .map_err(unavailable)?
                .and_then(event_of);
            let sink = match row.endpoint_id {
                None => Some(EventSink::Nats),
                Some(id) => webhook_endpoints::Entity::find_by_id(id)
                    .one(conn)
                    .await
                    .map_err(unavailable)?
                    .filter(|endpoint| endpoint.enabled)
                    .map(|endpoint| EventSink::Webhook(self.target(&endpoint, now))),
            };
            let (Some(event), Some(sink)) = (event, sink) else {
                give_up(conn, row.id, now, "the event or its endpoint is gone")
                    .await
                    .map_err(unavailable)?;
                continue;
            };
            claimed.push(PendingDelivery {
                id: row.id,
                sink,
                event,
                attempts: u32::try_from(row.attempts).unwrap_or(0),
                queued_at: row.created_at,
            });
        }
        Ok(claimed)
    }
}

/// The event a row holds.
fn event_of(row: account_events::Model) -> Option<AccountEvent> {
    Some(AccountEvent {
        kind: EventType::parse(&row.event_type)?,
        data: serde_json::from_str(&row.payload).ok()?,
        id: row.event_id,
        time: row.created_at,
        user: row.user_id.map(|id| UserId::new(i64::from(id))),
    })
}

#[async_trait]
impl EventQueue for SeaOrmEventQueue {
    async fn claim(
        &self,
        limit: u64,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingDelivery>, EventQueueError> {
        let until = now + chrono::Duration::from_std(lease).map_err(unavailable)?;
        let select = event_deliveries::Entity::find()
            .filter(Self::due(now))
            .order_by_asc(event_deliveries::Column::Id)
            .limit(limit);
        if self.db.get_database_backend() == DbBackend::Sqlite {
            // One writer at a time: each row is taken by its own conditional update.
            let rows = select.all(&self.db).await.map_err(unavailable)?;
            return self.take(&self.db, rows, until, now).await;
        }
        let txn = self.db.begin().await.map_err(unavailable)?;
        let rows = select
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await
            .map_err(unavailable)?;
        let claimed = self.take(&txn, rows, until, now).await?;
        txn.commit().await.map_err(unavailable)?;
        Ok(claimed)
    }

    async fn record(
        &self,
        id: i64,
        attempt: Attempt,
        delivered: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), EventQueueError> {
        let error = attempt
            .error
            .map(|error| error.chars().take(MAX_ERROR_CHARS).collect::<String>());
        let millis = i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX);
        let mut update = event_deliveries::Entity::update_many()
            .col_expr(
                event_deliveries::Column::Attempts,
                Expr::col(event_deliveries::Column::Attempts).add(1),
            )
            .col_expr(
                event_deliveries::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                event_deliveries::Column::LastAttemptAt,
                Expr::value(attempt.at),
            )
            .col_expr(
                event_deliveries::Column::LastStatus,
                Expr::value(attempt.status.map(i32::from)),
            )
            .col_expr(event_deliveries::Column::LastError, Expr::value(error))
            .col_expr(
                event_deliveries::Column::LastDurationMs,
                Expr::value(millis),
            );
        let finished =
            attempt.at + chrono::Duration::from_std(attempt.duration).unwrap_or_default();
        update = match (delivered, retry_at) {
            (true, _) => update
                .col_expr(event_deliveries::Column::Status, Expr::value(DELIVERED))
                .col_expr(event_deliveries::Column::FinishedAt, Expr::value(finished)),
            (false, Some(at)) => {
                update.col_expr(event_deliveries::Column::NextAttemptAt, Expr::value(at))
            }
            (false, None) => update
                .col_expr(event_deliveries::Column::Status, Expr::value(FAILED))
                .col_expr(event_deliveries::Column::FinishedAt, Expr::value(finished)),
        };
        // Only a pending delivery: a late worker never overwrites one delivered or given
        // up meanwhile.
        update
            .filter(event_deliveries::Column::Id.eq(id))
            .filter(event_deliveries::Column::Status.eq(PENDING))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn disable_endpoint(
        &self,
        id: i64,
        reason: &str,
        at: DateTime<Utc>,
        notices: Vec<Mail>,
        audit: AuditEvent,
    ) -> Result<bool, EventQueueError> {
        let txn = self.db.begin().await.map_err(unavailable)?;
        let disabled = webhook_endpoints::Entity::update_many()
            .col_expr(webhook_endpoints::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoints::Column::DisabledReason,
                Expr::value(reason.to_owned()),
            )
            .col_expr(webhook_endpoints::Column::UpdatedAt, Expr::value(at))
            .filter(webhook_endpoints::Column::Id.eq(id))
            .filter(webhook_endpoints::Column::Enabled.eq(true))
            .exec(&txn)
            .await
            .map_err(unavailable)?;
        if disabled.rows_affected != 1 {
            return Ok(false);
        }
        give_up_pending(&txn, id, at).await.map_err(unavailable)?;
        for mail in &notices {
            crate::entity::outbox::Entity::insert(queued_row(&self.mail, mail, at))
                .exec(&txn)
                .await
                .map_err(unavailable)?;
        }
        commit_audited(txn, audit, at).await?;
        Ok(true)
    }

    async fn purge_finished(
        &self,
        before: DateTime<Utc>,
        batch: u64,
    ) -> Result<u64, EventQueueError> {
        // Events older than `before` none of whose deliveries is pending.
        let pending = Query::select()
            .expr(Expr::val(1))
            .from(event_deliveries::Entity)
            .and_where(
                Expr::col((
                    event_deliveries::Entity,
                    event_deliveries::Column::EventRowId,
                ))
                .equals((account_events::Entity, account_events::Column::Id)),
            )
            .and_where(
                Expr::col((event_deliveries::Entity, event_deliveries::Column::Status)).eq(PENDING),
            )
            .to_owned();
        let ids: Vec<i64> = account_events::Entity::find()
            .filter(account_events::Column::CreatedAt.lt(before))
            .filter(Expr::exists(pending).not())
            .order_by_asc(account_events::Column::Id)
            .limit(batch)
            .all(&self.db)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|row| row.id)
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin().await.map_err(unavailable)?;
        event_deliveries::Entity::delete_many()
            .filter(event_deliveries::Column::EventRowId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(unavailable)?;
        let deleted = account_events::Entity::delete_many()
            .filter(account_events::Column::Id.is_in(ids))
            .exec(&txn)
            .await
            .map_err(unavailable)?
            .rows_affected;
        txn.commit().await.map_err(unavailable)?;
        Ok(deleted)
    }

    async fn waiting(&self) -> Result<Vec<(String, u64)>, EventQueueError> {
        let mut waiting = Vec::new();
        for (kind, lanes) in [
            (
                "nats",
                Condition::all().add(event_deliveries::Column::EndpointId.is_null()),
            ),
            (
                "webhook",
                Condition::all().add(event_deliveries::Column::EndpointId.is_not_null()),
            ),
        ] {
            let count = event_deliveries::Entity::find()
                .filter(event_deliveries::Column::Status.eq(PENDING))
                .filter(lanes)
                .count(&self.db)
                .await
                .map_err(unavailable)?;
            waiting.push((kind.to_owned(), count));
        }
        Ok(waiting)
    }
}

/// Records `audit` in `txn` and commits it, then logs the event.
async fn commit_audited(
    txn: DatabaseTransaction,
    audit: AuditEvent,
    at: DateTime<Utc>,
) -> Result<(), EventQueueError> {
    let rows = insert_events(&txn, &[audit], at, None)
        .await
        .map_err(unavailable)?;
    txn.commit().await.map_err(unavailable)?;
    log_rows(&rows);
    Ok(())
}

/// The endpoint `id`'s row, read in `txn`.
async fn endpoint_row(
    txn: &DatabaseTransaction,
    id: i64,
) -> Result<Option<webhook_endpoints::Model>, EventQueueError> {
    webhook_endpoints::Entity::find_by_id(id)
        .one(txn)
        .await
        .map_err(unavailable)
}

/// Gives up the deliveries `which` selects, saying `why`.
async fn give_up_where(
    conn: &impl ConnectionTrait,
    which: Condition,
    at: DateTime<Utc>,
    why: &str,
) -> Result<(), DbErr> {
    event_deliveries::Entity::update_many()
        .col_expr(event_deliveries::Column::Status, Expr::value(FAILED))
        .col_expr(event_deliveries::Column::FinishedAt, Expr::value(at))
        .col_expr(
            event_deliveries::Column::LastError,
            Expr::value(why.to_owned()),
        )
        .col_expr(
            event_deliveries::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(which)
        .exec(conn)
        .await
        .map(|_| ())
}

/// Gives up the delivery `id`, saying `why`.
async fn give_up(
    conn: &impl ConnectionTrait,
    id: i64,
    at: DateTime<Utc>,
    why: &str,
) -> Result<(), DbErr> {
    let which = Condition::all().add(event_deliveries::Column::Id.eq(id));
    give_up_where(conn, which, at, why).await
}

/// Gives up the pending deliveries to the endpoint `id`.
async fn give_up_pending(
    conn: &impl ConnectionTrait,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let which = Condition::all()
        .add(event_deliveries::Column::EndpointId.eq(id))
        .add(event_deliveries::Column::Status.eq(PENDING));
    give_up_where(conn, which, at, "the endpoint was disabled").await
}

#[async_trait]
impl WebhookStore for SeaOrmEventQueue {
    async fn create(
        &self,
        new: NewWebhookEndpoint,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<WebhookEndpoint, EventQueueError> {
        let txn = self.db.begin().await.map_err(unavailable)?;
        let row = webhook_endpoints::ActiveModel {
            url: Set(new.url),
            events: Set(stored_filter(&new.events)),
            description: Set(new.description),
            enabled: Set(true),
            secret: Set(self.secrets.seal(new.secret.expose_secret().as_bytes())),
            previous_secret: Set(None),
            previous_secret_until: Set(None),
            disabled_reason: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(unavailable)?;
        let audit = audit.with("webhook_id", row.id);
        commit_audited(txn, audit, at).await?;
        Ok(Self::endpoint(row))
    }

    async fn list(&self) -> Result<Vec<WebhookEndpoint>, EventQueueError> {
        Ok(webhook_endpoints::Entity::find()
            .order_by_asc(webhook_endpoints::Column::Id)
            .all(&self.db)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(Self::endpoint)
            .collect())
    }

    async fn get(&self, id: i64) -> Result<Option<WebhookEndpoint>, EventQueueError> {
        Ok(webhook_endpoints::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(unavailable)?
            .map(Self::endpoint))
    }

    async fn update(
        &self,
        id: i64,
        change: WebhookEndpointChange,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<Option<WebhookEndpoint>, EventQueueError> {
        let txn = self.db.begin().await.map_err(unavailable)?;
        let Some(row) = endpoint_row(&txn, id).await? else {
            return Ok(None);
        };
        let mut row: webhook_endpoints::ActiveModel = row.into();
        if let Some(url) = change.url {
            row.url = Set(url);
        }
        if let Some(events) = &change.events {
            row.events = Set(stored_filter(events));
        }
        if let Some(description) = change.description {
            row.description = Set(description);
        }
        if let Some(enabled) = change.enabled {
            row.enabled = Set(enabled);
            if enabled {
                row.disabled_reason = Set(None);
            }
        }
        row.updated_at = Set(at);
        let row = row.update(&txn).await.map_err(unavailable)?;
        if !row.enabled {
            give_up_pending(&txn, id, at).await.map_err(unavailable)?;
        }
        commit_audited(txn, audit, at).await?;
        Ok(Some(Self::endpoint(row)))
    }

    async fn delete(
        &self,
        id: i64,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<bool, EventQueueError> {
        let txn = self.db.begin().await.map_err(unavailable)?;
        // By name, so that no backend setting (SQLite's `foreign_keys`) leaves a delivery.
        event_deliveries::Entity::delete_many()
            .filter(event_deliveries::Column::EndpointId.eq(id))
            .exec(&txn)
            .await
            .map_err(unavailable)?;
        let deleted = webhook_endpoints::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(unavailable)?
            .rows_affected;
        if deleted != 1 {
            return Ok(false);
        }
        commit_audited(txn, audit, at).await?;
        Ok(true)
    }

    async fn rotate(
        &self,
        id: i64,
        secret: SecretString,
        previous_until: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<Option<WebhookEndpoint>, EventQueueError> {
        let txn = self.db.begin().await.map_err(unavailable)?;
        let Some(row) = endpoint_row(&txn, id).await? else {
            return Ok(None);
        };
        let current = row.secret.clone();
        let mut row: webhook_endpoints::ActiveModel = row.into();
        row.previous_secret = Set(Some(current));
        row.previous_secret_until = Set(Some(previous_until));
        row.secret = Set(self.secrets.seal(secret.expose_secret().as_bytes()));
        row.updated_at = Set(at);
        let row = row.update(&txn).await.map_err(unavailable)?;
        commit_audited(txn, audit, at).await?;
        Ok(Some(Self::endpoint(row)))
    }

    async fn queue(
        &self,
        id: i64,
        event: AccountEvent,
        at: DateTime<Utc>,
    ) -> Result<bool, EventQueueError> {
        let txn = self.db.begin().await.map_err(unavailable)?;
        if endpoint_row(&txn, id).await?.is_none() {
            return Ok(false);
        }
        queue_event(&txn, &event, &[(webhook_lane(id), Some(id))], at)
            .await
            .map_err(unavailable)?;
        txn.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn deliveries(
        &self,
        id: i64,
        limit: u64,
    ) -> Result<Vec<DeliveryRecord>, EventQueueError> {
        let rows = event_deliveries::Entity::find()
            .filter(event_deliveries::Column::EndpointId.eq(id))
            .order_by_desc(event_deliveries::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        let event_rows: Vec<i64> = rows.iter().map(|row| row.event_row_id).collect();
        let events = account_events::Entity::find()
            .filter(account_events::Column::Id.is_in(event_rows))
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let event = events.iter().find(|event| event.id == row.event_row_id)?;
                Some(DeliveryRecord {
                    event_id: event.event_id.clone(),
                    event_type: event.event_type.clone(),
                    queued_at: row.created_at,
                    attempts: u32::try_from(row.attempts).unwrap_or(0),
                    last_attempt_at: row.last_attempt_at,
                    last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
                    last_error: row.last_error,
                    last_duration_ms: row.last_duration_ms.and_then(|ms| u32::try_from(ms).ok()),
                    next_attempt_at: (row.status == PENDING).then_some(row.next_attempt_at),
                    status: row.status,
                })
            })
            .collect())
    }
}

impl std::fmt::Debug for SeaOrmEventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaOrmEventQueue").finish_non_exhaustive()
    }
}
