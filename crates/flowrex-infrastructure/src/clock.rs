//! The real clock.

use chrono::{DateTime, SubsecRound, Utc};
use flowrex_domain::ports::Clock;

/// The system clock, truncated to microseconds: the precision every backend stores, so a
/// timestamp reads back exactly as it was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
