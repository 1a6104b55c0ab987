//! [`Accounts`]: a person and their own account — registration, the lifecycle over mail
//! (`accounts/lifecycle.rs`: verifying the address, forgotten and changed passwords), the
//! profile, the address and deletion (`accounts/profile.rs`), and their own security log.

use std::sync::Arc;

use super::core::{Core, EventPage};
use super::federation::Federation;
use super::{Authenticated, RegisterError, Registration};
use crate::ports::RepositoryError;
use crate::{AuditFilter, User};

mod identities;
mod lifecycle;
mod profile;

pub use self::lifecycle::VerificationRequest;
pub use self::profile::ProfileChange;

/// One's own account.
pub struct Accounts {
    core: Arc<Core>,
    federation: Federation,
}

impl Accounts {
    pub(super) fn new(core: Arc<Core>, federation: Federation) -> Self {
        Self { core, federation }
    }

    /// Registers a new user (never an administrator) and queues the mail that verifies
    /// the address, in the same transaction.
    ///
    /// # Errors
    /// [`RegisterError::EmailTaken`] when the address is registered, also when another
    /// registration of it wins a race; store and hashing failures otherwise.
    pub async fn register(&self, registration: Registration) -> Result<User, RegisterError> {
        self.core.create_user(registration, false, false).await
    }

    /// The caller's own security events (those whose subject is the caller), newest
    /// first, as the caller may see them: what another user (an administrator) did shows
    /// as done by an administrator, without that user's id, session, address, user agent
    /// or request id ([`crate::RecordedEvent::as_seen_by`]).
    ///
    /// # Errors
    /// Store failures.
    pub async fn security_events(
        &self,
        caller: &Authenticated,
        before: Option<i64>,
        limit: u64,
    ) -> Result<EventPage, RepositoryError> {
        let filter = AuditFilter {
            subject: Some(caller.user.id()),
            ..AuditFilter::default()
        };
        let mut page = EventPage::read(&self.core, &filter, before, limit).await?;
        for event in &mut page.items {
            event.as_seen_by(caller.user.id());
        }
        Ok(page)
    }
}
