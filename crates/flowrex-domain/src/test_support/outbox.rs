//! The mail outbox of [`InMemoryStore`]: claimed in leases, retried, given up, purged.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{OutboxError, OutboxStore, QueuedMail};

use super::InMemoryStore;

#[async_trait]
impl OutboxStore for InMemoryStore {
    async fn claim(
        &self,
        limit: u64,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, OutboxError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut claimed = Vec::new();
        for row in self.lock_outbox().iter_mut().filter(|row| {
            !row.sent
                && !row.given_up
                && row.due <= now
                && row.leased_until.is_none_or(|t| t <= now)
        }) {
            if claimed.len() as u64 >= limit {
                break;
            }
            row.leased_until = Some(until);
            claimed.push(row.queued.clone());
        }
        Ok(claimed)
    }

    async fn delivered(&self, id: i64, _at: DateTime<Utc>) -> Result<(), OutboxError> {
        for row in self
            .lock_outbox()
            .iter_mut()
            .filter(|row| row.queued.id == id)
        {
            row.sent = true;
            row.leased_until = None;
        }
        Ok(())
    }

    async fn failed(
        &self,
        id: i64,
        retry_at: Option<DateTime<Utc>>,
        _error: &str,
    ) -> Result<(), OutboxError> {
        for row in self
            .lock_outbox()
            .iter_mut()
            .filter(|row| row.queued.id == id)
        {
            row.queued.attempts += 1;
            row.leased_until = None;
            match retry_at {
                Some(at) => row.due = at,
                None => row.given_up = true,
            }
        }
        Ok(())
    }

    async fn purge_finished(&self, before: DateTime<Utc>, batch: u64) -> Result<u64, OutboxError> {
        let mut outbox = self.lock_outbox();
        let mut purged = 0;
        outbox.retain(|row| {
            let finished = (row.sent || row.given_up) && row.queued.queued_at < before;
            if finished && purged < batch {
                purged += 1;
                false
            } else {
                true
            }
        });
        Ok(purged)
    }
}
