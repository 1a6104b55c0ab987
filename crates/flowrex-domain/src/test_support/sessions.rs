//! Sessions in [`InMemoryStore`], with the single-winner rotation of the real store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{SessionStore, SessionStoreError};
use crate::{
    AuditEvent, RevokeReason, SecurityStamp, Session, SessionId, TokenFingerprint, User, UserId,
};

use super::InMemoryStore;

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn create(
        &self,
        session: Session,
        stamp: SecurityStamp,
        audit: Option<AuditEvent>,
    ) -> Result<bool, SessionStoreError> {
        let mut users = self.lock();
        let Some(user) = users
            .iter_mut()
            .find(|u| u.id() == session.user_id && u.security_stamp() == stamp)
        else {
            return Ok(false);
        };
        let mut parts = user.to_parts();
        parts.last_login_at = Some(session.created_at);
        *user = parts.into();
        drop(users);
        self.append(audit.into_iter().collect(), None, session.created_at);
        self.lock_sessions().push(session);
        Ok(true)
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
        audit: Option<AuditEvent>,
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
        drop(sessions);
        self.append(audit.into_iter().collect(), None, now);
        Ok(true)
    }

    async fn list_active(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError> {
        let mut live: Vec<Session> = self
            .lock_sessions()
            .iter()
            .filter(|s| s.user_id == user && s.is_active(now))
            .cloned()
            .collect();
        // As the port says: most recently used first.
        live.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
        Ok(live)
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
