//! Event delivery from the queue: take what is due (never a user's event before that
//! user's earlier ones on the same sink), deliver it to its sink, record the try, retry
//! with a growing delay, and after three days give up — a webhook endpoint that failed
//! that long is disabled, audited, and the superusers are told by mail. A worker runs
//! [`EventDelivery::deliver_due`] in a loop on every instance; the queue hands each
//! delivery to one worker at a time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use crate::ports::{
    Attempt, Clock, DeliveryError, EventPublisher, EventQueue, EventQueueError, EventSink,
    PendingDelivery, UserDirectory, UserFilter, WebhookSender,
};
use crate::{AuditAction, AuditEvent, Mail, MailPurpose};

/// Rows one purge statement deletes.
const PURGE_BATCH: u64 = 500;
/// Superusers told, at most, when an endpoint is disabled.
const NOTIFIED_SUPERUSERS: u64 = 50;

/// How the worker retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRetryPolicy {
    /// Deliveries taken per round.
    pub batch: u64,
    /// How long a taken delivery is the worker's before another may take it (longer
    /// than a webhook's timeout).
    pub lease: Duration,
    /// The delay after a webhook's first failure; it doubles with every further one.
    pub first_retry: Duration,
    /// The longest delay between a webhook's tries.
    pub max_retry: Duration,
    /// The longest delay between tries to publish to the stream.
    pub max_stream_retry: Duration,
    /// How long after its commit a delivery is given up (a webhook endpoint then
    /// disabled).
    pub give_up_after: Duration,
}

impl Default for EventRetryPolicy {
    /// 50 per round, 30 s leases (three times the longest try: a webhook's and a publish's
    /// 10 s); retries after 5 s, doubling to an hour apart (30 s to
    /// the stream); given up after 3 days.
    fn default() -> Self {
        Self {
            batch: 50,
            lease: Duration::from_secs(30),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            max_stream_retry: Duration::from_secs(30),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

impl EventRetryPolicy {
    /// When to try a delivery to `sink`, queued at `queued_at`, again after its failed try
    /// number `attempt` (1 for the first) at `now` — never past the give-up time —, or
    /// `None` to give it up.
    pub fn retry_after(
        &self,
        sink: &EventSink,
        attempt: u32,
        queued_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let longest = match sink {
            EventSink::Nats => self.max_stream_retry,
            EventSink::Webhook(_) => self.max_retry,
        };
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let delay =
            chrono::Duration::from_std(self.first_retry.saturating_mul(factor).min(longest))
                .ok()?;
        let give_up = queued_at + chrono::Duration::from_std(self.give_up_after).ok()?;
        (now < give_up).then(|| (now + delay).min(give_up))
    }
}

/// How one delivery ended this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Delivered,
    /// Failed, to be tried again.
    Retried,
    /// Failed for good.
    Failed,
}

impl Outcome {
    /// As metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::Failed => "failed",
        }
    }
}

/// One delivery's result: its sink kind, how it ended, and for a delivered one the time
/// from the commit to the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// `nats` or `webhook`.
    pub sink: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// From the commit to the delivery (delivered only).
    pub lag: Option<Duration>,
}

/// The delivery use case, over the queue and the sinks.
pub struct EventDelivery {
    queue: Arc<dyn EventQueue>,
    publisher: Option<Arc<dyn EventPublisher>>,
    sender: Arc<dyn WebhookSender>,
    superusers: Arc<dyn UserDirectory>,
    clock: Arc<dyn Clock>,
    policy: EventRetryPolicy,
}

impl EventDelivery {
    /// Delivery from `queue` to the stream through `publisher` (when the stream is on)
    /// and to webhooks through `sender`; `superusers` are told of a disabled endpoint.
    pub fn new(
        queue: Arc<dyn EventQueue>,
        publisher: Option<Arc<dyn EventPublisher>>,
        sender: Arc<dyn WebhookSender>,
        superusers: Arc<dyn UserDirectory>,
        clock: Arc<dyn Clock>,
        policy: EventRetryPolicy,
    ) -> Self {
        Self {
            queue,
            publisher,
            sender,
            superusers,
            clock,
            policy,
        }
    }

    /// The retry policy in force.
    pub fn policy(&self) -> EventRetryPolicy {
        self.policy
    }

    /// Delivers what is due now, concurrently (the queue never hands out two deliveries
    /// of one user to one sink at once); each delivery's result.
    ///
    /// # Errors
    /// [`EventQueueError`] when the queue cannot be reached (deliveries then wait; one
    /// delivered but not recorded is delivered again, with the same id, after its lease).
    pub async fn deliver_due(&self) -> Result<Vec<Delivered>, EventQueueError> {
        let due = self
            .queue
            .claim(self.policy.batch, self.policy.lease, self.clock.now())
            .await?;
        let results = join_all(due.into_iter().map(|pending| self.deliver(pending))).await;
        results.into_iter().collect()
    }

    /// Deletes events whose deliveries all finished more than `age` ago, in batches;
    /// how many.
    ///
    /// # Errors
    /// [`EventQueueError`].
    pub async fn purge_finished(&self, age: Duration) -> Result<u64, EventQueueError> {
        let Ok(age) = chrono::Duration::from_std(age) else {
            return Ok(0);
        };
        let before = self.clock.now() - age;
        let mut purged = 0;
        loop {
            let batch = self.queue.purge_finished(before, PURGE_BATCH).await?;
            purged += batch;
            if batch < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    async fn deliver(&self, pending: PendingDelivery) -> Result<Delivered, EventQueueError> {
        let started = self.clock.now();
        let clock = std::time::Instant::now();
        let (status, failure) = match &pending.sink {
            EventSink::Nats => match &self.publisher {
                Some(publisher) => match publisher.publish(&pending.event).await {
                    Ok(()) => (None, None),
                    Err(DeliveryError::Transient(error) | DeliveryError::Permanent(error)) => {
                        (None, Some(format!("{error:#}")))
                    }
                },
                None => (None, Some("the stream is not configured".to_owned())),
            },
            EventSink::Webhook(target) => match self.sender.send(target, &pending.event).await {
                Ok(status) => (Some(status), None),
                Err(failure) => (failure.status, Some(failure.error)),
            },
        };
        let attempt = Attempt {
            at: started,
            status,
            error: failure.clone(),
            duration: clock.elapsed(),
        };
        let sink = pending.sink.kind();
        let now = self.clock.now();
        let Some(reason) = failure else {
            self.queue.record(pending.id, attempt, true, None).await?;
            let lag = (now - pending.queued_at).to_std().unwrap_or_default();
            return Ok(Delivered {
                sink,
                outcome: Outcome::Delivered,
                lag: Some(lag),
            });
        };
        let tries = pending.attempts + 1;
        let retry_at = self
            .policy
            .retry_after(&pending.sink, tries, pending.queued_at, now);
        self.queue
            .record(pending.id, attempt, false, retry_at)
            .await?;
        let event_id = pending.event.id.as_str();
        let outcome = if retry_at.is_some() {
            tracing::warn!(
                event_id,
                sink,
                tries,
                reason,
                "event not delivered: will retry"
            );
            Outcome::Retried
        } else {
            tracing::error!(event_id, sink, tries, reason, "event delivery given up");
            if let EventSink::Webhook(target) = &pending.sink {
                self.disable(target.id, event_id, now).await?;
            }
            Outcome::Failed
        };
        Ok(Delivered {
            sink,
            outcome,
            lag: None,
        })
    }

    /// Disables the endpoint `id`, audited, and mails the active superusers.
    async fn disable(
        &self,
        id: i64,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EventQueueError> {
        let filter = UserFilter {
            is_active: Some(true),
            is_superuser: Some(true),
            ..UserFilter::default()
        };
        let notices = match self
            .superusers
            .list(&filter, None, NOTIFIED_SUPERUSERS)
            .await
        {
            Ok(superusers) => superusers
                .into_iter()
                .map(|user| Mail::notice(user.email().clone(), MailPurpose::WebhookDisabled))
                .collect(),
            Err(error) => return Err(EventQueueError(anyhow::Error::new(error))),
        };
        let mut audit = AuditEvent::new(AuditAction::WebhookDisabled);
        audit
            .details
            .insert("webhook_id".to_owned(), serde_json::json!(id));
        audit
            .details
            .insert("event_id".to_owned(), serde_json::json!(event_id));
        let reason = "deliveries failed for 3 days";
        if self
            .queue
            .disable_endpoint(id, reason, now, notices, audit)
            .await?
        {
            tracing::error!(webhook_id = id, "webhook endpoint disabled: {reason}");
        }
        Ok(())
    }
}
