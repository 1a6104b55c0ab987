//! Extractors: the per-request work a handler needs, done once, before it runs —
//! [`Body`] (read within its deadline), [`Parsed`] (a body read as its declaration says),
//! [`Client`] (address, limit key, `User-Agent`) and [`AuthenticatedSession`] (a bearer
//! token's live session and user); where a token answer puts the refresh token is
//! `routes::auth::TokenTransport`.

mod body;
mod client;
mod parsed;
mod session;

pub use body::{Body, BodyTimeout, DEFAULT_BODY_TIMEOUT};
pub use client::Client;
pub use parsed::Parsed;
pub use session::{AuthenticatedSession, SuperuserSession, bearer_token};
