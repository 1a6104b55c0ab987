//! The use cases, as four services by who acts, over one [`Core`]:
//!
//! - [`SignIn`] — someone signing in or holding a session: a password login
//!   (`auth/sign_in/password.rs`), its second factor (`sign_in/second_factor.rs`), a
//!   passkey (`sign_in/passkey.rs`), and the session afterwards: refresh rotation,
//!   authentication, logout, the sessions list (`sign_in/sessions.rs`);
//! - [`Accounts`] — a person and their own account: registration, the lifecycle over mail
//!   (`accounts/lifecycle.rs`), the profile, the address and deletion
//!   (`accounts/profile.rs`), their own security log;
//! - [`Factors`] — the ways an account signs in besides its password: TOTP and recovery
//!   codes (`factors/totp.rs`), passkeys (`factors/passkeys.rs`);
//! - [`Admin`] — superusers and the operator: the user directory, accounts' access, the
//!   audit trail (`admin/users.rs`, `admin/access.rs`, `admin/audit.rs`).
//!
//! Each holds the [`Core`] and only the ports of its own, all required: no port answers
//! "not configured" at run time. The [`Core`] (`auth/core.rs`) holds what every use case
//! shares — users, sessions, account changes, factors and passkeys, hashing, tokens, time,
//! the audit trail, the policies — and the rules they share, each written once: whether a
//! user may sign in ([`Core`]'s `may_sign_in`), opening a session, confirming the owner, the
//! security stamp's holder check, the login throttle as a value that must end
//! (`core/throttle.rs`). [`Services::new`] builds all four over one core. Each use case's
//! error type and its mapping from the ports' errors: `auth/errors.rs`.

use std::sync::Arc;

use chrono::Duration;

use crate::ports::{
    AccountStore, AuditLog, BreachedPasswords, Clock, FailureCounter, FederationStore,
    IdentityProviders, MfaStore, OneTimePasswords, PasskeyStore, PasswordHasher, RelyingParty,
    Sealer, SessionStore, TokenIssuer, TokenVerifier, UserDirectory, UserRepository,
};
use crate::{LinkTemplates, ReturnUrls};

mod accounts;
mod admin;
mod core;
#[cfg(test)]
mod email_login_tests;
mod errors;
mod factors;
mod federation;
#[cfg(test)]
mod federation_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod mfa_tests;
#[cfg(test)]
mod passkeys_tests;
mod sign_in;
#[cfg(test)]
mod tests;

pub use self::accounts::{Accounts, ProfileChange, VerificationRequest};
pub use self::admin::{
    Admin, AdminError, AdminNewUser, AdminUserChange, INVITATION_TTL_DAYS, UserPage,
};
use self::core::TotpCheck;
pub use self::core::{
    Authenticated, CEREMONY_TTL, Core, EventPage, PasskeyCeremony, Registration, user_handle,
};
pub use self::errors::{
    AccountError, AuthenticateError, LoginError, LogoutError, MfaError, MfaVerifyError,
    PasskeyError, RefreshError, RegisterError, RevokeSessionError,
};
pub use self::factors::Factors;
pub use self::federation::{Federation, FederationError, FlowStart};
pub use self::sign_in::{
    EMAIL_PROVIDER, EmailLinkLanding, EmailLoginError, Landed, Landing, LoginAttempt, LoginOutcome,
    LogoutRequest, ProviderCallback, SecondFactorChallenge, SecondFactorProof, SignIn,
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
    /// Sign-in by email.
    pub email_login: EmailLoginPolicy,
}

/// Sign-in by email (`EMAIL_LOGIN_*`): off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailLoginPolicy {
    /// `EMAIL_LOGIN_ENABLED`: the routes answer 404 without it.
    pub enabled: bool,
    /// `EMAIL_LOGIN_CREATES_ACCOUNTS`: an unknown address gets a sign-in mail too, and
    /// following it creates the account (verified: the mailbox was proven).
    pub creates_accounts: bool,
    /// `EMAIL_LOGIN_TOKEN_EXPIRE_MINUTES`: how long the link and the code work.
    pub ttl: Duration,
}

impl Default for EmailLoginPolicy {
    /// Off; no accounts created; 10 minutes.
    fn default() -> Self {
        Self {
            enabled: false,
            creates_accounts: false,
            ttl: Duration::minutes(10),
        }
    }
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
            email_login: EmailLoginPolicy::default(),
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

/// The rules the services follow, from configuration.
#[derive(Default)]
pub struct Policies {
    /// Token lifetimes.
    pub auth: AuthPolicy,
    /// The account lifecycle's rules.
    pub accounts: AccountPolicy,
    /// Login throttling (none by default).
    pub throttle: LoginThrottle,
    /// Where a flow with an outside provider (or a sign-in by email) may return to (none
    /// by default).
    pub return_urls: ReturnUrls,
    /// Whether and how new passwords are checked against known breaches (off by default).
    pub breaches: BreachPolicy,
}

/// What to do when the breached-password source cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreachOnError {
    /// Accept the password (logged and counted).
    #[default]
    Allow,
    /// Refuse to set it for now (the client is told to retry).
    Refuse,
}

/// The breached-password check (`PASSWORD_BREACH_CHECK`): every password set is refused
/// when it appears at least `min_count` times in `source`; a password that signs in and
/// appears there is recorded and its owner told once.
#[derive(Clone)]
pub struct BreachPolicy {
    /// The ranges asked (`None`: no check).
    pub source: Option<Arc<dyn BreachedPasswords>>,
    /// How many occurrences make a breach (at least 1: padding lines count 0).
    pub min_count: u64,
    /// When the source fails.
    pub on_error: BreachOnError,
}

impl Default for BreachPolicy {
    /// No check; a count of 1 is a breach; a failure lets the password through.
    fn default() -> Self {
        Self {
            source: None,
            min_count: 1,
            on_error: BreachOnError::Allow,
        }
    }
}

/// The ports the [`Core`] holds: what every use case shares.
pub struct CorePorts {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Atomic account changes, one-time tokens and the mail outbox.
    pub accounts: Arc<dyn AccountStore>,
    /// Second factors and sign-in challenges.
    pub factors: Arc<dyn MfaStore>,
    /// Passkeys and ceremony states.
    pub passkeys: Arc<dyn PasskeyStore>,
    /// Identities linked to outside providers, and their flows.
    pub federation: Arc<dyn FederationStore>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Token signing.
    pub issuer: Arc<dyn TokenIssuer>,
    /// Token checking.
    pub verifier: Arc<dyn TokenVerifier>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
}

/// Every port of the four services.
pub struct ServicePorts {
    /// What the core holds.
    pub core: CorePorts,
    /// TOTP codes (sign-in and factors).
    pub otp: Arc<dyn OneTimePasswords>,
    /// Sealing of TOTP secrets at rest (sign-in and factors).
    pub sealer: Arc<dyn Sealer>,
    /// The WebAuthn relying party (sign-in and factors).
    pub relying_party: Arc<dyn RelyingParty>,
    /// The user directory (administration).
    pub directory: Arc<dyn UserDirectory>,
    /// The outside providers (sign-in and one's own account).
    pub providers: Arc<dyn IdentityProviders>,
}

/// The four services over one core: what a composition root (or a test) builds once.
pub struct Services {
    /// Signing in and sessions.
    pub sign_in: SignIn,
    /// One's own account.
    pub accounts: Accounts,
    /// Second factors and passkeys.
    pub factors: Factors,
    /// Administration.
    pub admin: Admin,
}

impl Services {
    /// Builds the core from `ports.core` and `policies`, and each service over it with its
    /// own ports.
    pub fn new(ports: ServicePorts, policies: Policies) -> Self {
        let federation = Federation::new(ports.providers, policies.return_urls.clone());
        let core = Arc::new(Core::new(ports.core, policies));
        let totp = TotpCheck {
            otp: ports.otp,
            sealer: ports.sealer,
        };
        Self {
            sign_in: SignIn::new(
                core.clone(),
                totp.clone(),
                ports.relying_party.clone(),
                federation.clone(),
            ),
            accounts: Accounts::new(core.clone(), federation),
            factors: Factors::new(core.clone(), totp, ports.relying_party),
            admin: Admin::new(core, ports.directory),
        }
    }
}
