//! The ports: what [`crate::AuthService`] needs from the outside world, and nothing else
//! (HTTP-only concerns such as request rate limits and readiness probes belong to the
//! adapters' crates). One trait per capability; adapters in other crates implement them,
//! each contract written in its docs, and `mockall` mocks of each are generated under the
//! `mocks` feature (`MockUserRepository`, …).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    EmailAddress, NewUser, PasswordAttempt, PasswordHash, RevokeReason, Session, SessionId,
    TokenFingerprint, TokenKind, TokenRequest, User, UserId, VerifiedToken,
};

/// Why a user repository call failed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A user with this email already exists.
    #[error("email already registered")]
    EmailTaken,
    /// The store cannot be reached (connection refused, pool timeout).
    #[error("user store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error("user store failed")]
    Unexpected(#[source] anyhow::Error),
}

/// Persistent store of users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Inserts a new user and returns it with its id.
    ///
    /// # Errors
    /// - MUST return [`RepositoryError::EmailTaken`] when the email exists, on every backend,
    ///   also when two inserts race.
    /// - [`RepositoryError::Unavailable`] when the store cannot be reached.
    async fn insert(&self, user: NewUser) -> Result<User, RepositoryError>;

    /// Activates or deactivates a user, setting `updated_at`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn set_active(
        &self,
        id: UserId,
        active: bool,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError>;

    /// Replaces a user's password hash (a cost upgrade), setting `updated_at`.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn update_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError>;

    /// Finds a user by address, compared by [`EmailAddress::key`] (case-insensitively).
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError>;

    /// Finds a user by id: one indexed query.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError>;
}

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

/// The counter store cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("counter store unavailable")]
pub struct CounterError(#[source] pub anyhow::Error);

/// The verdict on one login attempt's reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Counted: the attempt may be checked.
    Reserved,
    /// The window is full until `retry_after` has passed; nothing was counted.
    Full {
        /// How long until an attempt would be counted again.
        retry_after: std::time::Duration,
    },
}

/// Counts login attempts per key in fixed windows (started by a key's first attempt),
/// allowing at most a configured number to be checked per window.
///
/// An attempt is *reserved* before its password is checked, atomically (also across
/// instances sharing a store), so that attempts arriving together cannot all pass a check
/// made before any of them was counted. A reservation that turns out not to be a failure is
/// given back ([`Self::release`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FailureCounter: Send + Sync {
    /// Counts one attempt for `key` if the window has room ([`Reservation::Reserved`]: the
    /// attempt now counts as a failure until released), or says how long the window stays
    /// full ([`Reservation::Full`]; nothing is counted).
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached.
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError>;

    /// Gives back one attempt reserved for `key` (it succeeded, or was never checked).
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached.
    async fn release(&self, key: &str) -> Result<(), CounterError>;

    /// Forgets `key`'s failures (after a success).
    ///
    /// # Errors
    /// [`CounterError`] when a shared store cannot be reached.
    async fn reset(&self, key: &str) -> Result<(), CounterError>;
}

/// Why a session store call failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    /// The store cannot be reached (connection refused or lost, pool timeout).
    #[error("session store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error("session store failed")]
    Unexpected(#[source] anyhow::Error),
}

/// Server-side sessions. Every call is one indexed statement.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn create(&self, session: Session) -> Result<(), SessionStoreError>;

    /// A session by id, whatever its state.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn find(&self, id: &SessionId) -> Result<Option<Session>, SessionStoreError>;

    /// The user `user` if it is active and `id` is one of its sessions, neither revoked nor
    /// expired at `now`: what every authenticated request checks, in one query.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn find_active_user(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, SessionStoreError>;

    /// Replaces the session's refresh-token fingerprint `expected` by `next` (keeping
    /// `expected` as the previous one), if `expected` is still current and the session is
    /// active. `true` when it did: of two concurrent rotations exactly one succeeds.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn rotate(
        &self,
        id: &SessionId,
        expected: &TokenFingerprint,
        next: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError>;

    /// Revokes one session; `true` if it was not revoked already.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn revoke(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError>;

    /// Revokes every session of a user; how many were still active.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn revoke_all(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<u64, SessionStoreError>;

    /// A user's active sessions, most recently used first.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn list_active(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError>;

    /// Deletes up to `limit` sessions that expired before `before`; how many.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn delete_expired(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, SessionStoreError>;
}
