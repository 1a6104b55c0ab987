//! The user repository: reads of users. Every write of a user goes through
//! [`super::AccountStore::apply`], with what must change beside it.

use async_trait::async_trait;

use crate::{EmailAddress, User, UserId};

failure_enum! {
    /// Why a user repository call failed.
    pub enum RepositoryError {}
    /// The store cannot be reached (connection refused or lost, pool timeout).
    unavailable: "user store unavailable";
    failed: "user store failed";
}

/// Users, read.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
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

/// Which users an administrator lists; every criterion set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// A part of the address, compared case-insensitively.
    pub email_contains: Option<String>,
    /// Active or not.
    pub is_active: Option<bool>,
    /// Verified or not.
    pub is_verified: Option<bool>,
    /// Administrator or not.
    pub is_superuser: Option<bool>,
}

/// Users, listed for administrators.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Up to `limit` users matching `filter`, newest (highest id) first, only those with
    /// an id below `before` when given (keyset pagination).
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or [`RepositoryError::Unexpected`].
    async fn list(
        &self,
        filter: &UserFilter,
        before: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<User>, RepositoryError>;
}
