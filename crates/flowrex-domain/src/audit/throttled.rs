//! Logins the throttle refused unchecked, counted per key and window instead of stored one
//! row each: what a flood of them costs is bounded by the windows, not the requests.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{AuditAction, AuditEvent, AuditUser};
use crate::EmailAddress;

/// Which login limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleScope {
    /// Every account tried from one client.
    Client,
    /// One account tried from one client.
    Account,
}

impl ThrottleScope {
    /// As recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Account => "account",
        }
    }
}

/// A login the throttle refused without checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottledLogin {
    /// The key of the full window (the client's, or the client's with the account's).
    pub key: String,
    /// Which limit it is.
    pub scope: ThrottleScope,
    /// The address typed: the event's subject for an account's window (no account, no
    /// event).
    pub email: EmailAddress,
    /// When it was refused.
    pub at: DateTime<Utc>,
    /// When the key's window ends.
    pub window_ends: DateTime<Utc>,
}

/// Throttled logins counted per key and window until the window ends: what an adapter of
/// [`crate::ports::AuditLog::count_throttled`] holds in memory, with `O`, the origin of a
/// window's first refusal. At most `capacity` windows are held; a refusal of a window past
/// that is not kept, so that what a flood costs is bounded whatever its addresses.
#[derive(Debug)]
pub struct ThrottleTally<O> {
    windows: HashMap<String, Vec<Tally<O>>>,
    held: usize,
    capacity: usize,
}

#[derive(Debug)]
struct Tally<O> {
    scope: ThrottleScope,
    email: EmailAddress,
    window_ends: DateTime<Utc>,
    count: u64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    origin: O,
}

/// How far apart two refusals may place the end of one window (each derives it from its
/// own clock reading and the counter's rounded wait).
const SAME_WINDOW: chrono::Duration = chrono::Duration::seconds(2);

impl<O> ThrottleTally<O> {
    /// An empty tally of at most `capacity` windows.
    pub fn new(capacity: usize) -> Self {
        Self {
            windows: HashMap::new(),
            held: 0,
            capacity,
        }
    }

    /// Counts `refused` in its key's window; `origin` is asked for on a window's first
    /// refusal only. `false` when the tally is full and the window new: not counted.
    pub fn count(&mut self, refused: ThrottledLogin, origin: impl FnOnce() -> O) -> bool {
        if let Some(tally) = self.windows.get_mut(&refused.key).and_then(|windows| {
            windows
                .iter_mut()
                .find(|tally| (tally.window_ends - refused.window_ends).abs() <= SAME_WINDOW)
        }) {
            tally.count += 1;
            tally.first_at = tally.first_at.min(refused.at);
            tally.last_at = tally.last_at.max(refused.at);
            return true;
        }
        if self.held >= self.capacity {
            return false;
        }
        self.windows.entry(refused.key).or_default().push(Tally {
            scope: refused.scope,
            email: refused.email,
            window_ends: refused.window_ends,
            count: 1,
            first_at: refused.at,
            last_at: refused.at,
            origin: origin(),
        });
        self.held += 1;
        true
    }

    /// The windows held.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no window is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The events of the windows that ended by `now`, oldest first, which are forgotten;
    /// all of them with `now` `None` (the service stops).
    pub fn take_ended(&mut self, now: Option<DateTime<Utc>>) -> Vec<(AuditEvent, O)> {
        let mut ended = Vec::new();
        self.windows.retain(|_, windows| {
            let (done, open): (Vec<_>, Vec<_>) = std::mem::take(windows)
                .into_iter()
                .partition(|tally| now.is_none_or(|now| tally.window_ends <= now));
            ended.extend(done);
            *windows = open;
            !windows.is_empty()
        });
        self.held -= ended.len();
        ended.sort_by_key(|tally| tally.first_at);
        ended
            .into_iter()
            .map(|tally| {
                let mut event = AuditEvent::new(AuditAction::LoginThrottled)
                    .with("scope", tally.scope.as_str())
                    .with("count", tally.count)
                    .with("first_at", tally.first_at.to_rfc3339())
                    .with("last_at", tally.last_at.to_rfc3339())
                    .with("window_ends", tally.window_ends.to_rfc3339());
                event.subject = match tally.scope {
                    ThrottleScope::Account => Some(AuditUser::Address(tally.email)),
                    ThrottleScope::Client => None,
                };
                (event, tally.origin)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    fn refused(key: &str, scope: ThrottleScope, at: i64, ends: i64) -> ThrottledLogin {
        ThrottledLogin {
            key: key.to_owned(),
            scope,
            email: EmailAddress::parse("a@b.co").unwrap(),
            at: t(at),
            window_ends: t(ends),
        }
    }

    #[test]
    fn a_flood_is_one_event_per_key_and_window_with_its_count() {
        let mut tally = ThrottleTally::new(10);
        for at in 0..1000 {
            assert!(tally.count(refused("ip", ThrottleScope::Client, at, 900), || at));
        }
        for at in 1..8 {
            assert!(tally.count(refused("ip|a@b.co", ThrottleScope::Account, at, 300), || 99));
        }
        // A refusal that reads the same window's end a second later is in it; the next
        // window of the same key is another event.
        assert!(tally.count(refused("ip", ThrottleScope::Client, 5, 901), || 5));
        assert!(tally.count(refused("ip", ThrottleScope::Client, 901, 1801), || 7));
        assert_eq!(tally.len(), 3);
        assert!(tally.take_ended(Some(t(299))).is_empty());
        let ended = tally.take_ended(Some(t(900)));
        let summary: Vec<(Value, Value, Option<AuditUser>, i64)> = ended
            .into_iter()
            .map(|(e, origin)| {
                (
                    e.details["scope"].clone(),
                    e.details["count"].clone(),
                    e.subject,
                    origin,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (json!("client"), json!(1001), None, 0),
                (
                    json!("account"),
                    json!(7),
                    Some(AuditUser::Address(EmailAddress::parse("a@b.co").unwrap())),
                    99
                ),
            ]
        );
        assert_eq!(tally.len(), 1);
        let rest = tally.take_ended(None);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0.action, AuditAction::LoginThrottled);
        assert!(tally.is_empty());
    }

    #[test]
    fn a_full_tally_keeps_counting_its_windows_and_refuses_new_ones() {
        let mut tally = ThrottleTally::new(2);
        assert!(tally.count(refused("a", ThrottleScope::Client, 0, 60), || ()));
        assert!(tally.count(refused("b", ThrottleScope::Client, 0, 60), || ()));
        assert!(!tally.count(refused("c", ThrottleScope::Client, 0, 60), || ()));
        assert!(tally.count(refused("a", ThrottleScope::Client, 1, 60), || ()));
        assert_eq!(tally.len(), 2);
        assert_eq!(tally.windows.len(), 2, "a refused key holds nothing");
    }
}
