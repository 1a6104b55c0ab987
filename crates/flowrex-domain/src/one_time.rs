//! One-time tokens: the secrets in mailed links (verify an address, reset a password,
//! confirm an email change). 32 random bytes, hex (URL-safe); only their SHA-256 is stored,
//! with the user, the purpose, the expiry, when it was used, and the user's security stamp
//! it was issued under ([`crate::stamp`]).

use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::{IssuedUnder, SecurityStamp, TokenFingerprint, UserId};

/// What a one-time token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Verify the user's address.
    VerifyEmail,
    /// Set a new password (a reset, or an invitation's first password).
    ResetPassword,
    /// Move the account to the token's new address.
    ChangeEmail,
}

impl TokenPurpose {
    /// Every purpose: one mailed link, and one page of the service's own, each.
    pub const ALL: [Self; 3] = [Self::VerifyEmail, Self::ResetPassword, Self::ChangeEmail];

    /// The path (without its `/`) of the service's own page that a link of this purpose
    /// opens when no front end takes the link over: the mail's default link, the route and
    /// the CSRF rule's exemption for the page's form all come from here.
    pub fn page(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify-email",
            Self::ResetPassword => "reset-password",
            Self::ChangeEmail => "confirm-email",
        }
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
        }
    }

    /// The purpose stored as [`Self::as_str`], if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == raw)
    }
}

/// A one-time token as mailed: never logged, never stored (only its fingerprint is).
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken(String);

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;

impl OneTimeToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// A token a client sent back; `None` unless it has the shape of one we issue (so that
    /// no lookup runs for garbage).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (raw.len() == 2 * TOKEN_BYTES && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_ascii_lowercase()))
    }

    /// The token, for the link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks it up by.
    pub fn fingerprint(&self) -> TokenFingerprint {
        TokenFingerprint::of(&self.0)
    }
}

impl std::fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeToken(***)")
    }
}

/// Whose a new token is, and the owner's stamp it is issued under: it works only while
/// the owner's stamp is still that one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    /// An existing user, as read when the token's mail was addressed (so that a link
    /// mailed to an address the account has left meanwhile never works).
    User(IssuedUnder),
    /// The user inserted by the same set of changes (registration), under
    /// [`SecurityStamp::INITIAL`].
    Inserted,
}

impl TokenOwner {
    /// The stamp the token is issued under.
    pub fn stamp(self) -> SecurityStamp {
        match self {
            Self::User(issued) => issued.stamp,
            Self::Inserted => SecurityStamp::INITIAL,
        }
    }
}

/// A token to store. Storing it invalidates the owner's unused tokens of its purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOneTimeToken {
    /// Whose.
    pub owner: TokenOwner,
    /// For what.
    pub purpose: TokenPurpose,
    /// Its fingerprint.
    pub fingerprint: TokenFingerprint,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// For an email change: the address to move to.
    pub new_email: Option<String>,
}

/// A stored token, as a lookup by fingerprint finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// Its row.
    pub id: i64,
    /// Whose.
    pub user: UserId,
    /// For what.
    pub purpose: TokenPurpose,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used (or replaced by a newer one).
    pub used_at: Option<DateTime<Utc>>,
    /// For an email change: the address to move to.
    pub new_email: Option<String>,
    /// The user's stamp it was issued under.
    pub stamp: SecurityStamp,
}

impl StoredToken {
    /// Whom it was issued to, under which stamp.
    pub fn issued_under(&self) -> IssuedUnder {
        IssuedUnder {
            user: self.user,
            stamp: self.stamp,
        }
    }

    /// Neither used nor expired at `now`, and for `purpose`.
    pub fn is_usable_for(&self, purpose: TokenPurpose, now: DateTime<Utc>) -> bool {
        self.purpose == purpose && self.used_at.is_none() && self.expires_at > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_in_hex_and_parse_back() {
        let token = OneTimeToken::generate();
        assert_eq!(token.expose().len(), 64);
        assert_ne!(token, OneTimeToken::generate());
        assert_eq!(OneTimeToken::parse(token.expose()), Some(token.clone()));
        assert_eq!(
            OneTimeToken::parse(&token.expose().to_ascii_uppercase()),
            Some(token.clone())
        );
        for garbage in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert_eq!(OneTimeToken::parse(garbage), None, "{garbage}");
        }
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
