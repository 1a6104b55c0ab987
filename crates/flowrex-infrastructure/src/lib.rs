//! Adapters that implement [`flowrex_domain::ports`]: the sea-orm user repository
//! ([`SeaOrmUserRepository`]), the bcrypt hasher ([`BcryptHasher`]), JWT tokens
//! ([`JwtTokens`]) and the system clock. [`database`] connects to SQLite, PostgreSQL or
//! MySQL/MariaDB from a URL in either the native or the original service's SQLAlchemy form.
//!
//! Start reading at [`database::connect`]; each adapter translates its library's errors into
//! the domain's at the seam, so no `DbErr` or `jsonwebtoken` error goes further.

pub mod clock;
pub mod database;
pub mod db_error;
pub mod entity;
pub mod hasher;
pub mod jwt;
pub mod rate_limit;
pub mod redis_store;
pub mod session_store;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod user_repository;

pub use clock::SystemClock;
pub use database::{DatabaseSettings, DatabaseUrl, DatabaseUrlError};
pub use hasher::BcryptHasher;
pub use jwt::{JwtClaimsPolicy, JwtConfigError, JwtKeys, JwtTokens};
pub use session_store::SeaOrmSessionStore;
pub use user_repository::SeaOrmUserRepository;
