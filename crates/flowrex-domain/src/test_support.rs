//! Small hand-written fakes of the ports, for tests and examples of this and other crates
//! (feature `test-support`): [`InMemoryStore`] (users and sessions, as one database holds
//! both), [`FixedClock`] and [`SettableClock`], [`PlainTokens`], [`PlainHasher`],
//! [`CountingFailureCounter`].
//! They keep the ports' contracts (a taken email, a single winner among concurrent
//! rotations) but nothing survives the process.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    Clock, CounterError, FailureCounter, HashError, IssueError, PasswordHasher, RepositoryError,
    Reservation, SessionStore, SessionStoreError, TokenError, TokenIssuer, TokenVerifier,
    UserRepository,
};
use crate::{
    EmailAddress, FullName, NewUser, PasswordAttempt, PasswordHash, RevokeReason, Session,
    SessionId, TokenFingerprint, TokenKind, TokenRequest, User, UserId, UserParts, VerifiedToken,
};

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Users and sessions in memory, with the real stores' rules: one database, so that
/// [`SessionStore::find_active_user`] sees the users as the real join does.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    users: Mutex<Vec<User>>,
    sessions: Mutex<Vec<Session>>,
}

impl InMemoryStore {
    /// Adds a user as stored, bypassing the service (to set flags such as `is_active`).
    pub fn push(&self, parts: UserParts) {
        self.lock().push(parts.into());
    }

    /// Activates or deactivates a stored user.
    pub fn set_active(&self, id: UserId, active: bool) {
        for user in self.lock().iter_mut().filter(|u| u.id() == id) {
            let mut parts = user.to_parts();
            parts.is_active = active;
            *user = parts.into();
        }
    }

    /// Every session, in creation order.
    pub fn sessions(&self) -> Vec<Session> {
        self.lock_sessions().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<User>> {
        // A poisoned lock only means another test thread panicked; the data is still usable.
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl UserRepository for InMemoryStore {
    async fn insert(&self, user: NewUser) -> Result<User, RepositoryError> {
        let mut users = self.lock();
        if users.iter().any(|u| u.email() == &user.email) {
            return Err(RepositoryError::EmailTaken);
        }
        let id = UserId::new(i64::try_from(users.len()).unwrap_or(i64::MAX) + 1);
        let stored: User = UserParts {
            id,
            email: user.email,
            password_hash: user.password_hash,
            full_name: user.full_name.map(FullName::into_inner),
            is_active: true,
            is_verified: false,
            is_superuser: user.is_superuser,
            created_at: user.created_at,
            updated_at: user.created_at,
        }
        .into();
        users.push(stored.clone());
        Ok(stored)
    }

    async fn set_active(
        &self,
        id: UserId,
        active: bool,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        for user in self.lock().iter_mut().filter(|u| u.id() == id) {
            let mut parts = user.to_parts();
            parts.is_active = active;
            parts.updated_at = at;
            *user = parts.into();
        }
        Ok(())
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let mut users = self.lock();
        if let Some(user) = users.iter_mut().find(|u| u.id() == id) {
            let mut parts = user.to_parts();
            parts.password_hash = hash;
            parts.updated_at = at;
            *user = parts.into();
        }
        Ok(())
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError> {
        Ok(self.lock().iter().find(|u| u.email() == email).cloned())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.lock().iter().find(|u| u.id() == id).cloned())
    }
}

/// Attempt counts in a map, allowing `max` per key for a fixed minute; no clock.
#[derive(Debug)]
pub struct CountingFailureCounter {
    max: u32,
    counts: Mutex<std::collections::HashMap<String, u32>>,
}

impl CountingFailureCounter {
    /// Allows `max` attempts per key.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            counts: Mutex::default(),
        }
    }

    /// The attempts counted for `key`.
    pub fn count(&self, key: &str) -> u32 {
        self.lock().get(key).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u32>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl FailureCounter for CountingFailureCounter {
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError> {
        let mut counts = self.lock();
        let count = counts.entry(key.to_owned()).or_insert(0);
        if *count >= self.max {
            return Ok(Reservation::Full {
                retry_after: std::time::Duration::from_secs(60),
            });
        }
        *count += 1;
        Ok(Reservation::Reserved)
    }

    async fn release(&self, key: &str) -> Result<(), CounterError> {
        if let Some(count) = self.lock().get_mut(key) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        self.lock().remove(key);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn create(&self, session: Session) -> Result<(), SessionStoreError> {
        self.lock_sessions().push(session);
        Ok(())
    }

    async fn find(&self, id: &SessionId) -> Result<Option<Session>, SessionStoreError> {
        Ok(self.lock_sessions().iter().find(|s| &s.id == id).cloned())
    }

    async fn find_active_user(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, SessionStoreError> {
        let live = self
            .lock_sessions()
            .iter()
            .any(|s| &s.id == id && s.user_id == user && s.is_active(now));
        if !live {
            return Ok(None);
        }
        Ok(self
            .lock()
            .iter()
            .find(|u| u.id() == user && u.is_active())
            .cloned())
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected: &TokenFingerprint,
        next: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError> {
        let mut sessions = self.lock_sessions();
        let Some(session) = sessions
            .iter_mut()
            .find(|s| &s.id == id && &s.refresh_token_hash == expected && s.is_active(now))
        else {
            return Ok(false);
        };
        session.previous_refresh_token_hash = Some(expected.clone());
        session.refresh_token_hash = next.clone();
        session.rotated_at = Some(now);
        session.last_used_at = now;
        Ok(true)
    }

    async fn revoke(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError> {
        let mut sessions = self.lock_sessions();
        let Some(session) = sessions
            .iter_mut()
            .find(|s| &s.id == id && s.revoked_at.is_none())
        else {
            return Ok(false);
        };
        session.revoked_at = Some(now);
        session.revoked_reason = Some(reason.as_str().to_owned());
        Ok(true)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: DateTime<Utc>,
    ) -> Result<u64, SessionStoreError> {
        let mut count = 0;
        for session in self
            .lock_sessions()
            .iter_mut()
            .filter(|s| s.user_id == user && s.revoked_at.is_none())
        {
            session.revoked_at = Some(now);
            session.revoked_reason = Some(reason.as_str().to_owned());
            count += 1;
        }
        Ok(count)
    }

    async fn list_active(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError> {
        Ok(self
            .lock_sessions()
            .iter()
            .filter(|s| s.user_id == user && s.is_active(now))
            .cloned()
            .collect())
    }

    async fn delete_expired(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, SessionStoreError> {
        let mut sessions = self.lock_sessions();
        let expired: Vec<SessionId> = sessions
            .iter()
            .filter(|s| s.expires_at < before)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|s| s.id.clone())
            .collect();
        sessions.retain(|s| !expired.contains(&s.id));
        Ok(expired.len() as u64)
    }
}

/// "Hashes" a password by prefixing it: for tests and examples, where bcrypt's cost would
/// only slow them down. **Never for real passwords.** Keeps the port's contract: an unknown
/// user (`None`) verifies as `false`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainHasher;

const PLAIN: &str = "plain$";

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, secret: &str) -> Result<PasswordHash, HashError> {
        Ok(PasswordHash::new(format!("{PLAIN}{secret}")))
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        !hash.as_str().starts_with(PLAIN)
    }

    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, HashError> {
        Ok(hash.is_some_and(|hash| {
            hash.as_str()
                .strip_prefix(PLAIN)
                .is_some_and(|plain| plain == attempt.expose())
        }))
    }
}

/// A clock tests can move forward.
#[derive(Debug)]
pub struct SettableClock(Mutex<DateTime<Utc>>);

impl SettableClock {
    /// A clock at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for SettableClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Unsigned, readable tokens (`kind|sub|sid|exp|n`) for tests of the use cases: issued and
/// checked like real ones, minus the cryptography.
#[derive(Debug, Default)]
pub struct PlainTokens {
    issued: std::sync::atomic::AtomicU64,
}

impl TokenIssuer for PlainTokens {
    fn issue(&self, request: &TokenRequest) -> Result<String, IssueError> {
        let n = self
            .issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(format!(
            "{}|{}|{}|{}|{n}",
            request.kind.as_str(),
            request.subject,
            request.session,
            request.expires_at.timestamp()
        ))
    }
}

impl TokenVerifier for PlainTokens {
    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError> {
        let parts: Vec<&str> = token.split('|').collect();
        let [kind, subject, session, expires_at, _] = parts.as_slice() else {
            return Err(TokenError::Invalid);
        };
        if *kind != expected.as_str() {
            return Err(TokenError::WrongKind);
        }
        let subject = subject
            .parse()
            .map(UserId::new)
            .map_err(|_| TokenError::Invalid)?;
        let session = SessionId::parse(session).ok_or(TokenError::Invalid)?;
        let expires_at = expires_at
            .parse()
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .ok_or(TokenError::Invalid)?;
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            subject,
            kind: expected,
            session,
            expires_at,
        })
    }
}
