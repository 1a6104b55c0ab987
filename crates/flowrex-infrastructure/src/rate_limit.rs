//! Rate limiters: in process (the `governor` crate's GCRA, one per instance), in Redis (a
//! fixed window shared by every instance, one atomic script per hit), and a failover that
//! uses Redis while it answers and the in-process limiter while it does not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use async_trait::async_trait;
use flowrex_domain::ports::{Quota, RateDecision, RateLimitError, RateLimiter};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota as GovernorQuota};
use redis::aio::ConnectionManager;
use std::num::NonZeroU32;

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

    async fn hit(&self, key: &str) -> Result<RateDecision, RateLimitError> {
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

/// Counters in Redis, shared by every instance: a fixed window per key, as the original
/// service's slowapi kept them.
pub struct RedisRateLimiter {
    quota: Quota,
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
}

impl RedisRateLimiter {
    /// A limiter for `quota` whose keys start with `prefix` (e.g. `flowrex:rl:ip:`).
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>, quota: Quota) -> Self {
        Self {
            quota,
            connection,
            script: redis::Script::new(FIXED_WINDOW),
            prefix: prefix.into(),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    fn quota(&self) -> Quota {
        self.quota
    }

    async fn hit(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        let window_ms = u64::try_from(self.quota.window.as_millis()).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let (count, ttl_ms): (u64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(window_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| RateLimitError(anyhow!(e)))?;
        if count <= u64::from(self.quota.max) {
            return Ok(RateDecision::Allowed);
        }
        let ttl = u64::try_from(ttl_ms).unwrap_or(window_ms);
        Ok(RateDecision::Limited {
            retry_after: Duration::from_millis(ttl),
        })
    }
}

/// Uses `primary` (Redis) while it answers within `timeout`; when it fails, logs a warning
/// once, answers from `fallback` (in process) and tries `primary` again after
/// `retry_after`; logs again when it is back. Never fails itself.
pub struct FailoverRateLimiter {
    primary: Arc<dyn RateLimiter>,
    fallback: Arc<dyn RateLimiter>,
    timeout: Duration,
    retry_after: Duration,
    started: Instant,
    /// Milliseconds since `started` before which `primary` is not tried; 0 when healthy.
    down_until_ms: AtomicU64,
    down: AtomicBool,
}

impl FailoverRateLimiter {
    /// A failover from `primary` to `fallback`.
    pub fn new(
        primary: Arc<dyn RateLimiter>,
        fallback: Arc<dyn RateLimiter>,
        timeout: Duration,
        retry_after: Duration,
    ) -> Self {
        Self {
            primary,
            fallback,
            timeout,
            retry_after,
            started: Instant::now(),
            down_until_ms: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the primary store is currently being bypassed.
    pub fn is_degraded(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl RateLimiter for FailoverRateLimiter {
    fn quota(&self) -> Quota {
        self.primary.quota()
    }

    async fn hit(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        if self.elapsed_ms() >= self.down_until_ms.load(Ordering::Relaxed) {
            let outcome = tokio::time::timeout(self.timeout, self.primary.hit(key)).await;
            match outcome {
                Ok(Ok(decision)) => {
                    if self.down.swap(false, Ordering::Relaxed) {
                        tracing::info!("rate-limit store is back: limits are shared again");
                    }
                    return Ok(decision);
                }
                Ok(Err(error)) => self.trip(&error.0.to_string()),
                Err(_) => self.trip("timed out"),
            }
        }
        self.fallback.hit(key).await
    }
}

impl FailoverRateLimiter {
    fn trip(&self, reason: &str) {
        let retry_ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        self.down_until_ms.store(
            self.elapsed_ms().saturating_add(retry_ms),
            Ordering::Relaxed,
        );
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                reason,
                "rate-limit store unavailable: falling back to in-process limits"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use flowrex_domain::ports::MockRateLimiter;

    use super::*;

    fn quota(max: u32) -> Quota {
        Quota {
            max,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn in_process_allows_a_burst_of_max_then_limits_each_key() {
        let limiter = InProcessRateLimiter::new(quota(3));
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
        primary.expect_quota().return_const(quota(1));
        primary
            .expect_hit()
            .times(1)
            .returning(|_| Err(RateLimitError(anyhow!("connection refused"))));
        Arc::new(primary)
    }

    #[tokio::test]
    async fn a_failing_primary_is_bypassed_until_the_retry_interval() {
        let failover = FailoverRateLimiter::new(
            failing(),
            Arc::new(InProcessRateLimiter::new(quota(1))),
            Duration::from_millis(100),
            Duration::from_secs(60),
        );
        // The mock allows exactly one call: the second hit must not reach it.
        assert!(matches!(failover.hit("k").await, Ok(RateDecision::Allowed)));
        assert!(failover.is_degraded());
        assert!(matches!(
            failover.hit("k").await,
            Ok(RateDecision::Limited { .. })
        ));
    }

    #[tokio::test]
    async fn the_primary_is_used_again_once_it_answers() {
        let mut primary = MockRateLimiter::new();
        primary.expect_quota().return_const(quota(5));
        let mut calls = 0;
        primary.expect_hit().times(2).returning(move |_| {
            calls += 1;
            if calls == 1 {
                Err(RateLimitError(anyhow!("down")))
            } else {
                Ok(RateDecision::Limited {
                    retry_after: Duration::from_secs(9),
                })
            }
        });
        let failover = FailoverRateLimiter::new(
            Arc::new(primary),
            Arc::new(InProcessRateLimiter::new(quota(5))),
            Duration::from_millis(100),
            Duration::ZERO,
        );
        assert!(
            matches!(failover.hit("k").await, Ok(RateDecision::Allowed)),
            "fallback"
        );
        assert!(
            matches!(failover.hit("k").await, Ok(RateDecision::Limited { retry_after }) if retry_after.as_secs() == 9),
            "the primary's answer once it is back"
        );
        assert!(!failover.is_degraded());
    }
}
