//! The authentication use cases: [`AuthService`], over the [`crate::ports`].
//!
//! - accounts ([`AuthService::register`], [`AuthService::create_user`],
//!   [`AuthService::deactivate`]): `auth/accounts.rs`;
//! - the account lifecycle over mail (verification, forgotten and changed passwords):
//!   `auth/lifecycle.rs`; the caller's own account (profile, email change, deletion):
//!   `auth/profile.rs`;
//! - administration by superusers, never leaving no active superuser: users
//!   (`auth/admin.rs`), their sessions, reset links and the superuser flag
//!   (`auth/admin_access.rs`);
//! - the audit trail, read by administrators and by each user for their own account:
//!   `auth/audit.rs`;
//! - login with brute-force throttling ([`AuthService::login`]): `auth/login.rs`;
//! - second factors: TOTP and recovery codes (`auth/mfa.rs`), completing a login with a
//!   code (`auth/second_factor.rs`); passkeys: registering, listing, removing
//!   (`auth/passkeys.rs`), signing in with one (`auth/passkey_login.rs`);
//! - sessions: refresh rotation, authentication, logout, the sessions list
//!   (`auth/sessions.rs`);
//! - each use case's error type and its mapping from the ports' errors: `auth/errors.rs`.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::LinkTemplates;
use crate::ports::{
    AccountStore, AuditLog, Clock, FailureCounter, PasswordHasher, SessionStore, TokenIssuer,
    TokenVerifier, UserDirectory, UserRepository,
};

mod accounts;
mod admin;
mod admin_access;
mod audit;
mod errors;
mod lifecycle;
#[cfg(test)]
mod lifecycle_tests;
mod login;
mod mfa;
#[cfg(test)]
mod mfa_tests;
mod passkey_login;
mod passkeys;
#[cfg(test)]
mod passkeys_tests;
mod profile;
mod second_factor;
mod sessions;
#[cfg(test)]
mod tests;

pub use accounts::Registration;
pub use admin::{AdminError, AdminNewUser, AdminUserChange, INVITATION_TTL_DAYS, UserPage};
pub use audit::EventPage;
pub use errors::{
    AccountError, AuthenticateError, LoginError, LogoutError, MfaError, MfaRequired,
    MfaVerifyError, RefreshError, RegisterError, RevokeSessionError,
};
pub use lifecycle::VerificationRequest;
pub use login::LoginAttempt;
pub use mfa::MfaPorts;
pub use passkeys::{CEREMONY_TTL, PasskeyCeremony, PasskeyError, PasskeyPorts, user_handle};
pub use profile::ProfileChange;
pub use second_factor::SecondFactorProof;
pub use sessions::{Authenticated, LogoutRequest};

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

/// The account lifecycle's rules: token lifetimes, where links point, whether mail can be
/// sent at all, and the per-recipient limit.
#[derive(Clone)]
pub struct AccountPolicy {
    /// How long a verification link works.
    pub verification_ttl: Duration,
    /// How long a password-reset link works.
    pub reset_ttl: Duration,
    /// How long an email-change link works.
    pub email_change_ttl: Duration,
    /// Where the links point.
    pub links: LinkTemplates,
    /// Whether mail can be sent (`SMTP_URL` set, or development's log transport): without
    /// it, the flows that must mail a link answer [`AccountError::MailDisabled`], and
    /// notices are skipped.
    pub mail_enabled: bool,
    /// A correct password, or a verified passkey, of an unverified account is refused
    /// ([`LoginError::EmailNotVerified`], [`PasskeyError::EmailNotVerified`]).
    pub require_verified_email: bool,
    /// At most one message per recipient and purpose per window (`None`: no limit).
    pub resend_limit: Option<Arc<dyn FailureCounter>>,
}

impl Default for AccountPolicy {
    /// 24 h, 1 h and 1 h links to the service's own pages on `127.0.0.1:8000`; mail on; no
    /// verification required; no resend limit.
    fn default() -> Self {
        Self {
            verification_ttl: Duration::hours(24),
            reset_ttl: Duration::hours(1),
            email_change_ttl: Duration::hours(1),
            links: LinkTemplates::served_by("http://127.0.0.1:8000"),
            mail_enabled: true,
            require_verified_email: false,
            resend_limit: None,
        }
    }
}

/// Brute-force throttling of logins: attempts are counted per client and per account and
/// client, reserved before the password is checked (so that parallel attempts cannot
/// outrun the count); a full key is refused without any password check.
#[derive(Default)]
pub struct LoginThrottle {
    /// Attempts per client (many accounts from one address).
    pub per_client: Option<Arc<dyn FailureCounter>>,
    /// Attempts per account and client (one account guessed at).
    pub per_account: Option<Arc<dyn FailureCounter>>,
}

/// The ports [`AuthService`] is written against.
pub struct AuthPorts {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Atomic account changes, one-time tokens and the mail outbox.
    pub accounts: Arc<dyn AccountStore>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Token signing.
    pub issuer: Arc<dyn TokenIssuer>,
    /// Token checking.
    pub verifier: Arc<dyn TokenVerifier>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// The authentication use cases, written against the [`crate::ports`]. Cheap to share
/// (`Arc` it); every method takes `&self`.
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionStore>,
    accounts: Arc<dyn AccountStore>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    verifier: Arc<dyn TokenVerifier>,
    clock: Arc<dyn Clock>,
    policy: AuthPolicy,
    accounts_policy: AccountPolicy,
    throttle: LoginThrottle,
    directory: Option<Arc<dyn UserDirectory>>,
    audit: Option<Arc<dyn AuditLog>>,
    mfa: Option<MfaPorts>,
    passkeys: Option<PasskeyPorts>,
}

impl AuthService {
    /// Wires the service to its ports, without login throttling.
    pub fn new(ports: AuthPorts, policy: AuthPolicy) -> Self {
        Self {
            users: ports.users,
            sessions: ports.sessions,
            accounts: ports.accounts,
            hasher: ports.hasher,
            issuer: ports.issuer,
            verifier: ports.verifier,
            clock: ports.clock,
            policy,
            accounts_policy: AccountPolicy::default(),
            throttle: LoginThrottle::default(),
            directory: None,
            audit: None,
            mfa: None,
            passkeys: None,
        }
    }

    /// Sets the account lifecycle's rules.
    #[must_use]
    pub fn with_account_policy(mut self, policy: AccountPolicy) -> Self {
        self.accounts_policy = policy;
        self
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

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Applies `changes`, which insert or update a user, and returns that user.
    async fn apply_for_user(
        &self,
        changes: crate::ports::Changes,
        now: DateTime<Utc>,
    ) -> Result<crate::User, crate::ports::AccountStoreError> {
        self.accounts
            .apply(changes, now)
            .await?
            .user
            .ok_or_else(|| {
                crate::ports::AccountStoreError::Unexpected(anyhow::anyhow!("no user changed"))
            })
    }

    /// The active user `issued` was issued to, if no credential event of theirs happened
    /// since: the one check every link, second-factor challenge and passkey ceremony
    /// passes before it is honoured ([`crate::stamp`]).
    async fn holder(
        &self,
        issued: crate::IssuedUnder,
    ) -> Result<Option<crate::User>, crate::ports::RepositoryError> {
        Ok(self
            .active_user(issued.user)
            .await?
            .filter(|user| user.still_holds(issued)))
    }

    /// The user `id`, if it exists and is active: whom a token, challenge or passkey may
    /// still sign in or act for.
    async fn active_user(
        &self,
        id: crate::UserId,
    ) -> Result<Option<crate::User>, crate::ports::RepositoryError> {
        Ok(self
            .users
            .find_by_id(id)
            .await?
            .filter(crate::User::is_active))
    }
}
