//! Accounts: registration (and the operator's `user create`), deactivation.

use tracing::{Span, instrument};

use super::{AuthService, LogoutError, RegisterError};
use crate::{EmailAddress, FullName, NewPassword, NewUser, RevokeReason, User};

/// A registration request whose parts passed their rules.
#[derive(Debug)]
pub struct Registration {
    /// The login address.
    pub email: EmailAddress,
    /// The chosen password.
    pub password: NewPassword,
    /// The optional display name.
    pub full_name: Option<FullName>,
}

impl AuthService {
    /// Registers a new user (never an administrator).
    ///
    /// # Errors
    /// [`RegisterError::EmailTaken`] when the address is registered, also when another
    /// registration of it wins a race; store and hashing failures otherwise.
    pub async fn register(&self, registration: Registration) -> Result<User, RegisterError> {
        self.create_user(registration, false).await
    }

    /// Creates a user, an administrator when `superuser` (the operator's `flowrex user
    /// create`; registration over HTTP never makes one).
    ///
    /// # Errors
    /// As [`Self::register`].
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn create_user(
        &self,
        registration: Registration,
        superuser: bool,
    ) -> Result<User, RegisterError> {
        // Checked first so that a taken address does not cost a hash; the repository's
        // unique index still decides when two registrations race.
        if self
            .users
            .find_by_email(&registration.email)
            .await?
            .is_some()
        {
            return Err(RegisterError::EmailTaken);
        }
        let password_hash = self.hasher.hash(registration.password.expose()).await?;
        let user = self
            .users
            .insert(NewUser {
                email: registration.email,
                password_hash,
                full_name: registration.full_name,
                created_at: self.now(),
                is_superuser: superuser,
            })
            .await?;
        Span::current().record("user_id", user.id().get());
        tracing::info!("user registered");
        Ok(user)
    }

    /// Deactivates the user with this address and ends all its sessions: its tokens stop
    /// working at once. `false` when no such user exists.
    ///
    /// # Errors
    /// [`LogoutError::Unavailable`] when a store cannot be reached.
    pub async fn deactivate(&self, email: &EmailAddress) -> Result<bool, LogoutError> {
        let Some(user) = self.users.find_by_email(email).await? else {
            return Ok(false);
        };
        let now = self.now();
        self.users.set_active(user.id(), false, now).await?;
        let revoked = self
            .sessions
            .revoke_all(user.id(), RevokeReason::Deactivated, now)
            .await?;
        tracing::info!(user_id = user.id().get(), revoked, "user deactivated");
        Ok(true)
    }
}
