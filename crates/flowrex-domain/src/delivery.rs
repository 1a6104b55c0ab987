//! Mail delivery from the outbox: take what is due, deliver it, record the outcome, retry
//! with a growing delay, give up after a bounded number of tries. Requests only queue;
//! a worker runs [`MailDelivery::deliver_due`] in a loop, on every instance (the outbox
//! hands each message to one worker at a time).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::{Clock, DeliveryError, MailTransport, OutboxError, OutboxStore, QueuedMail};

/// Rows one purge statement deletes.
const PURGE_BATCH: u64 = 500;

/// How the worker retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Messages taken per round.
    pub batch: u64,
    /// How long a taken message is the worker's before another may take it.
    pub lease: Duration,
    /// Tries before a message is given up.
    pub max_attempts: u32,
    /// The delay after the first failure; it doubles with every further one.
    pub first_retry: Duration,
    /// The longest delay between tries.
    pub max_retry: Duration,
}

impl Default for DeliveryPolicy {
    /// 20 per round, 60 s leases, 10 tries, 5 s doubling up to 10 minutes (about an hour of
    /// tries in all).
    fn default() -> Self {
        Self {
            batch: 20,
            lease: Duration::from_secs(60),
            max_attempts: 10,
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(600),
        }
    }
}

impl DeliveryPolicy {
    /// When to try again after the failed try number `attempt` (1 for the first), or
    /// `None` to give up.
    pub fn retry_after(&self, attempt: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let delay = self.first_retry.saturating_mul(factor).min(self.max_retry);
        chrono::Duration::from_std(delay)
            .ok()
            .map(|delay| now + delay)
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: u64,
    /// Failed, to be tried again.
    pub retried: u64,
    /// Failed for good (refused, or out of tries).
    pub failed: u64,
}

/// The delivery use case, over the outbox and a transport.
pub struct MailDelivery {
    outbox: Arc<dyn OutboxStore>,
    transport: Arc<dyn MailTransport>,
    clock: Arc<dyn Clock>,
    policy: DeliveryPolicy,
}

impl MailDelivery {
    /// Delivery from `outbox` through `transport`.
    pub fn new(
        outbox: Arc<dyn OutboxStore>,
        transport: Arc<dyn MailTransport>,
        clock: Arc<dyn Clock>,
        policy: DeliveryPolicy,
    ) -> Self {
        Self {
            outbox,
            transport,
            clock,
            policy,
        }
    }

    /// The retry policy in force.
    pub fn policy(&self) -> DeliveryPolicy {
        self.policy
    }

    /// Deletes the rows of messages finished (delivered or given up) more than `age` ago,
    /// in batches of 500; how many.
    ///
    /// # Errors
    /// [`OutboxError`].
    pub async fn purge_finished(&self, age: Duration) -> Result<u64, OutboxError> {
        let Ok(age) = chrono::Duration::from_std(age) else {
            return Ok(0);
        };
        let before = self.clock.now() - age;
        let mut purged = 0;
        loop {
            let batch = self.outbox.purge_finished(before, PURGE_BATCH).await?;
            purged += batch;
            if batch < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    /// Delivers the messages due now, one by one.
    ///
    /// # Errors
    /// [`OutboxError`] when the outbox cannot be reached (messages then wait; a message
    /// delivered but not recorded is delivered again after its lease).
    pub async fn deliver_due(&self) -> Result<DeliveryReport, OutboxError> {
        let now = self.clock.now();
        let due = self
            .outbox
            .claim(self.policy.batch, self.policy.lease, now)
            .await?;
        let mut report = DeliveryReport::default();
        for queued in due {
            self.deliver(queued, &mut report).await?;
        }
        Ok(report)
    }

    async fn deliver(
        &self,
        queued: QueuedMail,
        report: &mut DeliveryReport,
    ) -> Result<(), OutboxError> {
        let purpose = queued.mail.purpose.as_str();
        match self.transport.deliver(&queued.mail).await {
            Ok(()) => {
                self.outbox.delivered(queued.id, self.clock.now()).await?;
                tracing::info!(mail_id = queued.id, purpose, "mail delivered");
                report.sent += 1;
            }
            Err(error) => {
                let attempt = queued.attempts + 1;
                let retry_at = match &error {
                    DeliveryError::Transient(_) => {
                        self.policy.retry_after(attempt, self.clock.now())
                    }
                    DeliveryError::Permanent(_) => None,
                };
                let reason = format!("{:#}", anyhow::Error::new(error));
                self.outbox.failed(queued.id, retry_at, &reason).await?;
                if retry_at.is_some() {
                    tracing::warn!(
                        mail_id = queued.id,
                        purpose,
                        attempt,
                        reason,
                        "mail not delivered: will retry"
                    );
                    report.retried += 1;
                } else {
                    tracing::error!(
                        mail_id = queued.id,
                        purpose,
                        attempt,
                        reason,
                        "mail given up"
                    );
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn retries_double_up_to_the_longest_delay_then_stop() {
        let policy = DeliveryPolicy::default();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let delay = |attempt| {
            policy
                .retry_after(attempt, now)
                .map(|at| (at - now).num_seconds())
        };
        assert_eq!(delay(1), Some(5));
        assert_eq!(delay(2), Some(10));
        assert_eq!(delay(3), Some(20));
        assert_eq!(delay(9), Some(600), "capped");
        assert_eq!(delay(10), None, "given up after 10 tries");
    }

    use crate::ports::{MockMailTransport, MockOutboxStore};
    use crate::test_support::FixedClock;
    use crate::{EmailAddress, Mail, MailPurpose};

    fn queued(id: i64, attempts: u32) -> QueuedMail {
        QueuedMail {
            id,
            mail: Mail::notice(
                EmailAddress::parse(&format!("{id}@example.com")).unwrap(),
                MailPurpose::PasswordChanged,
            ),
            attempts,
            queued_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        }
    }

    /// A delivery over the mocked `outbox` and `transport`, at 10:00.
    fn delivery(outbox: MockOutboxStore, transport: MockMailTransport) -> MailDelivery {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        MailDelivery::new(
            Arc::new(outbox),
            Arc::new(transport),
            Arc::new(FixedClock(now)),
            DeliveryPolicy::default(),
        )
    }

    #[tokio::test]
    async fn each_outcome_is_recorded_as_sent_retried_or_given_up() {
        let mut outbox = MockOutboxStore::new();
        outbox
            .expect_claim()
            .returning(|_, _, _| Ok(vec![queued(1, 0), queued(2, 0), queued(3, 9)]));
        outbox
            .expect_delivered()
            .withf(|id, _| *id == 1)
            .times(1)
            .returning(|_, _| Ok(()));
        // A temporary failure is tried again 5 s later; a refusal, and the tenth failure,
        // give the message up.
        outbox
            .expect_failed()
            .withf(|id, retry_at, _| *id == 2 && retry_at.is_none())
            .times(1)
            .returning(|_, _, _| Ok(()));
        outbox
            .expect_failed()
            .withf(|id, retry_at, _| *id == 3 && retry_at.is_none())
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut transport = MockMailTransport::new();
        transport
            .expect_deliver()
            .returning(|mail| match mail.to.as_str() {
                "1@example.com" => Ok(()),
                "2@example.com" => Err(DeliveryError::Permanent(anyhow::anyhow!(
                    "550 no such user"
                ))),
                _ => Err(DeliveryError::Transient(anyhow::anyhow!(
                    "connection refused"
                ))),
            });
        let report = delivery(outbox, transport).deliver_due().await.unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                sent: 1,
                retried: 0,
                failed: 2
            }
        );
    }

    #[tokio::test]
    async fn a_temporary_failure_is_retried_after_the_first_delay() {
        let mut outbox = MockOutboxStore::new();
        outbox
            .expect_claim()
            .returning(|_, _, _| Ok(vec![queued(7, 0)]));
        let retry = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 5).unwrap();
        outbox
            .expect_failed()
            .withf(move |id, retry_at, reason| {
                *id == 7 && *retry_at == Some(retry) && reason.contains("connection refused")
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut transport = MockMailTransport::new();
        transport.expect_deliver().returning(|_| {
            Err(DeliveryError::Transient(anyhow::anyhow!(
                "connection refused"
            )))
        });
        let report = delivery(outbox, transport).deliver_due().await.unwrap();
        assert_eq!(report.retried, 1);
    }

    #[tokio::test]
    async fn an_unreachable_outbox_is_reported_and_nothing_is_sent() {
        let mut outbox = MockOutboxStore::new();
        outbox
            .expect_claim()
            .returning(|_, _, _| Err(OutboxError(anyhow::anyhow!("database down"))));
        let mut transport = MockMailTransport::new();
        transport.expect_deliver().never();
        assert!(delivery(outbox, transport).deliver_due().await.is_err());
    }
}
