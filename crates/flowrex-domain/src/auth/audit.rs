//! The audit trail as read: every event for administrators (filtered), a user's own
//! security events for that user, and the deletion of events past their retention.

use std::sync::Arc;

use super::admin::AdminError;
use super::{AuthService, Authenticated};
use crate::ports::{AuditLog, RepositoryError};
use crate::{AuditFilter, RecordedEvent};

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events of this page.
    pub items: Vec<RecordedEvent>,
    /// Where the next page starts (the last item's id), when there may be one.
    pub next: Option<i64>,
}

impl AuthService {
    /// Adds the audit trail: failed logins are recorded through it, and the lists read
    /// it. (Events that go with a change are written by the stores with the change.)
    #[must_use]
    pub fn with_audit_log(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    fn audit_log(&self) -> Result<&Arc<dyn AuditLog>, RepositoryError> {
        self.audit
            .as_ref()
            .ok_or_else(|| RepositoryError::Unexpected(anyhow::anyhow!("no audit log")))
    }

    async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<EventPage, RepositoryError> {
        let mut items = self.audit_log()?.list(filter, before, limit + 1).await?;
        let more = items.len() as u64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            items.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventPage { items, next })
    }

    /// Events matching `filter`, newest first (superusers).
    ///
    /// # Errors
    /// [`AdminError::Forbidden`]; store failures.
    pub async fn admin_audit(
        &self,
        caller: &Authenticated,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<EventPage, AdminError> {
        if !(caller.user.is_superuser() && caller.user.is_active()) {
            return Err(AdminError::Forbidden);
        }
        Ok(self.page(filter, before, limit).await?)
    }

    /// The caller's own security events (those whose subject is the caller), newest
    /// first, as the caller may see them: what another user (an administrator) did shows
    /// as done by an administrator, without that user's id, session, address, user agent
    /// or request id ([`RecordedEvent::as_seen_by`]).
    ///
    /// # Errors
    /// Store failures.
    pub async fn security_events(
        &self,
        caller: &Authenticated,
        before: Option<i64>,
        limit: u64,
    ) -> Result<EventPage, RepositoryError> {
        let filter = AuditFilter {
            subject: Some(caller.user.id()),
            ..AuditFilter::default()
        };
        let mut page = self.page(&filter, before, limit).await?;
        for event in &mut page.items {
            event.as_seen_by(caller.user.id());
        }
        Ok(page)
    }

    /// Deletes the events older than `retention`, in batches of `batch`; how many.
    ///
    /// # Errors
    /// Store failures.
    pub async fn purge_audit(
        &self,
        retention: chrono::Duration,
        batch: u64,
    ) -> Result<u64, RepositoryError> {
        let Some(audit) = &self.audit else {
            return Ok(0);
        };
        let before = self.now() - retention;
        let mut purged = 0;
        loop {
            let deleted = audit.purge_before(before, batch.max(1)).await?;
            purged += deleted;
            if deleted < batch.max(1) {
                return Ok(purged);
            }
        }
    }
}
