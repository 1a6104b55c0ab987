//! New passwords: the one place a password about to be set is checked against known
//! breaches and hashed (registration, an operator's or administrator's new user, a reset,
//! an invitation's first password, a change), and the breach check of a password that
//! just signed in.

use crate::ports::{BreachCheckError, Changes, HashError};
use crate::{
    AuditAction, AuditEvent, AuditFilter, AuditUser, BreachOnError, MailPurpose, NewPassword,
    PasswordAttempt, PasswordHash, User,
};

use super::Core;

/// Why a new password was not hashed.
#[derive(Debug, thiserror::Error)]
pub(in crate::auth) enum NewPasswordError {
    /// It appears in known breaches.
    #[error("password found in a breach")]
    Breached,
    /// The breach source failed and `PASSWORD_BREACH_ON_ERROR` is `refuse`.
    #[error("breached-password check unavailable")]
    CheckUnavailable(#[source] BreachCheckError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl Core {
    /// `password`'s hash, if it is not a known breached password (as far as the source
    /// answers; see [`BreachOnError`]).
    pub(in crate::auth) async fn hash_new_password(
        &self,
        password: &NewPassword,
    ) -> Result<PasswordHash, NewPasswordError> {
        match self.breach_count(password.expose()).await {
            Ok(Some(count)) if count >= self.breaches.min_count => {
                tracing::info!("new password refused: found in a breach");
                return Err(NewPasswordError::Breached);
            }
            Ok(_) => {}
            Err(error) => match self.breaches.on_error {
                BreachOnError::Allow => {
                    tracing::warn!(%error, cause = ?std::error::Error::source(&error), "breached-password check failed: password allowed");
                }
                BreachOnError::Refuse => {
                    tracing::warn!(%error, cause = ?std::error::Error::source(&error), "breached-password check failed: password refused for now");
                    return Err(NewPasswordError::CheckUnavailable(error));
                }
            },
        }
        Ok(self.hasher.hash(password.expose()).await?)
    }

    /// After `attempt` signed `user` in: when the password is a known breached one, records
    /// `password_breached_at_login` and mails the user — once per credential state (the
    /// stamp, which every password change moves). Never refuses the sign-in; a failure is
    /// logged.
    pub(in crate::auth) async fn note_breached_login(
        &self,
        user: &User,
        attempt: &PasswordAttempt,
    ) {
        let count = match self.breach_count(attempt.expose()).await {
            Ok(Some(count)) if count >= self.breaches.min_count => count,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "breached-password check at login failed");
                return;
            }
        };
        // Looked up and recorded as one step on this instance (several instances at once
        // may each tell the owner once; the per-recipient mail limit, shared through
        // Redis, holds those back too).
        let _noting = self.noting_breaches.lock().await;
        let stamp = user.security_stamp().get();
        let filter = AuditFilter {
            subject: Some(user.id()),
            action: Some(AuditAction::PasswordBreachedAtLogin),
            ..AuditFilter::default()
        };
        let told = match self.audit.list(&filter, None, 1).await {
            Ok(events) => events.first().is_some_and(|last| {
                last.details.get("stamp").and_then(|s| s.as_i64()) == Some(stamp)
            }),
            Err(error) => {
                tracing::warn!(%error, "breached password at login not recorded");
                return;
            }
        };
        if told {
            return;
        }
        tracing::info!(count, "password that signed in is found in a breach");
        let changes = Changes {
            audit: vec![
                AuditEvent::new(AuditAction::PasswordBreachedAtLogin)
                    .on(AuditUser::User(user.id()))
                    .with("stamp", stamp),
            ],
            ..Changes::default()
        };
        if let Err(error) = self
            .apply_with_notice(changes, user.email(), MailPurpose::PasswordBreached)
            .await
        {
            tracing::warn!(%error, "breached password at login not recorded");
        }
    }

    /// How often `password` appears in the breach source; `None` with no source.
    async fn breach_count(&self, password: &str) -> Result<Option<u64>, BreachCheckError> {
        match &self.breaches.source {
            Some(source) => source.occurrences(password).await.map(Some),
            None => Ok(None),
        }
    }
}
