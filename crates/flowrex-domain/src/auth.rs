//! The authentication use cases.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tracing::{Span, instrument};

use crate::ports::{
    Clock, FailureCounter, HashError, IssueError, PasswordHasher, RateDecision, RepositoryError,
    SessionStore, TokenIssuer, TokenVerifier, UserRepository,
};
use crate::{
    ClientInfo, EmailAddress, FullName, NewPassword, NewUser, PasswordAttempt, TokenPair, User,
};

/// Token lifetimes and the refresh grace period, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    /// How long an access token lives.
    pub access_ttl: Duration,
    /// How long a refresh token (and its session) lives.
    pub refresh_ttl: Duration,
    /// How long after a rotation the replaced refresh token is refused *without* revoking
    /// the session: two tabs refreshing at once are not an attack.
    pub refresh_reuse_grace: Duration,
}

impl Default for AuthPolicy {
    /// The original's lifetimes (30 minutes, 7 days) and a 5-second grace period.
    fn default() -> Self {
        Self {
            access_ttl: Duration::minutes(30),
            refresh_ttl: Duration::days(7),
            refresh_reuse_grace: Duration::seconds(5),
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
    /// The client's address, for brute-force throttling (`None` when unknown).
    pub client_ip: Option<IpAddr>,
    /// The client's `User-Agent`, recorded with the session.
    pub user_agent: Option<String>,
}

/// Brute-force throttling of logins: attempts are counted per client IP and per account and
/// client IP, reserved before the password is checked (so that parallel attempts cannot
/// outrun the count); a full key is refused without any password check.
pub struct LoginThrottle {
    /// Failures per client IP (many accounts from one address).
    pub per_ip: Option<Arc<dyn FailureCounter>>,
    /// Failures per account and client IP (one account guessed at).
    pub per_account: Option<Arc<dyn FailureCounter>>,
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
    /// Too many failures from this client (for this account): refused without checking the
    /// password, until `retry_after` has passed.
    #[error("too many failed logins")]
    Throttled {
        /// Time until the window ends.
        retry_after: std::time::Duration,
    },
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

/// Why a session could not be revoked by its owner.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// The caller's access token does not identify a current session.
    #[error(transparent)]
    Authenticate(#[from] AuthenticateError),
    /// No active session with that id belongs to the caller.
    #[error("session not found")]
    NotFound,
}

/// Why a logout could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// The session store cannot be reached: the session may still be valid.
    #[error("session store unavailable")]
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
from_repository_error!(LoginError, RefreshError, AuthenticateError, LogoutError);

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

/// The ports [`AuthService`] is written against.
pub struct AuthPorts {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Token signing.
    pub issuer: Arc<dyn TokenIssuer>,
    /// Token checking.
    pub verifier: Arc<dyn TokenVerifier>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// The authentication use cases, written against the [`crate::ports`].
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionStore>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    verifier: Arc<dyn TokenVerifier>,
    clock: Arc<dyn Clock>,
    policy: AuthPolicy,
    throttle: LoginThrottle,
}

impl AuthService {
    /// Wires the service to its ports.
    pub fn new(ports: AuthPorts, policy: AuthPolicy) -> Self {
        Self {
            users: ports.users,
            sessions: ports.sessions,
            hasher: ports.hasher,
            issuer: ports.issuer,
            verifier: ports.verifier,
            clock: ports.clock,
            policy,
            throttle: LoginThrottle {
                per_ip: None,
                per_account: None,
            },
        }
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
            .revoke_all(user.id(), crate::RevokeReason::Deactivated, now)
            .await?;
        tracing::info!(user_id = user.id().get(), revoked, "user deactivated");
        Ok(true)
    }

    /// Turns on brute-force throttling of logins.
    #[must_use]
    pub fn with_login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.throttle = throttle;
        self
    }

    /// The token lifetimes in force.
    pub fn policy(&self) -> AuthPolicy {
        self.policy
    }

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

    /// Logs a user in and issues a token pair.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown email, a wrong password or an
    /// inactive user alike; an unknown email still costs one password verification.
    /// [`LoginError::Throttled`] once the client (or the client for this account) has too
    /// many recent failures; then no password is checked at all.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(&self, credentials: Credentials) -> Result<TokenPair, LoginError> {
        let keys = ThrottleKeys::new(&credentials);
        let reserved = match self.reserve_attempt(&keys).await {
            Ok(reserved) => reserved,
            Err(retry_after) => {
                tracing::info!("login throttled");
                return Err(LoginError::Throttled { retry_after });
            }
        };
        let result = self.check_credentials(&credentials).await;
        match &result {
            // A failure keeps its reservation: it is one of the window's failures.
            Err(LoginError::InvalidCredentials) => {}
            // A success clears the account's failures and gives the client's attempt back.
            Ok(_) => self.forget_failures(&keys, &reserved).await,
            // Not a failed guess (the store is down): nothing to count.
            Err(_) => self.release(&reserved).await,
        }
        let user = result?;
        Span::current().record("user_id", user.id().get());
        self.upgrade_hash(&user, &credentials.password).await;
        let client = ClientInfo {
            ip: credentials.client_ip,
            user_agent: credentials.user_agent,
        };
        let pair = self.start_session(&user, client).await?;
        tracing::info!("login succeeded");
        Ok(pair)
    }

    /// The active user whose password `credentials` hold.
    async fn check_credentials(&self, credentials: &Credentials) -> Result<User, LoginError> {
        let user = self.users.find_by_email(&credentials.email).await?;
        // A password bcrypt cannot check in full was refused at registration: it can never
        // be right, but it costs the same verification as any wrong one.
        let verifiable = credentials.password.is_verifiable();
        let hash = user
            .as_ref()
            .filter(|_| verifiable)
            .map(User::password_hash);
        let matches = self.hasher.verify(&credentials.password, hash).await?;
        match user {
            Some(user) if matches && user.is_active() => Ok(user),
            _ => {
                tracing::info!("login refused");
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// Reserves this attempt with every counter, before any password is checked; the
    /// reservations made, or the time until the first full window ends (then nothing stays
    /// reserved). A counter store that cannot be reached does not block logins (its adapter
    /// has already fallen back where it can).
    async fn reserve_attempt<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
    ) -> Result<Reserved<'a>, std::time::Duration> {
        let mut reserved = Vec::with_capacity(2);
        for (counter, key) in self.counters(keys) {
            match counter.reserve(key).await {
                Ok(RateDecision::Allowed) => reserved.push((counter, key)),
                Ok(RateDecision::Limited { retry_after }) => {
                    self.release(&reserved).await;
                    return Err(retry_after);
                }
                Err(error) => tracing::warn!(%error, "login throttle not checked"),
            }
        }
        Ok(reserved)
    }

    async fn release(&self, reserved: &Reserved<'_>) {
        for (counter, key) in reserved {
            if let Err(error) = counter.release(key).await {
                tracing::warn!(%error, "login attempt not given back");
            }
        }
    }

    /// After a success: the account's failures are forgotten, the client's attempt is
    /// given back, but the client's earlier failures stay (an attacker must not be able to
    /// reset an address's budget with an account of their own).
    async fn forget_failures(&self, keys: &ThrottleKeys, reserved: &Reserved<'_>) {
        let client: Reserved<'_> = reserved
            .iter()
            .filter(|(_, key)| *key == keys.ip)
            .copied()
            .collect();
        self.release(&client).await;
        if let Some(counter) = &self.throttle.per_account
            && let Err(error) = counter.reset(&keys.account).await
        {
            tracing::warn!(%error, "failed logins not reset");
        }
    }

    fn counters<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
    ) -> impl Iterator<Item = (&'a Arc<dyn FailureCounter>, &'a str)> {
        let per_ip = self.throttle.per_ip.iter().map(|c| (c, keys.ip.as_str()));
        let per_account = self
            .throttle
            .per_account
            .iter()
            .map(|c| (c, keys.account.as_str()));
        per_ip.chain(per_account)
    }

    /// Re-hashes at the configured cost when the stored hash was made differently. A
    /// failure is logged and the login still succeeds.
    async fn upgrade_hash(&self, user: &User, password: &PasswordAttempt) {
        if !self.hasher.needs_rehash(user.password_hash()) {
            return;
        }
        let upgraded = match self.hasher.hash(password.expose()).await {
            Ok(hash) => {
                self.users
                    .update_password_hash(user.id(), hash, self.now())
                    .await
            }
            Err(error) => {
                tracing::warn!(%error, "password hash not upgraded");
                return;
            }
        };
        match upgraded {
            Ok(()) => tracing::info!("password hash upgraded to the configured cost"),
            Err(error) => tracing::warn!(%error, "password hash not upgraded"),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// The counters (and keys) an attempt is reserved with.
type Reserved<'a> = Vec<(&'a Arc<dyn FailureCounter>, &'a str)>;

/// The throttling keys of one attempt: the client's address, and that address with the
/// account's email key.
struct ThrottleKeys {
    ip: String,
    account: String,
}

impl ThrottleKeys {
    fn new(credentials: &Credentials) -> Self {
        let ip = credentials
            .client_ip
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let account = format!("{ip}|{}", credentials.email.key());
        Self { ip, account }
    }
}

mod sessions;
pub use sessions::LogoutRequest;
#[cfg(test)]
mod tests;
