//! Adapters of [`flowrex_domain::ports`], and of the HTTP layer's own ports:
//!
//! - [`database`] connects to SQLite, PostgreSQL or MySQL/MariaDB from a URL in the native
//!   or the original service's SQLAlchemy form; [`db_error`] says what a database error
//!   means (gone, a named unique key, anything else) on every backend.
//! - sea-orm stores: [`SeaOrmUserRepository`], [`SeaOrmSessionStore`], over the [`entity`]
//!   models (the schema itself belongs to the `migration` crate).
//! - [`BcryptHasher`] (off the async executor), [`JwtTokens`] (sign and verify; JWK set),
//!   [`SystemClock`].
//! - limits: [`rate_limit`] (requests per client: the `RateLimiter` port and its
//!   in-process, Redis and failover adapters) and [`failure_counter`] (login attempts:
//!   the domain's `FailureCounter`), watched by one [`circuit::Circuit`] per Redis.
//! - [`probe`]: readiness of the database and Redis.
//! - the audit trail: [`audit`] ([`SeaOrmAuditLog`], events' origin per request);
//! - the account lifecycle: [`SeaOrmAccountStore`] (changes and their mails in one
//!   transaction), [`SeaOrmOutbox`] (queued mails, sealed by [`secret_box`], claimed by
//!   delivery workers), [`mail`] (SMTP and log transports, templates).
//! - second factors: [`SeaOrmMfaStore`] (TOTP factors, sign-in challenges), [`TotpCodes`]
//!   (RFC 6238 codes with `totp-rs`); their secrets are sealed by [`secret_box`];
//!   passkeys: [`WebauthnRelyingParty`] (`webauthn-rs`), [`SeaOrmPasskeyStore`] (credentials
//!   and server-side ceremony states).
//!
//! Each adapter translates its library's errors into the domain's at the seam, so no
//! `DbErr`, `redis` or `jsonwebtoken` error goes further.

#[cfg(test)]
#[macro_use]
extern crate assert_matches;

pub mod account_store;
pub mod audit;
pub mod breach;
pub mod circuit;
pub mod clock;
pub mod database;
pub mod db_error;
pub mod entity;
pub mod event_queue;
mod event_rows;
pub mod failure_counter;
pub mod federation;
pub mod federation_store;
pub mod hasher;
pub mod jwt;
pub mod mail;
pub mod mfa_store;
pub mod nats;
pub mod outbox;
pub mod passkey_store;
pub mod probe;
pub mod rate_limit;
pub mod redis_connection;
pub mod secret_box;
pub mod session_store;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod totp;
pub mod user_repository;
pub mod webauthn;
pub mod webhook;

pub use account_store::SeaOrmAccountStore;
pub use audit::SeaOrmAuditLog;
pub use breach::{BreachRanges, RangeSource};
pub use clock::SystemClock;
pub use database::{DatabaseSettings, DatabaseUrl, DatabaseUrlError};
pub use event_queue::{EventRouting, SeaOrmEventQueue};
pub use federation::{OutsideProviders, ProviderSettings};
pub use federation_store::SeaOrmFederationStore;
pub use hasher::BcryptHasher;
pub use jwt::{JwtClaimsPolicy, JwtConfigError, JwtKeys, JwtTokens};
pub use mfa_store::SeaOrmMfaStore;
pub use outbox::SeaOrmOutbox;
pub use passkey_store::SeaOrmPasskeyStore;
pub use session_store::SeaOrmSessionStore;
pub use totp::TotpCodes;
pub use user_repository::SeaOrmUserRepository;
pub use webauthn::WebauthnRelyingParty;
