//! Flowrex's core: who a user is and how they authenticate — with no I/O and no framework,
//! so that any Flowrex service can embed it.
//!
//! # Where to start
//! - The use cases, as four services over one [`Core`]: [`SignIn`] (password, second
//!   factor, passkey, the session afterwards), [`Accounts`] (registration, the lifecycle
//!   over mail, one's own account), [`Factors`] (TOTP, recovery codes, passkeys) and
//!   [`Admin`] (the directory, accounts' access, the audit trail) — see [`auth`]. Each use
//!   case returns its own error type.
//! - [`ports`]: the traits it is written against (users, sessions, account changes, second
//!   factors, passkeys, the mail outbox, the audit trail, hashing, tokens, time, attempt
//!   counters), each with its contract in its docs. [`CorePorts`] are what every service
//!   shares; [`ServicePorts`] adds the few that one service alone uses (TOTP codes and the
//!   sealer for [`Factors`] and [`SignIn`], the WebAuthn relying party, the user directory
//!   for [`Admin`]). Adapters live in other crates (`flowrex-infrastructure`: sea-orm,
//!   bcrypt, JWT, Redis); tests and examples use the hand-written fakes of
//!   [`test_support`] (feature `test-support`) or the `mockall` mocks of every port
//!   (feature `mocks`).
//! - Each store port's contract is also a test suite, `test_support::contracts` (feature
//!   `test-support`): the same assertions run against the in-memory fakes here and against
//!   the sea-orm stores on SQLite, PostgreSQL and MariaDB in `flowrex-infrastructure`, so an
//!   adapter, new or old, is held to the rules the use cases rely on.
//! - Sign-in with an outside provider ([`identity`]): whom a provider's callback signs in
//!   (the identity's user by provider and subject, never by address; a link by a signed-in
//!   user; an account of the same address only when both sides say verified and the
//!   provider allows it; a new account), the flow's single-use state and exchange code, and
//!   every rule of a password login at the exchange — in [`SignIn`] and [`Accounts`], over
//!   the [`ports::IdentityProviders`] and [`ports::FederationStore`] ports.
//! - Values that reach the service have already passed their rules — parse, don't
//!   validate: [`EmailAddress`], [`NewPassword`], [`FullName`], [`SessionId`].
//!
//! # Embedding
//! ```toml
//! [dependencies]
//! flowrex-domain = { git = "…", package = "flowrex-domain" }
//! ```
//! then wire the [`Services`] from their [`ServicePorts`] — `examples/in_memory.rs` does it
//! with the in-memory fakes and runs register → login → the current user:
//! `cargo run -p flowrex-domain --example in_memory --features test-support`.
//! A service that only needs to check Flowrex's access tokens does not need this crate's
//! use cases at all: see `flowrex-infrastructure`'s `examples/protected_service.rs`.
#![warn(missing_docs)]

#[cfg(test)]
#[macro_use]
extern crate assert_matches;

#[macro_use]
mod failure;

pub mod audit;
pub mod auth;
pub mod client;
pub mod delivery;
pub mod email;
pub mod email_login;
pub mod events;
pub mod identity;
pub mod mail;
pub mod mfa;
pub mod one_time;
pub mod password;
pub mod ports;
pub mod session;
pub mod stamp;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod token;
pub mod user;

pub use audit::{
    AuditAction, AuditEvent, AuditFilter, AuditUser, RecordedEvent, ThrottleScope, ThrottleTally,
    ThrottledLogin,
};
pub use auth::{
    AccountError, AccountPolicy, Accounts, Admin, AdminError, AdminNewUser, AdminUserChange,
    AuthPolicy, AuthenticateError, Authenticated, BreachOnError, BreachPolicy, Core, CorePorts,
    EmailLinkLanding, EmailLoginError, EmailLoginPolicy, EventPage, Factors, Federation,
    FederationError, FlowStart, INVITATION_TTL_DAYS, Landed, Landing, LoginAttempt, LoginError,
    LoginOutcome, LoginThrottle, LogoutError, LogoutRequest, MfaError, MfaVerifyError,
    PasskeyCeremony, PasskeyError, Policies, ProfileChange, ProviderCallback, RefreshError,
    RegisterError, Registration, RevokeSessionError, SecondFactorChallenge, SecondFactorProof,
    ServicePorts, Services, SignIn, UserPage, VerificationRequest,
};
pub use client::{ClientInfo, ClientKey};
pub use delivery::{DeliveryPolicy, DeliveryReport, MailDelivery};
pub use email::{EmailAddress, InvalidEmail};
pub use email_login::{EmailLoginKey, LoginCode, MAX_CODE_TRIES, NewEmailLogin, StoredEmailLogin};
pub use events::{
    AccountEvent, Delivered, EventDelivery, EventPlan, EventRetryPolicy, EventSubject, EventType,
    Outcome, WebhookError, WebhookPatch, WebhookRequest, Webhooks, WithSecret,
};
pub use identity::{
    EXCHANGE_CODE_TTL, FLOW_TTL, FederationRefusal, FlowSecrets, Identity, IdentityOwner,
    NewIdentity, ProvenIdentity, ProviderId, ProviderKind, ProviderRules, ReturnUrls,
};
pub use mail::{EMAIL_LOGIN_PAGE, LinkTemplates, Mail, MailPurpose};
pub use mfa::{
    Aal, Assurance, AuthMethod, RecoveryCode, SealedSecret, SecondFactor, TotpProvisioning,
    TotpSecret,
};
pub use one_time::{NewOneTimeToken, OneTimeToken, StoredToken, TokenOwner, TokenPurpose};
pub use password::{
    MAX_PASSWORD_BYTES, NewPassword, PasswordAttempt, PasswordHash, PasswordPolicyViolation,
};
pub use session::{RevokeReason, Session, SessionId, TokenFingerprint};
pub use stamp::{IssuedUnder, SecurityStamp};
pub use token::{TokenKind, TokenPair, TokenRequest, VerifiedToken};
pub use user::{FullName, InvalidFullName, NewUser, User, UserId, UserParts};
