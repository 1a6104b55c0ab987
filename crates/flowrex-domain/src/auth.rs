//! The authentication use cases.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tracing::{Span, instrument};

use crate::ports::{
    Clock, HashError, IssueError, PasswordHasher, RepositoryError, TokenIssuer, TokenVerifier,
    UserRepository,
};
use crate::{
    EmailAddress, FullName, NewPassword, NewUser, PasswordAttempt, TokenKind, TokenPair, User,
};

/// Token lifetimes, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    /// How long an access token lives.
    pub access_ttl: Duration,
    /// How long a refresh token lives.
    pub refresh_ttl: Duration,
}

impl Default for AuthPolicy {
    /// The original's: 30 minutes and 7 days.
    fn default() -> Self {
        Self {
            access_ttl: Duration::minutes(30),
            refresh_ttl: Duration::days(7),
        }
    }
}

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

/// A login attempt.
#[derive(Debug)]
pub struct Credentials {
    /// The address typed.
    pub email: EmailAddress,
    /// The password typed.
    pub password: PasswordAttempt,
}

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The address belongs to an existing user.
    #[error("email already registered")]
    EmailTaken,
    /// The user store cannot be reached.
    #[error("user store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else (hashing, storage).
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Why a login failed. Unknown email, wrong password and inactive user are one answer.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email, wrong password or inactive user.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The user store cannot be reached.
    #[error("user store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Bad, expired or wrong-type token, or its user is missing or inactive.
    #[error("invalid refresh token")]
    InvalidToken,
    /// The user store cannot be reached.
    #[error("user store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Why an access token does not identify a current user.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Bad, expired or wrong-type token, or its user is missing or inactive.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The user store cannot be reached.
    #[error("user store unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Maps store failures into each use case's error; `EmailTaken` outside an insert is a bug
/// of the adapter and reported as unexpected.
macro_rules! from_repository_error {
    ($($error:ident),+) => {$(
        impl From<RepositoryError> for $error {
            fn from(error: RepositoryError) -> Self {
                match error {
                    RepositoryError::Unavailable(source) => Self::Unavailable(source),
                    RepositoryError::Unexpected(source) => Self::Unexpected(source),
                    RepositoryError::EmailTaken => Self::Unexpected(anyhow::anyhow!(
                        "the user store reported a taken email outside an insert"
                    )),
                }
            }
        }
        impl From<HashError> for $error {
            fn from(error: HashError) -> Self {
                Self::Unexpected(error.into())
            }
        }
        impl From<IssueError> for $error {
            fn from(error: IssueError) -> Self {
                Self::Unexpected(error.into())
            }
        }
    )+};
}
from_repository_error!(LoginError, RefreshError, AuthenticateError);

impl From<RepositoryError> for RegisterError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::EmailTaken => Self::EmailTaken,
            RepositoryError::Unavailable(source) => Self::Unavailable(source),
            RepositoryError::Unexpected(source) => Self::Unexpected(source),
        }
    }
}

impl From<HashError> for RegisterError {
    fn from(error: HashError) -> Self {
        Self::Unexpected(error.into())
    }
}

/// The authentication use cases, written against the [`crate::ports`].
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    verifier: Arc<dyn TokenVerifier>,
    clock: Arc<dyn Clock>,
    policy: AuthPolicy,
}

impl AuthService {
    /// Wires the service to its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        issuer: Arc<dyn TokenIssuer>,
        verifier: Arc<dyn TokenVerifier>,
        clock: Arc<dyn Clock>,
        policy: AuthPolicy,
    ) -> Self {
        Self {
            users,
            hasher,
            issuer,
            verifier,
            clock,
            policy,
        }
    }

    /// The token lifetimes in force.
    pub fn policy(&self) -> AuthPolicy {
        self.policy
    }

    /// Registers a new user.
    ///
    /// # Errors
    /// [`RegisterError::EmailTaken`] when the address is registered, also when another
    /// registration of it wins a race; store and hashing failures otherwise.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn register(&self, registration: Registration) -> Result<User, RegisterError> {
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
        let password_hash = self.hasher.hash(&registration.password).await?;
        let user = self
            .users
            .insert(NewUser {
                email: registration.email,
                password_hash,
                full_name: registration.full_name,
                created_at: self.now(),
            })
            .await?;
        Span::current().record("user_id", user.id().get());
        tracing::info!("user registered");
        Ok(user)
    }

    /// Logs a user in and issues a token pair.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown email, a wrong password or an
    /// inactive user alike; an unknown email still costs one password verification.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(&self, credentials: Credentials) -> Result<TokenPair, LoginError> {
        let user = self.users.find_by_email(&credentials.email).await?;
        let matches = self
            .hasher
            .verify(
                &credentials.password,
                user.as_ref().map(User::password_hash),
            )
            .await?;
        let user = match user {
            Some(user) if matches && user.is_active() => user,
            _ => {
                tracing::info!("login refused");
                return Err(LoginError::InvalidCredentials);
            }
        };
        Span::current().record("user_id", user.id().get());
        tracing::info!("login succeeded");
        Ok(self.issue_pair(&user, self.now())?)
    }

    /// Exchanges a refresh token for a new pair.
    ///
    /// # Errors
    /// [`RefreshError::InvalidToken`] for a bad, expired or wrong-type token or a missing or
    /// inactive user.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let now = self.now();
        let claims = self
            .verifier
            .verify(refresh_token, TokenKind::Refresh, now)
            .map_err(|_| RefreshError::InvalidToken)?;
        Span::current().record("user_id", claims.subject.get());
        let user = self
            .users
            .find_by_id(claims.subject)
            .await?
            .filter(User::is_active)
            .ok_or(RefreshError::InvalidToken)?;
        Ok(self.issue_pair(&user, now)?)
    }

    /// The active user an access token belongs to: one token check and one lookup by id.
    ///
    /// # Errors
    /// [`AuthenticateError::InvalidCredentials`] for a bad, expired or wrong-type token or a
    /// missing or inactive user.
    pub async fn current_user(&self, access_token: &str) -> Result<User, AuthenticateError> {
        let claims = self
            .verifier
            .verify(access_token, TokenKind::Access, self.now())
            .map_err(|_| AuthenticateError::InvalidCredentials)?;
        self.users
            .find_by_id(claims.subject)
            .await?
            .filter(User::is_active)
            .ok_or(AuthenticateError::InvalidCredentials)
    }

    /// Logs out. Never fails: the answer to a logout is always the same. When a valid access
    /// token comes with it, the logout is recorded with its user; revoking the token itself
    /// needs server-side sessions, which the SPEC's stateless tokens do not have yet.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub fn logout(&self, access_token: Option<&str>) -> Option<crate::UserId> {
        let subject = access_token
            .and_then(|token| {
                self.verifier
                    .verify(token, TokenKind::Access, self.now())
                    .ok()
            })
            .map(|claims| claims.subject);
        if let Some(subject) = subject {
            Span::current().record("user_id", subject.get());
            tracing::info!("logout");
        }
        subject
    }

    fn issue_pair(&self, user: &User, now: DateTime<Utc>) -> Result<TokenPair, IssueError> {
        Ok(TokenPair {
            access_token: self.issuer.issue(
                user.id(),
                TokenKind::Access,
                now + self.policy.access_ttl,
            )?,
            refresh_token: self.issuer.issue(
                user.id(),
                TokenKind::Refresh,
                now + self.policy.refresh_ttl,
            )?,
            expires_in: self.policy.access_ttl.num_seconds(),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests;
