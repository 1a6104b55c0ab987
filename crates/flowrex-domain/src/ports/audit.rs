//! The audit trail. Events that record a change of the database are written with that
//! change (in [`super::Changes::audit`] and the session store's calls); this port records
//! the others (failed logins) and reads the trail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::RepositoryError;
use crate::{AuditEvent, AuditFilter, RecordedEvent, ThrottledLogin};

/// The trail of security events.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Records an event that goes with no change of the database (a failed login). Never
    /// fails the caller and never makes it wait for the write: an adapter may buffer, and
    /// under a flood drop (and count) what it cannot keep up with.
    async fn record(&self, event: AuditEvent);

    /// Counts a login the throttle refused unchecked. Never one row per refusal: at most
    /// one [`crate::AuditAction::LoginThrottled`] event per key and window, holding the
    /// number of refusals counted for it, written once its window has ended (or when the
    /// service stops). Never fails the caller; an adapter keeps a bounded number of
    /// windows and drops (and counts) refusals past that.
    async fn count_throttled(&self, refused: ThrottledLogin);

    /// Up to `limit` events matching `filter`, newest first, only those with an id below
    /// `before` when given.
    ///
    /// # Errors
    /// [`RepositoryError`].
    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, RepositoryError>;

    /// Deletes up to `batch` events older than `before`; how many.
    ///
    /// # Errors
    /// [`RepositoryError`].
    async fn purge_before(&self, before: DateTime<Utc>, batch: u64)
    -> Result<u64, RepositoryError>;
}
