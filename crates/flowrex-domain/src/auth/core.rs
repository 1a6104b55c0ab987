//! The core every service stands on: the shared ports and policies, and the rules every
//! use case shares, each written once — who may sign in, whom something issued under a
//! stamp still belongs to (`holder`), opening a session (`core/sessions.rs`), confirming
//! the owner and the `aal2` rule (`core/owner.rs`), mailed links and notices
//! (`core/mail.rs`), passkey ceremonies (`core/ceremonies.rs`), TOTP codes
//! (`core/totp.rs`), new passwords hashed after the breach check (`core/passwords.rs`),
//! and the login throttle as a value that must end (`core/throttle.rs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{AccountPolicy, AuthPolicy, BreachPolicy, CorePorts, LoginThrottle, Policies};
use crate::ports::{
    AccountStore, AccountStoreError, AuditLog, Changes, Clock, FederationStore, MfaStore,
    PasskeyStore, PasswordHasher, RepositoryError, SessionStore, TokenIssuer, TokenVerifier,
    UserRepository,
};
use crate::{Assurance, AuditAction, AuditEvent, AuditUser, IssuedUnder, SessionId, User, UserId};

mod ceremonies;
mod events;
pub(in crate::auth) mod mail;
mod owner;
mod passwords;
mod sessions;
pub(super) mod throttle;
mod totp;
mod users;

pub use self::ceremonies::{CEREMONY_TTL, PasskeyCeremony, user_handle};
pub use self::events::EventPage;
pub(in crate::auth) use self::passwords::NewPasswordError;
pub(super) use self::totp::TotpCheck;
pub use self::users::Registration;

/// What every use case shares. Built once ([`super::Services::new`]), held by every
/// service behind an `Arc`.
pub struct Core {
    pub(super) users: Arc<dyn UserRepository>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) accounts: Arc<dyn AccountStore>,
    pub(super) factors: Arc<dyn MfaStore>,
    pub(super) passkeys: Arc<dyn PasskeyStore>,
    pub(super) federation: Arc<dyn FederationStore>,
    pub(super) hasher: Arc<dyn PasswordHasher>,
    pub(super) issuer: Arc<dyn TokenIssuer>,
    pub(super) verifier: Arc<dyn TokenVerifier>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) audit: Arc<dyn AuditLog>,
    pub(super) policy: AuthPolicy,
    pub(super) lifecycle: AccountPolicy,
    pub(super) throttle: LoginThrottle,
    pub(super) breaches: BreachPolicy,
    /// Held while a breached password at login is looked up and recorded, so that logins
    /// at once on this instance tell the owner once.
    pub(super) noting_breaches: futures::lock::Mutex<()>,
}

/// An access token's live session and its active user: what an authenticated request
/// acts as.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The session of the token.
    pub session: SessionId,
    /// How the session was authenticated (from the token's signed claims, which are the
    /// session's).
    pub assurance: Assurance,
}

/// Why a user may not sign in, whatever the way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignInRefusal {
    /// The account is deactivated: answered as an unknown account.
    Inactive,
    /// The address is not verified while `REQUIRE_VERIFIED_EMAIL` is on.
    Unverified,
}

impl SignInRefusal {
    /// The `reason` a failed login records.
    pub(super) fn reason(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Unverified => "unverified",
        }
    }
}

impl Core {
    /// The core over `ports`, following `policies`.
    pub fn new(ports: CorePorts, policies: Policies) -> Self {
        Self {
            users: ports.users,
            sessions: ports.sessions,
            accounts: ports.accounts,
            factors: ports.factors,
            passkeys: ports.passkeys,
            federation: ports.federation,
            hasher: ports.hasher,
            issuer: ports.issuer,
            verifier: ports.verifier,
            clock: ports.clock,
            audit: ports.audit,
            policy: policies.auth,
            lifecycle: policies.accounts,
            throttle: policies.throttle,
            breaches: policies.breaches,
            noting_breaches: futures::lock::Mutex::new(()),
        }
    }

    /// The token lifetimes in force.
    pub fn policy(&self) -> AuthPolicy {
        self.policy
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Whether `user` may sign in now, whatever the way in (a password, a second factor, a
    /// passkey, and any added later): the account is active, and its address verified
    /// where that is required.
    pub(super) fn may_sign_in(&self, user: &User) -> Result<(), SignInRefusal> {
        if !user.is_active() {
            return Err(SignInRefusal::Inactive);
        }
        if self.lifecycle.require_verified_email && !user.is_verified() {
            return Err(SignInRefusal::Unverified);
        }
        Ok(())
    }

    /// Applies `changes`, which insert or update a user, and returns that user.
    pub(super) async fn apply_for_user(
        &self,
        changes: Changes,
        now: DateTime<Utc>,
    ) -> Result<User, AccountStoreError> {
        self.accounts
            .apply(changes, now)
            .await?
            .user
            .ok_or_else(|| AccountStoreError::Unexpected(anyhow::anyhow!("no user changed")))
    }

    /// The active user `issued` was issued to, if no credential event of theirs happened
    /// since: the one check every link, second-factor challenge and passkey ceremony
    /// passes before it is honoured ([`crate::stamp`]).
    pub(super) async fn holder(
        &self,
        issued: IssuedUnder,
    ) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .active_user(issued.user)
            .await?
            .filter(|user| user.still_holds(issued)))
    }

    /// The user `id`, if it exists and is active: whom a token, challenge or passkey may
    /// still sign in or act for.
    pub(super) async fn active_user(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.users.find_by_id(id).await?.filter(User::is_active))
    }

    /// Records a failed login of an existing account (never the password tried).
    pub(super) async fn record_failure(&self, user: AuditUser, reason: &'static str) {
        self.audit
            .record(
                AuditEvent::new(AuditAction::LoginFailed)
                    .on(user)
                    .with("reason", reason),
            )
            .await;
    }
}
