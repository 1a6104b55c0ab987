//! Password hashing, token signing and checking, and time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{PasswordAttempt, PasswordHash, TokenKind, TokenRequest, VerifiedToken};

/// Hashing failed (a malformed stored hash, a worker that died).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError(#[source] pub anyhow::Error);

/// Slow, salted password hashing. Implementations MUST NOT block the async executor.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password: a new one that passed the policy ([`crate::NewPassword::expose`]), or one
    /// that just verified at login, for a hash upgrade.
    ///
    /// # Errors
    /// [`HashError`] when the hashing work cannot run.
    async fn hash(&self, secret: &str) -> Result<PasswordHash, HashError>;

    /// Whether a stored hash should be replaced at the next successful login (made with
    /// another cost or scheme than the configured one).
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;

    /// Checks an attempt against a stored hash. With `None` (no such user) it MUST do the
    /// same work as for a real hash and return `false`, so that timing does not tell which
    /// emails are registered.
    ///
    /// # Errors
    /// [`HashError`] when the hash is malformed or the work cannot run.
    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, HashError>;
}

/// The breached-password source could not answer in time (a range server down or slow, a
/// range file unreadable).
#[derive(Debug, thiserror::Error)]
#[error("breached-password check failed")]
pub struct BreachCheckError(#[source] pub anyhow::Error);

/// Passwords known from breaches, asked by k-anonymity ranges (only the first five hex
/// digits of a password's SHA-1 leave the adapter). Implementations MUST NOT block the
/// async executor and MUST answer within their own time bound.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BreachedPasswords: Send + Sync {
    /// How often `password` appears in the known breaches (0: never).
    ///
    /// # Errors
    /// [`BreachCheckError`] when the source cannot answer.
    async fn occurrences(&self, password: &str) -> Result<u64, BreachCheckError>;
}

/// Why a token was refused. Clients are told only that it is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, wrong algorithm, garbled, or claims of the wrong shape.
    #[error("malformed or forged token")]
    Invalid,
    /// Past its `exp`.
    #[error("expired token")]
    Expired,
    /// Before its `nbf`, or issued (`iat`) in the future.
    #[error("token not valid yet")]
    NotYetValid,
    /// An access token where a refresh token was expected, or the reverse.
    #[error("wrong token type")]
    WrongKind,
}

/// Signing failed (a misconfigured key).
#[derive(Debug, thiserror::Error)]
#[error("token signing failed")]
pub struct IssueError(#[source] pub anyhow::Error);

/// Creates signed tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Signs a token with the request's claims and a fresh unique id (`jti`).
    ///
    /// # Errors
    /// [`IssueError`] when the key cannot sign.
    fn issue(&self, request: &TokenRequest) -> Result<String, IssueError>;
}

/// Checks tokens made by a [`TokenIssuer`] with the same keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenVerifier: Send + Sync {
    /// Verifies signature, algorithm, issuer, audience, claim shapes, kind, expiry and
    /// not-before (against `now`, with the adapter's small leeway).
    ///
    /// # Errors
    /// [`TokenError`] saying why the token is refused.
    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError>;
}

/// The current time, injectable for tests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}
