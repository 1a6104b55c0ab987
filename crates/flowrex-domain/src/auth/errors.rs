//! Each use case's error, and how the ports' errors map into them. Unknown email, wrong
//! password and inactive user are one [`LoginError::InvalidCredentials`], so that no answer
//! tells which accounts exist.

use crate::ports::{
    AccountStoreError, FederationStoreError, HashError, IssueError, MfaStoreError, OtpError,
    PasskeyStoreError, RepositoryError, SessionStoreError,
};

failure_enum! {
    /// Why registration failed.
    pub enum RegisterError {
        /// The address belongs to an existing user.
        #[error("email already registered")]
        EmailTaken,
        /// The new password appears in known breaches (`PASSWORD_BREACH_CHECK`).
        #[error("password found in a breach")]
        PasswordBreached,
        /// The breached-password source failed, and `PASSWORD_BREACH_ON_ERROR` is `refuse`.
        #[error("breached-password check unavailable")]
        BreachCheckUnavailable,
    }
    /// The user store cannot be reached.
    unavailable: "user store unavailable";
}

failure_enum! {
    /// Why a login failed.
    pub enum LoginError {
        /// Unknown email, wrong password or inactive user.
        #[error("invalid email or password")]
        InvalidCredentials,
        /// Too many attempts from this client (for this account): refused without checking
        /// the password, until `retry_after` has passed.
        #[error("too many failed logins")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
        /// The right password of an account whose address is not verified, while
        /// `REQUIRE_VERIFIED_EMAIL` is on.
        #[error("email not verified")]
        EmailNotVerified,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

failure_enum! {
    /// Why managing a second factor failed.
    pub enum MfaError {
        /// The code is wrong, or was used already.
        #[error("invalid code")]
        InvalidCode,
        /// The current password given with the request is wrong.
        #[error("current password is incorrect")]
        WrongPassword,
        /// Activation without a pending enrolment.
        #[error("no TOTP enrolment is pending")]
        NothingPending,
        /// The step needs an active factor, and there is none.
        #[error("no active TOTP factor")]
        NoFactor,
        /// The account has a second factor and the session was not signed in with one.
        #[error("a session at aal2 is required")]
        Aal2Required,
        /// Too many wrong passwords from this client for this account: refused unchecked.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
        /// A way to sign in is added only to an account whose address is verified.
        #[error("email not verified")]
        EmailNotVerified,
        /// The caller's credentials changed while the request ran (a reset, every session
        /// ended): nothing was changed; sign in again.
        #[error("credentials changed meanwhile")]
        Stale,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

failure_enum! {
    /// Why completing a login with its second factor failed.
    pub enum MfaVerifyError {
        /// A wrong, used or replayed code or recovery code (a try of the challenge's five).
        #[error("invalid code")]
        InvalidCode,
        /// An `mfa_token` that is unknown, used, expired or out of tries, or issued before a
        /// credential event of its account: log in again.
        #[error("invalid or expired mfa_token")]
        InvalidChallenge,
        /// The account's address is not verified, and verification became required after
        /// its password was checked.
        #[error("email not verified")]
        EmailNotVerified,
        /// Too many failures from this client (for this account), as for logins.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

failure_enum! {
    /// Why a step of the account lifecycle failed. Each use case says which it can answer.
    pub enum AccountError {
        /// A one-time token that is unknown, used, replaced, expired or of another purpose.
        #[error("invalid or expired token")]
        InvalidToken,
        /// The current password given with the request is wrong.
        #[error("current password is incorrect")]
        WrongPassword,
        /// The address is another account's.
        #[error("email already registered")]
        EmailTaken,
        /// Too many wrong passwords from this client for this account: refused unchecked.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
        /// The step must send mail, and no mail can be sent (`SMTP_URL` unset outside
        /// development).
        #[error("mail delivery is not configured")]
        MailDisabled,
        /// The account has a second factor and the session was not signed in with one.
        #[error("a session at aal2 is required")]
        Aal2Required,
        /// The caller's credentials changed while the request ran (a reset, every session
        /// ended): nothing was changed; sign in again.
        #[error("credentials changed meanwhile")]
        Stale,
        /// The change would leave no active superuser.
        #[error("the last active superuser cannot be removed")]
        LastSuperuser,
        /// The new password appears in known breaches (`PASSWORD_BREACH_CHECK`).
        #[error("password found in a breach")]
        PasswordBreached,
        /// The breached-password source failed, and `PASSWORD_BREACH_ON_ERROR` is `refuse`.
        #[error("breached-password check unavailable")]
        BreachCheckUnavailable,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

failure_enum! {
    /// Why a refresh failed.
    pub enum RefreshError {
        /// Bad, expired or wrong-type token, dead session, replayed token, or its user is
        /// missing or inactive.
        #[error("invalid refresh token")]
        InvalidToken,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

failure_enum! {
    /// Why an access token does not identify a live session of an active user.
    pub enum AuthenticateError {
        /// Bad, expired or wrong-type token, dead session, or a missing or inactive user.
        #[error("invalid credentials")]
        InvalidCredentials,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

failure_enum! {
    /// Why a session could not be revoked by its owner.
    pub enum RevokeSessionError {
        /// No active session with that id belongs to the caller.
        #[error("session not found")]
        NotFound,
    }
    /// The session store cannot be reached.
    unavailable: "session store unavailable";
}

failure_enum! {
    /// Why a logout could not be carried out.
    pub enum LogoutError {}
    /// The session store cannot be reached: the session may still be valid.
    unavailable: "session store unavailable";
}

/// `From` the store errors that are only `Unavailable` or `Unexpected` (users, sessions,
/// factors), variant for variant, for each use case error listed with them.
macro_rules! from_store_errors {
    ($($error:ident: $($store:ident),+;)+) => {$($(
        impl From<$store> for $error {
            fn from(error: $store) -> Self {
                match error {
                    $store::Unavailable(source) => Self::Unavailable(source),
                    $store::Unexpected(source) => Self::Unexpected(source),
                }
            }
        }
    )+)+};
}
pub(super) use from_store_errors;

/// `From` failures that are bugs or misconfiguration (hashing, signing, TOTP): unexpected.
macro_rules! from_unexpected_errors {
    ($($error:ident: $($source:ident),+;)+) => {$($(
        impl From<$source> for $error {
            fn from(error: $source) -> Self {
                Self::Unexpected(error.into())
            }
        }
    )+)+};
}
pub(super) use from_unexpected_errors;

/// `From` the account store's errors for the use cases that only change what they
/// checked: a taken email, a used token or the last superuser there is an adapter's bug. A
/// use case that guards its changes with a stamp names what a moved stamp means for it.
macro_rules! from_account_store_error {
    ($($error:ident $(, stamp moved: $moved:expr)?;)+) => {$(
        impl From<AccountStoreError> for $error {
            fn from(error: AccountStoreError) -> Self {
                match error {
                    $(AccountStoreError::StampMoved => $moved,)?
                    AccountStoreError::Unavailable(source) => Self::Unavailable(source),
                    AccountStoreError::Unexpected(source) => Self::Unexpected(source),
                    other => Self::Unexpected(anyhow::anyhow!(other)),
                }
            }
        }
    )+};
}

from_store_errors! {
    LoginError: RepositoryError, SessionStoreError, MfaStoreError;
    RefreshError: RepositoryError, SessionStoreError;
    AuthenticateError: RepositoryError, SessionStoreError;
    LogoutError: RepositoryError, SessionStoreError;
    RevokeSessionError: RepositoryError, SessionStoreError;
    MfaError: RepositoryError, SessionStoreError, MfaStoreError;
    MfaVerifyError: RepositoryError, SessionStoreError, MfaStoreError;
    AccountError: RepositoryError, SessionStoreError, MfaStoreError, PasskeyStoreError, FederationStoreError;
    RegisterError: RepositoryError, SessionStoreError;
}
from_unexpected_errors! {
    LoginError: HashError, IssueError;
    RefreshError: HashError, IssueError;
    AuthenticateError: HashError, IssueError;
    LogoutError: HashError, IssueError;
    RevokeSessionError: HashError, IssueError;
    MfaError: HashError, IssueError, OtpError;
    MfaVerifyError: HashError, IssueError;
    AccountError: HashError;
    RegisterError: HashError;
}
from_account_store_error! {
    LoginError;
    RefreshError;
    AuthenticateError;
    LogoutError;
    RevokeSessionError;
    MfaError, stamp moved: Self::Stale;
    // The challenge's credentials changed after its password was checked.
    MfaVerifyError, stamp moved: Self::InvalidChallenge;
}

impl From<AccountStoreError> for RegisterError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::EmailTaken => Self::EmailTaken,
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

/// A new password refused or not hashed, for each use case that sets one.
macro_rules! from_new_password_error {
    ($($error:ident),+) => {$(
        impl From<$crate::auth::core::NewPasswordError> for $error {
            fn from(error: $crate::auth::core::NewPasswordError) -> Self {
                match error {
                    $crate::auth::core::NewPasswordError::Breached => Self::PasswordBreached,
                    $crate::auth::core::NewPasswordError::CheckUnavailable(_) => Self::BreachCheckUnavailable,
                    $crate::auth::core::NewPasswordError::Hash(error) => Self::Unexpected(error.into()),
                }
            }
        }
    )+};
}
pub(super) use from_new_password_error;

from_new_password_error!(RegisterError, AccountError);

/// A changed stamp is [`AccountError::Stale`] here; the link flows, where it means the
/// link died, answer [`AccountError::InvalidToken`] instead (`link_error`).
impl From<AccountStoreError> for AccountError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::EmailTaken => Self::EmailTaken,
            AccountStoreError::TokenUsed => Self::InvalidToken,
            AccountStoreError::StampMoved => Self::Stale,
            AccountStoreError::LastSuperuser => Self::LastSuperuser,
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            AccountStoreError::Unexpected(source) => Self::Unexpected(source),
            other @ (AccountStoreError::PasskeyTaken
            | AccountStoreError::PasskeyGone
            | AccountStoreError::IdentityTaken
            | AccountStoreError::IdentityGone
            | AccountStoreError::LastWayIn) => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

/// The account store's error for a change that honours a mailed link: a stamp that moved
/// on means the link stopped working.
pub(super) fn link_error(error: AccountStoreError) -> AccountError {
    match error {
        AccountStoreError::StampMoved => AccountError::InvalidToken,
        other => other.into(),
    }
}

failure_enum! {
    /// Why a passkey step failed.
    pub enum PasskeyError {
        /// The ceremony id is unknown, used, expired or of the other ceremony.
        #[error("invalid or expired ceremony")]
        InvalidCeremony,
        /// The registration response does not verify.
        #[error("passkey registration rejected")]
        RegistrationRejected,
        /// The passkey is registered already.
        #[error("passkey already registered")]
        AlreadyRegistered,
        /// The assertion does not verify, or names no passkey of an active user.
        #[error("passkey not accepted")]
        LoginRejected,
        /// No such passkey of the caller's.
        #[error("passkey not found")]
        NotFound,
        /// The account has a second factor and the session was not signed in with one.
        #[error("a session at aal2 is required")]
        Aal2Required,
        /// A verified passkey of an account whose address is not verified, while
        /// `REQUIRE_VERIFIED_EMAIL` is on: the same answer as for the right password; or a
        /// passkey to add to such an account (a way to sign in is added only to a verified
        /// address).
        #[error("email not verified")]
        EmailNotVerified,
        /// Adding a passkey from a session below `aal2` needs the current password.
        #[error("current password required")]
        PasswordRequired,
        /// The current password given is wrong (counted like a failed login).
        #[error("current password is incorrect")]
        WrongPassword,
        /// Too many failures from this client.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

from_store_errors! { PasskeyError: RepositoryError, MfaStoreError, PasskeyStoreError; }
use super::FederationError;
from_store_errors! { FederationError: RepositoryError, MfaStoreError, FederationStoreError; }

/// The password check of the lifecycle, as a passkey step sees it.
impl From<AccountError> for PasskeyError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::WrongPassword => Self::WrongPassword,
            AccountError::Aal2Required => Self::Aal2Required,
            AccountError::Throttled { retry_after } => Self::Throttled { retry_after },
            AccountError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

impl From<AccountStoreError> for PasskeyError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::PasskeyTaken => Self::AlreadyRegistered,
            AccountStoreError::PasskeyGone => Self::NotFound,
            // The ceremony's credentials changed before its finish was stored.
            AccountStoreError::StampMoved => Self::InvalidCeremony,
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            AccountStoreError::Unexpected(source) => Self::Unexpected(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}
