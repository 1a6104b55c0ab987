//! The user entity.

use chrono::{DateTime, Utc};

use crate::{EmailAddress, PasswordHash, SecurityStamp};

/// Longest full name we store, in characters (the column is `varchar(255)`).
pub const MAX_FULL_NAME_CHARS: usize = 255;

/// A user's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(i64);

impl UserId {
    /// Wraps a stored id.
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    /// The id as stored.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A display name that fits its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

/// The full name is longer than [`MAX_FULL_NAME_CHARS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("String should have at most 255 characters")]
pub struct InvalidFullName;

impl FullName {
    /// Accepts any text up to [`MAX_FULL_NAME_CHARS`] characters.
    ///
    /// # Errors
    /// [`InvalidFullName`] when it is longer.
    pub fn parse(raw: String) -> Result<Self, InvalidFullName> {
        if raw.chars().count() > MAX_FULL_NAME_CHARS {
            return Err(InvalidFullName);
        }
        Ok(Self(raw))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, consumed.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    id: UserId,
    email: EmailAddress,
    password_hash: PasswordHash,
    full_name: Option<String>,
    is_active: bool,
    is_verified: bool,
    is_superuser: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    security_stamp: SecurityStamp,
}

/// Every field of a stored user, for repositories to rebuild a [`User`].
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the fields are the User's, documented there
pub struct UserParts {
    pub id: UserId,
    pub email: EmailAddress,
    pub password_hash: PasswordHash,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub security_stamp: SecurityStamp,
}

impl From<UserParts> for User {
    fn from(parts: UserParts) -> Self {
        Self {
            id: parts.id,
            email: parts.email,
            password_hash: parts.password_hash,
            full_name: parts.full_name,
            is_active: parts.is_active,
            is_verified: parts.is_verified,
            is_superuser: parts.is_superuser,
            created_at: parts.created_at,
            updated_at: parts.updated_at,
            last_login_at: parts.last_login_at,
            security_stamp: parts.security_stamp,
        }
    }
}

impl User {
    /// The database id.
    pub fn id(&self) -> UserId {
        self.id
    }
    /// The login address.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }
    /// The stored password hash.
    pub fn password_hash(&self) -> &PasswordHash {
        &self.password_hash
    }
    /// The optional display name.
    pub fn full_name(&self) -> Option<&str> {
        self.full_name.as_deref()
    }
    /// Whether the user may log in; inactive users are treated as unknown.
    pub fn is_active(&self) -> bool {
        self.is_active
    }
    /// Whether the address was verified.
    pub fn is_verified(&self) -> bool {
        self.is_verified
    }
    /// Whether the user is an administrator.
    pub fn is_superuser(&self) -> bool {
        self.is_superuser
    }
    /// When the user registered.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When the row last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// When the user last logged in (`None`: never, or only through the original).
    pub fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.last_login_at
    }

    /// The version of the user's credentials ([`crate::stamp`]).
    pub fn security_stamp(&self) -> SecurityStamp {
        self.security_stamp
    }

    /// Every field, for adapters and fakes that rebuild a changed user.
    pub fn to_parts(&self) -> UserParts {
        UserParts {
            id: self.id,
            email: self.email.clone(),
            password_hash: self.password_hash.clone(),
            full_name: self.full_name.clone(),
            is_active: self.is_active,
            is_verified: self.is_verified,
            is_superuser: self.is_superuser,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login_at: self.last_login_at,
            security_stamp: self.security_stamp,
        }
    }
}

/// A user about to be stored: new users are active; registered ones are unverified and
/// never administrators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The login address.
    pub email: EmailAddress,
    /// The hash of the chosen password.
    pub password_hash: PasswordHash,
    /// The optional display name.
    pub full_name: Option<FullName>,
    /// Registration time, from the service's clock.
    pub created_at: DateTime<Utc>,
    /// An administrator (only `flowrex user create --superuser` makes one).
    pub is_superuser: bool,
    /// The address counts as verified from the start (an operator's `flowrex user
    /// create` vouches for it).
    pub is_verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_up_to_255_characters_are_accepted() {
        assert!(FullName::parse("é".repeat(255)).is_ok());
        assert_eq!(FullName::parse("a".repeat(256)), Err(InvalidFullName));
    }
}
