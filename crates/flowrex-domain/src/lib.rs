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
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod token;
pub mod user;

pub use auth::{
    AuthPolicy, AuthService, AuthenticateError, Credentials, LoginError, LoginThrottle,
    RefreshError, RegisterError, Registration,
};
pub use email::{EmailAddress, InvalidEmail};
pub use password::{
    MAX_PASSWORD_BYTES, NewPassword, PasswordAttempt, PasswordHash, PasswordPolicyViolation,
};
pub use token::{TokenKind, TokenPair, VerifiedToken};
pub use user::{FullName, InvalidFullName, NewUser, User, UserId, UserParts};
