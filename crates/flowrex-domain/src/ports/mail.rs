//! Mail delivery: the queue (outbox) that changes enqueue into, and the transport that
//! delivers what a worker takes from it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Mail;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (the server is down, busy, or refused for now).
    #[error("mail delivery failed for now")]
    Transient(#[source] anyhow::Error),
    /// Not worth retrying (the server refused the recipient or the message for good).
    #[error("mail delivery refused")]
    Permanent(#[source] anyhow::Error),
}

/// Delivers one message (renders it and sends it: SMTP, or the log in development).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Delivers `mail`.
    ///
    /// # Errors
    /// [`DeliveryError`], saying whether a retry may help.
    async fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError>;
}

/// The outbox cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("mail outbox unavailable")]
pub struct OutboxError(#[source] pub anyhow::Error);

/// A queued message, taken for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// Its row.
    pub id: i64,
    /// The message.
    pub mail: Mail,
    /// Deliveries tried before this one.
    pub attempts: u32,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
}

/// The queue of messages to deliver (filled by [`super::AccountStore::apply`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Takes up to `limit` messages due at `now`, each for `lease` (another worker, on any
    /// instance, does not get them until the lease ends: a worker that dies mid-way leaves
    /// them to the next). MUST NOT hand one message to two workers at once.
    ///
    /// # Errors
    /// [`OutboxError`].
    async fn claim(
        &self,
        limit: u64,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, OutboxError>;

    /// Marks a message delivered, and forgets its body.
    ///
    /// # Errors
    /// [`OutboxError`].
    async fn delivered(&self, id: i64, at: DateTime<Utc>) -> Result<(), OutboxError>;

    /// Records a failed delivery: tried again from `retry_at`, or given up (`None`, body
    /// forgotten).
    ///
    /// # Errors
    /// [`OutboxError`].
    async fn failed(
        &self,
        id: i64,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), OutboxError>;

    /// Deletes up to `batch` rows of messages delivered or given up that were queued before
    /// `before` (they hold no address or link any more, only their times); how many.
    ///
    /// # Errors
    /// [`OutboxError`].
    async fn purge_finished(&self, before: DateTime<Utc>, batch: u64) -> Result<u64, OutboxError>;
}
