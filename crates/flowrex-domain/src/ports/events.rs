//! Account events after the commit: the queue of their deliveries (filled by
//! [`super::AccountStore::apply`] in the change's transaction, one delivery per event and
//! sink), the sinks that carry them (a NATS JetStream stream, webhooks), and the webhook
//! endpoints superusers manage.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::DeliveryError;
use crate::{AccountEvent, AuditEvent, EventType, Mail};

/// The event queue cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("event queue unavailable")]
pub struct EventQueueError(#[source] pub anyhow::Error);

/// A webhook endpoint, as the sender needs it.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Its id.
    pub id: i64,
    /// Where deliveries are `POST`ed.
    pub url: String,
    /// The secrets that sign (the current one first; the one before a rotation while it
    /// still signs).
    pub secrets: Vec<SecretString>,
}

/// Where one delivery goes.
#[derive(Debug, Clone)]
pub enum EventSink {
    /// The NATS JetStream stream.
    Nats,
    /// A webhook endpoint.
    Webhook(WebhookTarget),
}

impl EventSink {
    /// `nats` or `webhook`, as metrics name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Nats => "nats",
            Self::Webhook(_) => "webhook",
        }
    }
}

/// A delivery taken from the queue.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    /// Its row.
    pub id: i64,
    /// Where it goes.
    pub sink: EventSink,
    /// What.
    pub event: AccountEvent,
    /// Tries before this one.
    pub attempts: u32,
    /// When it was queued (the change's commit).
    pub queued_at: DateTime<Utc>,
}

/// What one try did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when it did (never a secret or a body).
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// The queue of deliveries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Takes up to `limit` deliveries due at `now`, each for `lease`, and never one of a
    /// user while an earlier delivery of that user's to the same sink is still pending
    /// (per-user order). MUST NOT hand one delivery to two workers at once.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn claim(
        &self,
        limit: u64,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingDelivery>, EventQueueError>;

    /// Records a try: delivered (`retry_at` unused), to be tried again from `retry_at`,
    /// or given up (`delivered` false and `retry_at` `None`).
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn record(
        &self,
        id: i64,
        attempt: Attempt,
        delivered: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), EventQueueError>;

    /// Disables the webhook endpoint `id` (its pending deliveries given up), in one
    /// transaction with `notices` queued and `audit` recorded — unless it was disabled or
    /// gone already (`false`: nothing done).
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn disable_endpoint(
        &self,
        id: i64,
        reason: &str,
        at: DateTime<Utc>,
        notices: Vec<Mail>,
        audit: AuditEvent,
    ) -> Result<bool, EventQueueError>;

    /// Deletes up to `batch` events whose every delivery finished before `before`; how
    /// many.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn purge_finished(
        &self,
        before: DateTime<Utc>,
        batch: u64,
    ) -> Result<u64, EventQueueError>;

    /// Pending deliveries per sink kind (`nats`, `webhook`).
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn waiting(&self) -> Result<Vec<(String, u64)>, EventQueueError>;
}

/// Publishes to the NATS JetStream stream.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `event`, done only once the stream acknowledged it; a second publish of
    /// the same id within the stream's duplicate window is dropped by the stream.
    ///
    /// # Errors
    /// [`DeliveryError`].
    async fn publish(&self, event: &AccountEvent) -> Result<(), DeliveryError>;
}

/// Why a webhook delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFailure {
    /// The receiver's status, when it answered (anything but 2xx).
    pub status: Option<u16>,
    /// What went wrong.
    pub error: String,
}

/// Sends signed webhook deliveries.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// `POST`s `event` to `target`, signed by each of its secrets; the receiver's 2xx
    /// status.
    ///
    /// # Errors
    /// [`WebhookFailure`]: no answer in time, a refused address, a redirect, or a status
    /// other than 2xx.
    async fn send(
        &self,
        target: &WebhookTarget,
        event: &AccountEvent,
    ) -> Result<u16, WebhookFailure>;

    /// Whether `url` may receive webhooks: its scheme (`https`, or `http` where allowed)
    /// and every address its host resolves to (no private, loopback or link-local one
    /// unless private networks are allowed). `Err` says why not.
    ///
    /// # Errors
    /// Why the URL is refused.
    async fn vet(&self, url: &str) -> Result<(), String>;
}

/// The event types an endpoint wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// Every type (`["*"]`).
    All,
    /// These.
    Only(Vec<EventType>),
}

impl EventFilter {
    /// Whether `kind` is wanted.
    pub fn wants(&self, kind: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// As stored and shown: `["*"]` or the types' names.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(kinds) => kinds.iter().map(|kind| kind.as_str()).collect(),
        }
    }

    /// From the names: `["*"]`, or known types without repeats. `None` for an empty
    /// list, an unknown type, or `*` beside types.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Option<Self> {
        if names.len() == 1 && names[0].as_ref() == "*" {
            return Some(Self::All);
        }
        let mut kinds = Vec::new();
        for name in names {
            let kind = EventType::parse(name.as_ref())?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        (!kinds.is_empty()).then_some(Self::Only(kinds))
    }
}

/// A registered webhook endpoint (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: i64,
    /// Where deliveries go.
    pub url: String,
    /// What it receives.
    pub events: EventFilter,
    /// What it is for.
    pub description: Option<String>,
    /// Whether deliveries are made to it.
    pub enabled: bool,
    /// Why it was disabled by the service, when it was.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation also signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new endpoint.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    /// Where.
    pub url: String,
    /// What.
    pub events: EventFilter,
    /// What for.
    pub description: Option<String>,
    /// Its signing secret (`whsec_…`).
    pub secret: SecretString,
}

/// New values for some of an endpoint's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointChange {
    /// A new URL.
    pub url: Option<String>,
    /// New types.
    pub events: Option<EventFilter>,
    /// Enabled or not (enabling also clears why it was disabled).
    pub enabled: Option<bool>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

/// One delivery to an endpoint, as its log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The event's id (the `webhook-id`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Tries so far.
    pub attempts: u32,
    /// When the last try started.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's status at the last try.
    pub last_status: Option<u16>,
    /// What went wrong at the last try.
    pub last_error: Option<String>,
    /// How long the last try took.
    pub last_duration_ms: Option<u32>,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The webhook endpoints.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores `new` (its secret sealed), enabled, with `audit` (its `webhook_id` added).
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn create(
        &self,
        new: NewWebhookEndpoint,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<WebhookEndpoint, EventQueueError>;

    /// Every endpoint, oldest first.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn list(&self) -> Result<Vec<WebhookEndpoint>, EventQueueError>;

    /// The endpoint `id`.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn get(&self, id: i64) -> Result<Option<WebhookEndpoint>, EventQueueError>;

    /// Applies `change` to `id`, with `audit`; `None` (and nothing recorded) when there
    /// is no such endpoint. Disabling gives up its pending deliveries.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn update(
        &self,
        id: i64,
        change: WebhookEndpointChange,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<Option<WebhookEndpoint>, EventQueueError>;

    /// Deletes `id` and its deliveries, with `audit`; `false` (nothing recorded) when
    /// there was none.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn delete(
        &self,
        id: i64,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<bool, EventQueueError>;

    /// Gives `id` the signing secret `secret`, with `audit`; the current one keeps
    /// signing beside it until `previous_until`. `None` (nothing recorded) when there is
    /// no such endpoint.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn rotate(
        &self,
        id: i64,
        secret: SecretString,
        previous_until: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<Option<WebhookEndpoint>, EventQueueError>;

    /// Queues `event` for the endpoint `id` alone; `false` when there is no such
    /// endpoint.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn queue(
        &self,
        id: i64,
        event: AccountEvent,
        at: DateTime<Utc>,
    ) -> Result<bool, EventQueueError>;

    /// The endpoint's `limit` latest deliveries, newest first.
    ///
    /// # Errors
    /// [`EventQueueError`].
    async fn deliveries(&self, id: i64, limit: u64)
    -> Result<Vec<DeliveryRecord>, EventQueueError>;
}
