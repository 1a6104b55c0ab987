//! A circuit breaker for a shared store (Redis): after a failure, or a call slower than its
//! timeout, the store is bypassed for a while and callers use their in-process fallback;
//! then it is tried again. Shared by every failover adapter that uses the same store.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flowrex_domain::ports::CounterError;

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
    pub async fn call<T>(&self, call: impl Future<Output = Result<T, CounterError>>) -> Option<T> {
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

/// An adapter over a shared store (`primary`, Redis) and its in-process stand-in
/// (`fallback`), used while the [`Circuit`] is open: the request limiter and the login
/// counters are both one of these (`rate_limit::FailoverRateLimiter`,
/// `failure_counter::FailoverFailureCounter`). Never fails itself.
pub struct Failover<T: ?Sized> {
    pub(crate) primary: Arc<T>,
    pub(crate) fallback: Arc<T>,
    pub(crate) circuit: Arc<Circuit>,
}

impl<T: ?Sized> Failover<T> {
    /// A failover from `primary` to `fallback`, watched by `circuit` (which may be shared
    /// with other failovers to the same store).
    pub fn new(primary: Arc<T>, fallback: Arc<T>, circuit: Arc<Circuit>) -> Self {
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
