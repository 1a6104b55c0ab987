//! The ports: what [`crate::AuthService`] needs from the outside world. One trait per
//! capability; adapters in other crates implement them, and `mockall` mocks of each are
//! generated under the `mocks` feature (`MockUserRepository`, …).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    EmailAddress, NewUser, PasswordAttempt, PasswordHash, RevokeReason, Session, SessionId,
    TokenFingerprint, TokenKind, TokenRequest, User, UserId, VerifiedToken,
};

/// Why a repository call failed.
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

/// At most `max` hits per `window` for each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Hits allowed per window (at least 1).
    pub max: u32,
    /// The window.
    pub window: std::time::Duration,
}

/// The verdict on one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the quota.
    Allowed,
    /// Over the quota until `retry_after` has passed.
    Limited {
        /// How long until a hit would be allowed again.
        retry_after: std::time::Duration,
    },
}

/// The counter store cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("rate-limit store unavailable")]
pub struct RateLimitError(#[source] pub anyhow::Error);

/// Counts hits per key against one fixed [`Quota`]. Each limiter has its own quota and key
/// space (requests per client IP, failed logins per account, …).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// The quota it enforces.
    fn quota(&self) -> Quota;

    /// Counts one hit for `key` and says whether it is within the quota.
    ///
    /// # Errors
    /// [`RateLimitError`] when a shared store cannot be reached; callers then decide whether
    /// to fail open or fall back.
    async fn hit(&self, key: &str) -> Result<RateDecision, RateLimitError>;
}

/// A dependency is not ready.
#[derive(Debug, thiserror::Error)]
#[error("{0} unavailable")]
pub struct ProbeError(pub &'static str, #[source] pub anyhow::Error);

/// A readiness check of one dependency (the database, Redis).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Probe: Send + Sync {
    /// The dependency's name, as reported by `GET /health/ready`.
    fn name(&self) -> &'static str;

    /// Checks that the dependency answers, within a bounded time.
    ///
    /// # Errors
    /// [`ProbeError`] when it does not.
    async fn check(&self) -> Result<(), ProbeError>;
}

/// Counts login attempts per key in fixed windows of [`Quota::window`] (started by a key's
/// first attempt), allowing at most [`Quota::max`] to be checked per window.
///
/// An attempt is *reserved* before its password is checked, atomically (also across
/// instances sharing a store), so that attempts arriving together cannot all pass a check
/// made before any of them was counted. A reservation that turns out not to be a failure is
/// given back ([`Self::release`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FailureCounter: Send + Sync {
    /// The quota it enforces.
    fn quota(&self) -> Quota;

    /// Counts one attempt for `key` if the window has room: [`RateDecision::Allowed`], and
    /// the attempt now counts as a failure until released; or [`RateDecision::Limited`]
    /// with the time until the window ends, and nothing is counted.
    ///
    /// # Errors
    /// [`RateLimitError`] when a shared store cannot be reached.
    async fn reserve(&self, key: &str) -> Result<RateDecision, RateLimitError>;

    /// Gives back one attempt reserved for `key` (it succeeded, or was never checked).
    ///
    /// # Errors
    /// [`RateLimitError`] when a shared store cannot be reached.
    async fn release(&self, key: &str) -> Result<(), RateLimitError>;

    /// Forgets `key`'s failures (after a success).
    ///
    /// # Errors
    /// [`RateLimitError`] when a shared store cannot be reached.
    async fn reset(&self, key: &str) -> Result<(), RateLimitError>;
}

/// Server-side sessions. Every call is one indexed statement.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn create(&self, session: Session) -> Result<(), RepositoryError>;

    /// A session by id, whatever its state.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn find(&self, id: &SessionId) -> Result<Option<Session>, RepositoryError>;

    /// The user `user` if it is active and `id` is one of its sessions, neither revoked nor
    /// expired at `now`: what every authenticated request checks, in one query.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn find_active_user(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, RepositoryError>;

    /// Replaces the session's refresh-token fingerprint `expected` by `next` (keeping
    /// `expected` as the previous one), if `expected` is still current and the session is
    /// active. `true` when it did: of two concurrent rotations exactly one succeeds.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn rotate(
        &self,
        id: &SessionId,
        expected: &TokenFingerprint,
        next: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Revokes one session; `true` if it was not revoked already.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn revoke(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Revokes every session of a user; how many were still active.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn revoke_all(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<u64, RepositoryError>;

    /// A user's active sessions, most recently used first.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn list_active(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, RepositoryError>;

    /// Deletes up to `limit` sessions that expired before `before`; how many.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn delete_expired(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, RepositoryError>;
}
