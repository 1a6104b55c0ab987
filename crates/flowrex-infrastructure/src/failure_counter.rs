//! Login attempt counters: adapters of the domain's [`FailureCounter`] — in process (a
//! fixed window per key under one lock), in Redis (the same windows, shared by every
//! instance, one atomic script per reservation), and a failover between the two.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flowrex_domain::ports::{CounterError, FailureCounter, Reservation};
use redis::aio::ConnectionManager;

use crate::circuit::Failover;
use crate::rate_limit::{Quota, RedisWindows, store_error};

/// Above this many keys, expired windows are dropped on the next reservation.
const MAX_IDLE_KEYS: usize = 10_000;

/// Attempt counts in this process: a fixed window per key, started by its first attempt;
/// reserving is one step under the map's lock.
pub struct InProcessFailureCounter {
    quota: Quota,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

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
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError> {
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
            return Ok(Reservation::Full {
                retry_after: window.saturating_sub(entry.0.elapsed()),
            });
        }
        entry.1 += 1;
        Ok(Reservation::Reserved)
    }

    async fn release(&self, key: &str) -> Result<(), CounterError> {
        if let Some((_, count)) = self.lock().get_mut(key) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
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
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError> {
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
            return Ok(Reservation::Reserved);
        }
        Ok(Reservation::Full {
            retry_after: Duration::from_millis(ttl_ms.unsigned_abs()),
        })
    }

    async fn release(&self, key: &str) -> Result<(), CounterError> {
        let mut connection = self.windows.connection.clone();
        self.release
            .key(self.windows.key(key))
            .invoke_async::<()>(&mut connection)
            .await
            .map_err(store_error)
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        let mut connection = self.windows.connection.clone();
        redis::cmd("DEL")
            .arg(self.windows.key(key))
            .query_async::<()>(&mut connection)
            .await
            .map_err(store_error)
    }
}

/// Redis while it answers, in process while it does not.
pub type FailoverFailureCounter = Failover<dyn FailureCounter>;

#[async_trait]
impl FailureCounter for FailoverFailureCounter {
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError> {
        match self.circuit.call(self.primary.reserve(key)).await {
            Some(decision) => Ok(decision),
            None => self.fallback.reserve(key).await,
        }
    }

    async fn release(&self, key: &str) -> Result<(), CounterError> {
        // Where it was reserved is not known: in process, giving back what was never taken
        // only stops at 0.
        let _ = self.fallback.release(key).await;
        let _ = self.circuit.call(self.primary.release(key)).await;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        // Both: a count made in process during an outage must not outlive a success.
        let _ = self.fallback.reset(key).await;
        let _ = self.circuit.call(self.primary.reset(key)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn in_process_reservations_stop_at_the_quota_until_released_or_reset() {
        let counter = InProcessFailureCounter::new(Quota::per_minute(3));
        for _ in 0..3 {
            assert_matches!(counter.reserve("k").await, Ok(Reservation::Reserved));
        }
        let Ok(Reservation::Full { retry_after }) = counter.reserve("k").await else {
            panic!("the fourth attempt is refused");
        };
        assert!(retry_after <= Duration::from_secs(60) && retry_after > Duration::from_secs(50));
        assert_matches!(counter.reserve("other").await, Ok(Reservation::Reserved));
        assert!(counter.release("k").await.is_ok());
        assert_matches!(
            counter.reserve("k").await,
            Ok(Reservation::Reserved),
            "a released attempt makes room for one"
        );
        assert_matches!(counter.reserve("k").await, Ok(Reservation::Full { .. }));
        assert!(counter.reset("k").await.is_ok());
        assert_matches!(counter.reserve("k").await, Ok(Reservation::Reserved));
    }

    #[tokio::test]
    async fn concurrent_reservations_never_exceed_the_quota() {
        let counter = Arc::new(InProcessFailureCounter::new(Quota::per_minute(5)));
        let attempts = (0..50).map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move { counter.reserve("k").await })
        });
        let allowed = futures::future::join_all(attempts)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Ok(Reservation::Reserved))))
            .count();
        assert_eq!(allowed, 5);
    }

    #[tokio::test]
    async fn in_process_windows_expire() {
        let counter = InProcessFailureCounter::new(Quota {
            max: 1,
            window: Duration::from_millis(30),
        });
        assert_matches!(counter.reserve("k").await, Ok(Reservation::Reserved));
        assert_matches!(counter.reserve("k").await, Ok(Reservation::Full { .. }));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_matches!(
            counter.reserve("k").await,
            Ok(Reservation::Reserved),
            "the window ended"
        );
    }
}
