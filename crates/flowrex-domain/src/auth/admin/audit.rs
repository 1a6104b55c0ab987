//! The audit trail as read: every event for administrators (filtered), and the deletion of
//! events past their retention. (Each user's own security log is
//! [`crate::Accounts::security_events`].)

use super::{Admin, AdminError};
use crate::AuditFilter;
use crate::auth::Authenticated;
use crate::auth::core::EventPage;
use crate::ports::RepositoryError;

impl Admin {
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
        Self::require_superuser(caller)?;
        Ok(EventPage::read(&self.core, filter, before, limit).await?)
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
        let before = self.core.now() - retention;
        let mut purged = 0;
        loop {
            let deleted = self.core.audit.purge_before(before, batch.max(1)).await?;
            purged += deleted;
            if deleted < batch.max(1) {
                return Ok(purged);
            }
        }
    }
}
