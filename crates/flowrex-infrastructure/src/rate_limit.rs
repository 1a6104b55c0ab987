//! Rate limiters and failure counters: in process (the `governor` crate's GCRA for request
//! limits, fixed windows for failed logins), in Redis (fixed windows shared by every
//! instance, one atomic script per hit), and failovers that use Redis while it answers and
//! the in-process counters while it does not.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use async_trait::async_trait;
use flowrex_domain::ports::{FailureCounter, Quota, RateDecision, RateLimitError, RateLimiter};
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

/// Fixed-window counters in Redis under one key prefix: what both Redis adapters count
/// with (one atomic script per increment).
struct RedisWindows {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    window_ms: u64,
}

impl RedisWindows {
    fn new(connection: ConnectionManager, prefix: String, quota: Quota) -> Self {
        Self {
            connection,
            script: redis::Script::new(FIXED_WINDOW),
            prefix,
            window_ms: u64::try_from(quota.window.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Counts one hit; the count so far and the time left in the window.
    async fn increment(&self, key: &str) -> Result<(u64, Duration), RateLimitError> {
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

fn store_error(error: redis::RedisError) -> RateLimitError {
    RateLimitError(anyhow!(error))
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

    async fn hit(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        let (count, left) = self.windows.increment(key).await?;
        if count <= u64::from(self.quota.max) {
            return Ok(RateDecision::Allowed);
        }
        Ok(RateDecision::Limited { retry_after: left })
    }
}

/// The health of a shared store as seen by a failover: after a failure (or a call slower
/// than `timeout`) the store is bypassed for `retry_after`, then tried again. Logs one
/// warning when it goes away and one line when it is back.
pub struct Circuit {
    timeout: Duration,
    retry_after: Duration,
    started: Instant,
    /// Milliseconds since `started` before which the store is not tried.
    down_until_ms: AtomicU64,
    down: AtomicBool,
}

impl Circuit {
    /// A circuit with these bounds.
    pub fn new(timeout: Duration, retry_after: Duration) -> Self {
        Self {
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

    /// Whether the store is currently being bypassed.
    pub fn is_open(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Runs `call` against the store unless it is being bypassed; `None` means "use the
    /// fallback".
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, RateLimitError>>,
    ) -> Option<T> {
        if self.elapsed_ms() < self.down_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate-limit store is back: counters are shared again");
                }
                Some(value)
            }
            Ok(Err(error)) => {
                self.trip(&error.0.to_string());
                None
            }
            Err(_) => {
                self.trip("timed out");
                None
            }
        }
    }

    fn trip(&self, reason: &str) {
        let retry_ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        self.down_until_ms.store(
            self.elapsed_ms().saturating_add(retry_ms),
            Ordering::Relaxed,
        );
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                reason,
                "rate-limit store unavailable: falling back to in-process counters"
            );
        }
    }
}

/// Uses `primary` (Redis) while its [`Circuit`] is closed, `fallback` (in process)
/// otherwise. Never fails itself.
pub struct FailoverRateLimiter {
    primary: Arc<dyn RateLimiter>,
    fallback: Arc<dyn RateLimiter>,
    circuit: Arc<Circuit>,
}

impl FailoverRateLimiter {
    /// A failover from `primary` to `fallback`, watched by `circuit` (which may be shared
    /// with other failovers to the same store).
    pub fn new(
        primary: Arc<dyn RateLimiter>,
        fallback: Arc<dyn RateLimiter>,
        circuit: Arc<Circuit>,
    ) -> Self {
        Self {
            primary,
            fallback,
            circuit,
        }
    }

    /// Whether the primary store is currently being bypassed.
    pub fn is_degraded(&self) -> bool {
        self.circuit.is_open()
    }
}

#[async_trait]
impl RateLimiter for FailoverRateLimiter {
    fn quota(&self) -> Quota {
        self.primary.quota()
    }

    async fn hit(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        match self.circuit.call(self.primary.hit(key)).await {
            Some(decision) => Ok(decision),
            None => self.fallback.hit(key).await,
        }
    }
}

/// Attempt counts in this process: a fixed window per key, started by its first attempt;
/// reserving is one step under the map's lock.
pub struct InProcessFailureCounter {
    quota: Quota,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Above this many keys, expired windows are dropped on the next failure.
const MAX_IDLE_KEYS: usize = 10_000;

impl InProcessFailureCounter {
    /// A counter for `quota`.
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            windows: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        // Counters stay usable after a panic elsewhere: at worst one count is lost.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl FailureCounter for InProcessFailureCounter {
    fn quota(&self) -> Quota {
        self.quota
    }

    async fn reserve(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        let mut windows = self.lock();
        let window = self.quota.window;
        if windows.len() > MAX_IDLE_KEYS {
            windows.retain(|_, (started, _)| started.elapsed() < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= window {
            *entry = (Instant::now(), 0);
        }
        if entry.1 >= self.quota.max {
            return Ok(RateDecision::Limited {
                retry_after: window.saturating_sub(entry.0.elapsed()),
            });
        }
        entry.1 += 1;
        Ok(RateDecision::Allowed)
    }

    async fn release(&self, key: &str) -> Result<(), RateLimitError> {
        if let Some((_, count)) = self.lock().get_mut(key) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), RateLimitError> {
        self.lock().remove(key);
        Ok(())
    }
}

/// Counts an attempt unless the window is full, starting the window on its first attempt;
/// answers whether it counted and the milliseconds left in the window. Atomic: of attempts
/// that arrive together, on any instance, exactly `max` per window are counted.
const RESERVE: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if count >= tonumber(ARGV[2]) and ttl > 0 then
  return {0, ttl}
end
count = redis.call('INCR', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {1, ttl}
";

/// Gives one attempt back, never below 0 and never reviving an expired window (a plain
/// `DECR` would create a key without expiry).
const RELEASE: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
";

/// Attempt counts in Redis, shared by every instance (the same fixed windows as the
/// request limit), reserved and released by one atomic script each.
pub struct RedisFailureCounter {
    quota: Quota,
    windows: RedisWindows,
    reserve: redis::Script,
    release: redis::Script,
}

impl RedisFailureCounter {
    /// A counter for `quota` whose keys start with `prefix`.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>, quota: Quota) -> Self {
        Self {
            quota,
            windows: RedisWindows::new(connection, prefix.into(), quota),
            reserve: redis::Script::new(RESERVE),
            release: redis::Script::new(RELEASE),
        }
    }
}

#[async_trait]
impl FailureCounter for RedisFailureCounter {
    fn quota(&self) -> Quota {
        self.quota
    }

    async fn reserve(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        let mut connection = self.windows.connection.clone();
        let (allowed, ttl_ms): (u8, i64) = self
            .reserve
            .key(self.windows.key(key))
            .arg(self.windows.window_ms)
            .arg(self.quota.max)
            .invoke_async(&mut connection)
            .await
            .map_err(store_error)?;
        if allowed == 1 {
            return Ok(RateDecision::Allowed);
        }
        Ok(RateDecision::Limited {
            retry_after: Duration::from_millis(ttl_ms.unsigned_abs()),
        })
    }

    async fn release(&self, key: &str) -> Result<(), RateLimitError> {
        let mut connection = self.windows.connection.clone();
        self.release
            .key(self.windows.key(key))
            .invoke_async::<()>(&mut connection)
            .await
            .map_err(store_error)
    }

    async fn reset(&self, key: &str) -> Result<(), RateLimitError> {
        let mut connection = self.windows.connection.clone();
        redis::cmd("DEL")
            .arg(self.windows.key(key))
            .query_async::<()>(&mut connection)
            .await
            .map_err(store_error)
    }
}

/// Uses `primary` (Redis) while its [`Circuit`] is closed, `fallback` otherwise.
pub struct FailoverFailureCounter {
    primary: Arc<dyn FailureCounter>,
    fallback: Arc<dyn FailureCounter>,
    circuit: Arc<Circuit>,
}

impl FailoverFailureCounter {
    /// A failover from `primary` to `fallback`, watched by `circuit`.
    pub fn new(
        primary: Arc<dyn FailureCounter>,
        fallback: Arc<dyn FailureCounter>,
        circuit: Arc<Circuit>,
    ) -> Self {
        Self {
            primary,
            fallback,
            circuit,
        }
    }
}

#[async_trait]
impl FailureCounter for FailoverFailureCounter {
    fn quota(&self) -> Quota {
        self.primary.quota()
    }

    async fn reserve(&self, key: &str) -> Result<RateDecision, RateLimitError> {
        match self.circuit.call(self.primary.reserve(key)).await {
            Some(decision) => Ok(decision),
            None => self.fallback.reserve(key).await,
        }
    }

    async fn release(&self, key: &str) -> Result<(), RateLimitError> {
        // Where it was reserved is not known: in process, giving back what was never taken
        // only stops at 0.
        let _ = self.fallback.release(key).await;
        let _ = self.circuit.call(self.primary.release(key)).await;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), RateLimitError> {
        // Both: a count made in process during an outage must not outlive a success.
        let _ = self.fallback.reset(key).await;
        let _ = self.circuit.call(self.primary.reset(key)).await;
        Ok(())
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
            Arc::new(Circuit::new(
                Duration::from_millis(100),
                Duration::from_secs(60),
            )),
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
            Arc::new(Circuit::new(Duration::from_millis(100), Duration::ZERO)),
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

    #[tokio::test]
    async fn in_process_reservations_stop_at_the_quota_until_released_or_reset() {
        let counter = InProcessFailureCounter::new(quota(3));
        for _ in 0..3 {
            assert!(matches!(
                counter.reserve("k").await,
                Ok(RateDecision::Allowed)
            ));
        }
        let Ok(RateDecision::Limited { retry_after }) = counter.reserve("k").await else {
            panic!("the fourth attempt is refused");
        };
        assert!(retry_after <= Duration::from_secs(60) && retry_after > Duration::from_secs(50));
        assert!(matches!(
            counter.reserve("other").await,
            Ok(RateDecision::Allowed)
        ));
        assert!(counter.release("k").await.is_ok());
        assert!(
            matches!(counter.reserve("k").await, Ok(RateDecision::Allowed)),
            "a released attempt makes room for one"
        );
        assert!(matches!(
            counter.reserve("k").await,
            Ok(RateDecision::Limited { .. })
        ));
        assert!(counter.reset("k").await.is_ok());
        assert!(matches!(
            counter.reserve("k").await,
            Ok(RateDecision::Allowed)
        ));
    }

    #[tokio::test]
    async fn concurrent_reservations_never_exceed_the_quota() {
        let counter = Arc::new(InProcessFailureCounter::new(quota(5)));
        let attempts = (0..50).map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move { counter.reserve("k").await })
        });
        let allowed = futures::future::join_all(attempts)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Ok(RateDecision::Allowed))))
            .count();
        assert_eq!(allowed, 5);
    }

    #[tokio::test]
    async fn in_process_windows_expire() {
        let counter = InProcessFailureCounter::new(Quota {
            max: 1,
            window: Duration::from_millis(30),
        });
        assert!(matches!(
            counter.reserve("k").await,
            Ok(RateDecision::Allowed)
        ));
        assert!(matches!(
            counter.reserve("k").await,
            Ok(RateDecision::Limited { .. })
        ));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(
            matches!(counter.reserve("k").await, Ok(RateDecision::Allowed)),
            "the window ended"
        );
    }
}
