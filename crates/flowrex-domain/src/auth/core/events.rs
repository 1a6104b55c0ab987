//! Pages of the audit trail, as administrators and each user for their own account read
//! it.

use super::Core;
use crate::ports::RepositoryError;
use crate::{AuditFilter, RecordedEvent};

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events of this page.
    pub items: Vec<RecordedEvent>,
    /// Where the next page starts (the last item's id), when there may be one.
    pub next: Option<i64>,
}

impl EventPage {
    /// Up to `limit` events matching `filter`, below `before` when given.
    pub(in crate::auth) async fn read(
        core: &Core,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Self, RepositoryError> {
        // One more than asked tells whether another page follows.
        let mut items = core.audit.list(filter, before, limit + 1).await?;
        let more = items.len() as u64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            items.last().map(|e| e.id)
        } else {
            None
        };
        Ok(Self { items, next })
    }
}
