//! Request rate limits per client (the SPEC's `RATE_LIMIT_PER_MINUTE`): the [`RateLimiter`]
//! port the HTTP layer counts with, and its adapters — in process (the `governor` crate's
//! GCRA), in Redis (a fixed window shared by every instance, one atomic script per hit),
//! and a failover that uses Redis while it answers and the in-process limiter while it
//! does not. Login throttling is the domain's `FailureCounter` ([`crate::failure_counter`]).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use flowrex_domain::ports::CounterError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota as GovernorQuota};
use redis::aio::ConnectionManager;

use crate::circuit::Failover;

/// At most `max` hits per `window` for each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Hits allowed per window (at least 1).
    pub max: u32,
    /// The window.
    pub window: Duration,
}

impl Quota {
    /// `max` hits per minute (the SPEC's request limit is counted so).
    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            window: Duration::from_secs(60),
        }
    }
}

/// The verdict on one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the quota.
    Allowed,
    /// Over the quota until `retry_after` has passed.
    Limited {
        /// How long until a hit would be allowed again.
        retry_after: Duration,
    },
}

/// Counts hits per key against one fixed [`Quota`] (requests per client).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// The quota it enforces.
    fn quota(&self) -> Quota;

    /// Counts one hit for `key` and says whether it is within the quota.
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached; callers then decide whether
    /// to fail open or fall back.
    async fn hit(&self, key: &str) -> Result<RateDecision, CounterError>;
}

/// Counters in this process's memory: GCRA with bursts of up to `max`, refilling one hit
/// every `window / max`.
pub struct InProcessRateLimiter {
    quota: Quota,
    limiter: DefaultKeyedRateLimiter<String>,
    hits: AtomicU64,
}

/// Forget idle keys every this many hits, so that the map does not grow without bound.
const CLEANUP_EVERY: u64 = 8192;

impl InProcessRateLimiter {
    /// A limiter for `quota` (a `max` of 0 is treated as 1).
    pub fn new(quota: Quota) -> Self {
        let max = NonZeroU32::new(quota.max).unwrap_or(NonZeroU32::MIN);
        let period = quota.window / max.get();
        let gcra = GovernorQuota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| GovernorQuota::per_second(max))
            .allow_burst(max);
        Self {
            quota,
            limiter: DefaultKeyedRateLimiter::keyed(gcra),
            hits: AtomicU64::new(0),
        }
    }

    /// The decision for one hit, without I/O.
    pub fn decide(&self, key: &str) -> RateDecision {
        if self.hits.fetch_add(1, Ordering::Relaxed) % CLEANUP_EVERY == CLEANUP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        match self.limiter.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    fn quota(&self) -> Quota {
        self.quota
    }

    async fn hit(&self, key: &str) -> Result<RateDecision, CounterError> {
        Ok(self.decide(key))
    }
}

/// Increments the window's counter, starting the window on its first hit; answers the
/// count and the milliseconds left in the window. Atomic, so instances never race.
const FIXED_WINDOW: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// Fixed-window counters in Redis under one key prefix: what both Redis adapters count
/// with (one atomic script per increment).
pub(crate) struct RedisWindows {
    pub(crate) connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    pub(crate) window_ms: u64,
}

impl RedisWindows {
    pub(crate) fn new(connection: ConnectionManager, prefix: String, quota: Quota) -> Self {
        Self {
            connection,
            script: redis::Script::new(FIXED_WINDOW),
            prefix,
            window_ms: u64::try_from(quota.window.as_millis()).unwrap_or(u64::MAX),
        }
    }

    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Counts one hit; the count so far and the time left in the window.
    async fn increment(&self, key: &str) -> Result<(u64, Duration), CounterError> {
        let mut connection = self.connection.clone();
        let (count, ttl_ms): (u64, i64) = self
            .script
            .key(self.key(key))
            .arg(self.window_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(store_error)?;
        let left = u64::try_from(ttl_ms).unwrap_or(self.window_ms);
        Ok((count, Duration::from_millis(left)))
    }
}

pub(crate) fn store_error(error: redis::RedisError) -> CounterError {
    CounterError(anyhow!(error))
}

/// Counters in Redis, shared by every instance: a fixed window per key, as the original
/// service's slowapi kept them.
pub struct RedisRateLimiter {
    quota: Quota,
    windows: RedisWindows,
}

impl RedisRateLimiter {
    /// A limiter for `quota` whose keys start with `prefix` (e.g. `flowrex:rl:ip:`).
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>, quota: Quota) -> Self {
        Self {
            quota,
            windows: RedisWindows::new(connection, prefix.into(), quota),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    fn quota(&self) -> Quota {
        self.quota
    }

    async fn hit(&self, key: &str) -> Result<RateDecision, CounterError> {
        let (count, left) = self.windows.increment(key).await?;
        if count <= u64::from(self.quota.max) {
            return Ok(RateDecision::Allowed);
        }
        Ok(RateDecision::Limited { retry_after: left })
    }
}

/// Redis while it answers, in process while it does not.
pub type FailoverRateLimiter = Failover<dyn RateLimiter>;

#[async_trait]
impl RateLimiter for FailoverRateLimiter {
    fn quota(&self) -> Quota {
        self.primary.quota()
    }

    async fn hit(&self, key: &str) -> Result<RateDecision, CounterError> {
        match self.circuit.call(self.primary.hit(key)).await {
            Some(decision) => Ok(decision),
            None => self.fallback.hit(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::circuit::Circuit;

    #[test]
    fn in_process_allows_a_burst_of_max_then_limits_each_key() {
        let limiter = InProcessRateLimiter::new(Quota::per_minute(3));
        for _ in 0..3 {
            assert_eq!(limiter.decide("a"), RateDecision::Allowed);
        }
        let RateDecision::Limited { retry_after } = limiter.decide("a") else {
            panic!("the fourth hit is limited");
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(20));
        assert_eq!(
            limiter.decide("b"),
            RateDecision::Allowed,
            "keys are independent"
        );
    }

    fn failing() -> Arc<dyn RateLimiter> {
        let mut primary = MockRateLimiter::new();
        primary.expect_quota().return_const(Quota::per_minute(1));
        primary
            .expect_hit()
            .times(1)
            .returning(|_| Err(CounterError(anyhow!("connection refused"))));
        Arc::new(primary)
    }

    #[tokio::test]
    async fn a_failing_primary_is_bypassed_until_the_retry_interval() {
        let failover = FailoverRateLimiter::new(
            failing(),
            Arc::new(InProcessRateLimiter::new(Quota::per_minute(1))),
            Arc::new(Circuit::new(
                Duration::from_millis(100),
                Duration::from_secs(60),
            )),
        );
        // The mock allows exactly one call: the second hit must not reach it.
        assert_matches!(failover.hit("k").await, Ok(RateDecision::Allowed));
        assert!(failover.is_degraded());
        assert_matches!(failover.hit("k").await, Ok(RateDecision::Limited { .. }));
    }

    #[tokio::test]
    async fn the_primary_is_used_again_once_it_answers() {
        let mut primary = MockRateLimiter::new();
        primary.expect_quota().return_const(Quota::per_minute(5));
        let mut calls = 0;
        primary.expect_hit().times(2).returning(move |_| {
            calls += 1;
            if calls == 1 {
                Err(CounterError(anyhow!("down")))
            } else {
                Ok(RateDecision::Limited {
                    retry_after: Duration::from_secs(9),
                })
            }
        });
        let failover = FailoverRateLimiter::new(
            Arc::new(primary),
            Arc::new(InProcessRateLimiter::new(Quota::per_minute(5))),
            Arc::new(Circuit::new(Duration::from_millis(100), Duration::ZERO)),
        );
        assert_matches!(
            failover.hit("k").await,
            Ok(RateDecision::Allowed),
            "fallback"
        );
        assert_matches!(failover.hit("k").await, Ok(RateDecision::Limited { retry_after }) if retry_after.as_secs() == 9, "the primary's answer once it is back");
        assert!(!failover.is_degraded());
    }
}
