//! E-mail addresses.

use std::fmt;

/// Longest address we accept, in characters (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;

/// An address that passed Flowrex's rules: surrounding white space trimmed, a syntactically
/// valid `local@domain` with a dotted domain, at most [`MAX_EMAIL_LENGTH`] characters, the
/// domain lower-cased (domains are case-insensitive; the local part is kept as typed, as
/// the original service's `EmailStr` did).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why a string is not an acceptable e-mail address. The message is shown to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    /// Nothing but white space.
    #[error("An email address cannot be empty.")]
    Empty,
    /// Longer than [`MAX_EMAIL_LENGTH`].
    #[error("The email address is too long ({0} characters more than {MAX_EMAIL_LENGTH}).")]
    TooLong(usize),
    /// No `@` at all.
    #[error("An email address must have an @-sign.")]
    MissingAt,
    /// The domain has no dot (`user@localhost`).
    #[error("The part after the @-sign is not valid. It should have a period.")]
    DomainWithoutPeriod,
    /// Any other syntax error, as described by the parser.
    #[error("{0}")]
    Syntax(String),
}

impl EmailAddress {
    /// Parses a client-supplied address.
    ///
    /// # Errors
    /// [`InvalidEmail`] describing the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        let length = trimmed.chars().count();
        if length > MAX_EMAIL_LENGTH {
            return Err(InvalidEmail::TooLong(length - MAX_EMAIL_LENGTH));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(InvalidEmail::MissingAt);
        };
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        email_address::EmailAddress::parse_with_options(trimmed, options)
            .map_err(|error| InvalidEmail::Syntax(error.to_string()))?;
        if !domain.contains('.') {
            return Err(InvalidEmail::DomainWithoutPeriod);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// Wraps an address read back from storage, where it was stored after [`Self::parse`]
    /// (or by the original service, whose rules were close to ours). For adapters only.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The address as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_trims_white_space() {
        for (raw, stored) in [
            ("a@b.co", "a@b.co"),
            ("  user.name+tag@example.com ", "user.name+tag@example.com"),
            ("Test@EXAMPLE.com", "Test@example.com"),
        ] {
            assert_eq!(
                EmailAddress::parse(raw).map(|e| e.0),
                Ok(stored.to_owned()),
                "{raw}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        assert_eq!(EmailAddress::parse("   "), Err(InvalidEmail::Empty));
        assert_eq!(
            EmailAddress::parse("not-an-email"),
            Err(InvalidEmail::MissingAt)
        );
        assert_eq!(
            EmailAddress::parse("user@localhost"),
            Err(InvalidEmail::DomainWithoutPeriod)
        );
        for raw in [
            "@example.com",
            "user@",
            "a b@example.com",
            "user@exa mple.com",
            "x@@y.com",
        ] {
            assert!(
                matches!(EmailAddress::parse(raw), Err(InvalidEmail::Syntax(_))),
                "{raw}"
            );
        }
    }

    #[test]
    fn rejects_addresses_longer_than_254_characters() {
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert_eq!(long.len(), 259);
        assert_eq!(EmailAddress::parse(&long), Err(InvalidEmail::TooLong(5)));
    }
}
