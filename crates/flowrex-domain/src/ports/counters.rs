//! Attempt counters: login throttling, and the per-recipient limit of mails (one message
//! per recipient and purpose per window: a counter whose window allows one).

use async_trait::async_trait;

/// The counter store cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("counter store unavailable")]
pub struct CounterError(#[source] pub anyhow::Error);

/// The verdict on one login attempt's reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Counted: the attempt may be checked.
    Reserved,
    /// The window is full until `retry_after` has passed; nothing was counted.
    Full {
        /// How long until an attempt would be counted again.
        retry_after: std::time::Duration,
    },
}

/// Counts login attempts per key in fixed windows (started by a key's first attempt),
/// allowing at most a configured number to be checked per window.
///
/// An attempt is *reserved* before its password is checked, atomically (also across
/// instances sharing a store), so that attempts arriving together cannot all pass a check
/// made before any of them was counted. A reservation that turns out not to be a failure is
/// given back ([`Self::release`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FailureCounter: Send + Sync {
    /// Counts one attempt for `key` if the window has room ([`Reservation::Reserved`]: the
    /// attempt now counts as a failure until released), or says how long the window stays
    /// full ([`Reservation::Full`]; nothing is counted).
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached.
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError>;

    /// Gives back one attempt reserved for `key` (it succeeded, or was never checked).
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached.
    async fn release(&self, key: &str) -> Result<(), CounterError>;

    /// Forgets `key`'s failures (after a success).
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached.
    async fn reset(&self, key: &str) -> Result<(), CounterError>;
}
