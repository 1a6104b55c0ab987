//! Creating a user: registration, and the operator's `flowrex user create`.

use tracing::{Span, instrument};

use super::Core;
use crate::auth::RegisterError;
use crate::ports::Changes;
use crate::{
    AuditAction, AuditEvent, AuditUser, EmailAddress, FullName, NewPassword, NewUser, TokenOwner,
    TokenPurpose, User,
};

/// A registration, parsed: the address, the password (it passed the policy), the name.
#[derive(Debug)]
pub struct Registration {
    /// The login address.
    pub email: EmailAddress,
    /// The chosen password.
    pub password: NewPassword,
    /// The optional display name.
    pub full_name: Option<FullName>,
}

impl Core {
    /// Creates a user, an administrator when `superuser` (the operator's `flowrex user
    /// create`; registration over HTTP never makes one). With `verified` the address counts as
    /// verified at once (the operator vouches for it); otherwise the verification mail is
    /// queued with the user (when mail can be sent).
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub(in crate::auth) async fn create_user(
        &self,
        registration: Registration,
        superuser: bool,
        verified: bool,
    ) -> Result<User, RegisterError> {
        // Checked first so that a taken address does not cost a hash; the store's unique index
        // still decides when two registrations race.
        if self
            .users
            .find_by_email(&registration.email)
            .await?
            .is_some()
        {
            return Err(RegisterError::EmailTaken);
        }
        let password_hash = self.hash_new_password(&registration.password).await?;
        let now = self.now();
        let mut changes = Changes {
            insert_user: Some(NewUser {
                email: registration.email.clone(),
                password_hash,
                full_name: registration.full_name,
                created_at: now,
                is_superuser: superuser,
                is_verified: verified,
            }),
            audit: vec![
                AuditEvent::new(AuditAction::UserRegistered)
                    .by(AuditUser::Inserted)
                    .on(AuditUser::Inserted),
            ],
            ..Changes::default()
        };
        if !verified && self.lifecycle.mail_enabled {
            self.add_link_mail(
                &mut changes,
                TokenOwner::Inserted,
                &registration.email,
                TokenPurpose::VerifyEmail,
                now,
            )
            .await;
        }
        let user = self.apply_for_user(changes, now).await?;
        Span::current().record("user_id", user.id().get());
        tracing::info!("user registered");
        Ok(user)
    }
}
