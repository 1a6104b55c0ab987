//! The ports: what the services ([`crate::Services`]) need from the outside world, and nothing else
//! (HTTP-only concerns such as request rate limits and readiness probes belong to the
//! adapters' crates). One trait per capability; adapters in other crates implement them,
//! each contract written in its docs, and `mockall` mocks of each are generated under the
//! `mocks` feature (`MockUserRepository`, …).

mod accounts;
mod audit;
mod counters;
mod events;
mod federation;
mod mail;
mod mfa;
mod passkeys;
mod security;
mod sessions;
mod users;

pub use accounts::*;
pub use audit::*;
pub use counters::*;
pub use events::*;
pub use federation::*;
pub use mail::*;
pub use mfa::*;
pub use passkeys::*;
pub use security::*;
pub use sessions::*;
pub use users::*;
