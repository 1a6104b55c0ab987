//! Answers that must not tell, by their timing, whether an address has an account
//! (`password/forgot`, `verify-email/request`): the work differs (a known address costs a
//! token, an outbox row and a per-recipient limit check; an unknown one a lookup), so each
//! answer is held back until a fixed time after the request began. The floor is far above
//! what the work costs on a healthy database, so both cases answer at the floor, within
//! the timer's jitter; the work never waits for mail, which the outbox sends later.

use std::time::Duration;

use tokio::time::Instant;

/// How long such an answer takes at least.
pub const FLOOR: Duration = Duration::from_millis(150);

/// The start of a request whose answer is held to [`FLOOR`].
#[derive(Debug, Clone, Copy)]
pub struct Uniform {
    until: Instant,
}

impl Uniform {
    /// Starts the clock.
    pub fn start() -> Self {
        Self {
            until: Instant::now() + FLOOR,
        }
    }

    /// Waits out the rest of the floor (nothing when the work took longer).
    pub async fn finish(self) {
        tokio::time::sleep_until(self.until).await;
    }
}
