//! Small hand-written fakes for tests of this and other crates (feature `test-support`).

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{Clock, RepositoryError, UserRepository};
use crate::{EmailAddress, FullName, NewUser, User, UserId, UserParts};

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

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError> {
        Ok(self.lock().iter().find(|u| u.email() == email).cloned())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.lock().iter().find(|u| u.id() == id).cloned())
    }
}
