//! sea-orm entities. The schema itself is owned by the `migration` crate.

pub mod audit_events;
pub mod one_time_tokens;
pub mod outbox;
pub mod sessions;
pub mod users;
