//! Small hand-written fakes for tests of this and other crates (feature `test-support`).

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{Clock, FailureCounter, Quota, RateLimitError, RepositoryError, UserRepository};
use crate::{EmailAddress, FullName, NewUser, PasswordHash, User, UserId, UserParts};

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Users in a vector, with the same uniqueness rule as the real stores.
#[derive(Debug, Default)]
pub struct InMemoryUserRepository {
    users: Mutex<Vec<User>>,
}

impl InMemoryUserRepository {
    /// Adds a user as stored, bypassing the service (to set flags such as `is_active`).
    pub fn push(&self, parts: UserParts) {
        self.lock().push(parts.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<User>> {
        // A poisoned lock only means another test thread panicked; the data is still usable.
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl UserRepository for InMemoryUserRepository {
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
            is_superuser: false,
            created_at: user.created_at,
            updated_at: user.created_at,
        }
        .into();
        users.push(stored.clone());
        Ok(stored)
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

/// Failure counts in a map, blocking at `max` for a fixed minute; no clock.
#[derive(Debug)]
pub struct CountingFailureCounter {
    max: u32,
    counts: Mutex<std::collections::HashMap<String, u32>>,
}

impl CountingFailureCounter {
    /// Blocks a key after `max` failures.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            counts: Mutex::default(),
        }
    }

    /// The failures counted for `key`.
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
    fn quota(&self) -> Quota {
        Quota {
            max: self.max,
            window: std::time::Duration::from_secs(60),
        }
    }

    async fn blocked(&self, key: &str) -> Result<Option<std::time::Duration>, RateLimitError> {
        Ok((self.count(key) >= self.max).then_some(std::time::Duration::from_secs(60)))
    }

    async fn record_failure(&self, key: &str) -> Result<(), RateLimitError> {
        *self.lock().entry(key.to_owned()).or_insert(0) += 1;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), RateLimitError> {
        self.lock().remove(key);
        Ok(())
    }
}
