//! Server-side sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AuditEvent, RevokeReason, SecurityStamp, Session, SessionId, TokenFingerprint, User, UserId,
};

failure_enum! {
    /// Why a session store call failed.
    pub enum SessionStoreError {}
    /// The store cannot be reached (connection refused or lost, pool timeout).
    unavailable: "session store unavailable";
    failed: "session store failed";
}

/// Server-side sessions. Every call is one indexed statement, but those that also write
/// an audit event or the last login time: one transaction.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session (a login) and, with it, its user's last login time (the
    /// session's `created_at`) and the `audit` event, in one transaction — if the user's
    /// security stamp is still `stamp`, the one the sign-in was proven under, checked
    /// under a lock of the user's row: `false` (and nothing stored) when a credential
    /// event came first, so that no login proven with old credentials outlives their
    /// change.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn create(
        &self,
        session: Session,
        stamp: SecurityStamp,
        audit: Option<AuditEvent>,
    ) -> Result<bool, SessionStoreError>;

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

    /// Revokes one session; `true` if it was not revoked already. The `audit` event is
    /// written with the revocation, and only if there was one.
    ///
    /// # Errors
    /// [`SessionStoreError::Unavailable`] or [`SessionStoreError::Unexpected`].
    async fn revoke(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<bool, SessionStoreError>;

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
