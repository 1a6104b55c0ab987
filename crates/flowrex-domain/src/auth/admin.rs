//! [`Admin`]: superusers and the operator — the user directory: list, create (or invite),
//! read, change and delete accounts (`admin/users.rs`); accounts' access: their sessions,
//! reset links, the superuser flag, and the operator's commands (`admin/access.rs`); the
//! audit trail (`admin/audit.rs`). The caller's superuser flag is the one its request just
//! read from the database ([`super::SignIn::authenticate`]): a demotion takes effect on the
//! next request. No change may leave the service without an active superuser.

use std::sync::Arc;

use super::Authenticated;
use super::core::Core;
use crate::ports::{
    AccountStoreError, FederationStoreError, HashError, RepositoryError, SessionStoreError,
    UserDirectory,
};
use crate::{EmailAddress, FullName, NewPassword, User, UserId};

mod access;
mod audit;
mod users;

/// Administration.
pub struct Admin {
    core: Arc<Core>,
    directory: Arc<dyn UserDirectory>,
}

impl Admin {
    pub(super) fn new(core: Arc<Core>, directory: Arc<dyn UserDirectory>) -> Self {
        Self { core, directory }
    }

    /// [`AdminError::Forbidden`] unless `caller` is an active superuser.
    fn require_superuser(caller: &Authenticated) -> Result<(), AdminError> {
        if caller.user.is_superuser() && caller.user.is_active() {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }
}

/// How long an invitation's set-password link works.
pub const INVITATION_TTL_DAYS: i64 = 7;

failure_enum! {
    /// Why an administration call failed.
    pub enum AdminError {
        /// The caller is not an (active) superuser.
        #[error("superuser required")]
        Forbidden,
        /// No such user.
        #[error("user not found")]
        NotFound,
        /// The change would leave no active superuser.
        #[error("the last active superuser cannot be removed")]
        LastSuperuser,
        /// The address is another account's.
        #[error("email already registered")]
        EmailTaken,
        /// An invitation or a reset link must be mailed, and mail is off.
        #[error("mail delivery is not configured")]
        MailDisabled,
        /// No such identity of the user.
        #[error("identity not found")]
        IdentityNotFound,
        /// Removing the identity would leave the user no way to sign in.
        #[error("the last way to sign in cannot be removed")]
        LastWayIn,
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

super::errors::from_new_password_error!(AdminError);

impl From<AccountStoreError> for AdminError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::EmailTaken => Self::EmailTaken,
            AccountStoreError::LastSuperuser => Self::LastSuperuser,
            AccountStoreError::IdentityGone => Self::IdentityNotFound,
            AccountStoreError::LastWayIn => Self::LastWayIn,
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            AccountStoreError::Unexpected(source) => Self::Unexpected(source),
            other @ (AccountStoreError::TokenUsed
            | AccountStoreError::StampMoved
            | AccountStoreError::PasskeyTaken
            | AccountStoreError::PasskeyGone
            | AccountStoreError::IdentityTaken) => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

super::errors::from_store_errors! { AdminError: RepositoryError, SessionStoreError, FederationStoreError; }
super::errors::from_unexpected_errors! { AdminError: HashError; }

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// The users of this page.
    pub items: Vec<User>,
    /// Where the next page starts (the last item's id), when there may be one.
    pub next: Option<UserId>,
}

/// A user an administrator creates.
#[derive(Debug)]
pub struct AdminNewUser {
    /// The login address.
    pub email: EmailAddress,
    /// The password; `None` invites the user to choose one by mail.
    pub password: Option<NewPassword>,
    /// The display name.
    pub full_name: Option<FullName>,
    /// The address counts as verified.
    pub is_verified: bool,
    /// An administrator.
    pub is_superuser: bool,
}

/// What an administrator changes of a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AdminUserChange {
    /// Active or not; deactivating ends every session at once.
    pub is_active: Option<bool>,
    /// Verified or not.
    pub is_verified: Option<bool>,
    /// Administrator or not.
    pub is_superuser: Option<bool>,
    /// The display name (`Some(None)` clears it).
    pub full_name: Option<Option<FullName>>,
}
