//! Extractors: the per-request work a handler needs, done once, before it runs —
//! [`Body`] (read within its deadline), [`Client`] (address, limit key, `User-Agent`) and
//! [`AuthenticatedSession`] (a bearer token's live session and user).

mod body;
mod client;
mod session;

pub use body::{Body, BodyTimeout, DEFAULT_BODY_TIMEOUT};
pub use client::Client;
pub use session::{AuthenticatedSession, SuperuserSession, bearer_token};
