//! Flowrex's core: who a user is and how they authenticate, with no I/O and no framework.
//!
//! Start with [`AuthService`] (the use cases: register, login, refresh, current user,
//! logout), then the [`ports`] it is written against. Values that reach the service have
//! already passed their rules: [`EmailAddress`], [`NewPassword`]. Adapters (databases,
//! bcrypt, JWT) live in other crates and implement the ports; this crate can be embedded by
//! any Flowrex service.
#![warn(missing_docs)]

pub mod auth;
pub mod email;
pub mod password;
pub mod ports;
pub mod session;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod token;
pub mod user;

pub use auth::{
    AuthPolicy, AuthPorts, AuthService, AuthenticateError, Credentials, LoginError, LoginThrottle,
    LogoutError, LogoutRequest, RefreshError, RegisterError, Registration, RevokeSessionError,
};
pub use email::{EmailAddress, InvalidEmail};
pub use password::{
    MAX_PASSWORD_BYTES, NewPassword, PasswordAttempt, PasswordHash, PasswordPolicyViolation,
};
pub use session::{ClientInfo, RevokeReason, Session, SessionId, TokenFingerprint};
pub use token::{TokenKind, TokenPair, TokenRequest, VerifiedToken};
pub use user::{FullName, InvalidFullName, NewUser, User, UserId, UserParts};
