//! E-mail addresses.

use std::fmt;
use std::hash::{Hash, Hasher};

use unicode_normalization::UnicodeNormalization;

/// Longest address we accept, in characters (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;

/// An address that passed Flowrex's rules: no control character anywhere (not even a
/// trailing newline or tab), surrounding spaces trimmed, Unicode
/// normalised (NFC), a syntactically valid `local@domain` with a dotted domain (Unicode
/// domains are accepted as such), at most [`MAX_EMAIL_LENGTH`] characters.
///
/// It has two forms. The *display* form keeps the local part as the user typed it and
/// lower-cases the domain, as the original service's `EmailStr` did; it is what responses
/// show. The *key* lower-cases the whole address; it is what accounts are compared and
/// looked up by, so `Foo@Example.com` and `foo@example.com` are one account. Equality and
/// hashing follow the key.
#[derive(Clone)]
pub struct EmailAddress {
    display: String,
    key: String,
}

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
    /// A control character (NUL, newline, …) anywhere in it.
    #[error("The email address contains a control character.")]
    ControlCharacter,
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
        // Before trimming: a control character is refused, never repaired, even at an end
        // (`"a@b.co\n"`), since an address goes into mail headers.
        if raw.chars().any(char::is_control) {
            return Err(InvalidEmail::ControlCharacter);
        }
        let normalized: String = raw.trim().nfc().collect();
        if normalized.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        let length = normalized.chars().count();
        if length > MAX_EMAIL_LENGTH {
            return Err(InvalidEmail::TooLong(length - MAX_EMAIL_LENGTH));
        }
        let Some((local, domain)) = normalized.rsplit_once('@') else {
            return Err(InvalidEmail::MissingAt);
        };
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        email_address::EmailAddress::parse_with_options(&normalized, options)
            .map_err(|error| InvalidEmail::Syntax(error.to_string()))?;
        if !domain.contains('.') {
            return Err(InvalidEmail::DomainWithoutPeriod);
        }
        Ok(Self::from_stored(format!(
            "{local}@{}",
            domain.to_lowercase()
        )))
    }

    /// Wraps an address read back from storage, where it was stored after [`Self::parse`]
    /// (or by the original service, whose rules were close to ours). For adapters only.
    pub fn from_stored(display: String) -> Self {
        let key = Self::key_of(&display);
        Self { display, key }
    }

    /// The comparison key of any address string: trimmed, NFC, lower-cased: what accounts
    /// are looked up and kept unique by. (The migrations that fill the key column keep
    /// their own frozen copy of this rule.)
    pub fn key_of(address: &str) -> String {
        address.trim().nfc().collect::<String>().to_lowercase()
    }

    /// The address as shown (local part as typed, domain lower-cased).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The comparison key (the whole address lower-cased).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for EmailAddress {}

impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.display).finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn shown(raw: &str) -> Result<String, InvalidEmail> {
        EmailAddress::parse(raw).map(|e| e.display)
    }

    #[test]
    fn accepts_ordinary_addresses_and_trims_white_space() {
        for (raw, stored) in [
            ("a@b.co", "a@b.co"),
            ("  user.name+tag@example.com ", "user.name+tag@example.com"),
            ("Test@EXAMPLE.com", "Test@example.com"),
        ] {
            assert_eq!(shown(raw), Ok(stored.to_owned()), "{raw}");
        }
    }

    #[test]
    fn case_variants_are_one_address() {
        let a = EmailAddress::parse("Foo@Example.com");
        let b = EmailAddress::parse("foo@example.COM");
        assert_matches!((&a, &b), (Ok(a), Ok(b)) if a == b && a.key() == "foo@example.com");
    }

    #[test]
    fn two_unicode_spellings_are_one_address() {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301).
        let composed = EmailAddress::parse("jos\u{e9}@example.com");
        let decomposed = EmailAddress::parse("jose\u{301}@example.com");
        assert_matches!((&composed, &decomposed), (Ok(a), Ok(b)) if a == b && a.as_str() == b.as_str());
    }

    #[test]
    fn internationalised_domains_are_accepted() {
        assert_eq!(shown("user@münchen.DE"), Ok("user@münchen.de".to_owned()));
        assert_eq!(shown("用户@例子.广告"), Ok("用户@例子.广告".to_owned()));
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        assert_eq!(shown("   "), Err(InvalidEmail::Empty));
        assert_eq!(shown("not-an-email"), Err(InvalidEmail::MissingAt));
        assert_eq!(
            shown("user@localhost"),
            Err(InvalidEmail::DomainWithoutPeriod)
        );
        assert_eq!(
            shown("a\0b@example.com"),
            Err(InvalidEmail::ControlCharacter)
        );
        for raw in [
            "a@example.com\n",
            "a@b.co\t",
            "\u{0}a@b.co",
            "\ra@b.co",
            "a@b.co\u{85}",
        ] {
            assert_eq!(shown(raw), Err(InvalidEmail::ControlCharacter), "{raw:?}");
        }
        assert_eq!(
            shown("a\nb@example.com"),
            Err(InvalidEmail::ControlCharacter)
        );
        for raw in [
            "@example.com",
            "user@",
            "a b@example.com",
            "user@exa mple.com",
            "x@@y.com",
        ] {
            assert_matches!(shown(raw), Err(InvalidEmail::Syntax(_)), "{raw}");
        }
    }

    #[test]
    fn rejects_addresses_longer_than_254_characters() {
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert_eq!(long.len(), 259);
        assert_eq!(shown(&long), Err(InvalidEmail::TooLong(5)));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_addresses_keep_their_rules(raw in "\\PC{0,300}") {
            if let Ok(email) = EmailAddress::parse(&raw) {
                prop_assert!(email.as_str().chars().count() <= MAX_EMAIL_LENGTH);
                prop_assert!(email.as_str().contains('@'));
                prop_assert!(!email.as_str().chars().any(char::is_control));
                prop_assert_eq!(email.as_str().trim(), email.as_str());
                prop_assert_eq!(email.key(), email.as_str().to_lowercase());
            }
        }

        #[test]
        fn parsing_is_idempotent_and_case_insensitive(
            local in "[A-Za-z0-9._%+-]{1,40}",
            domain in "[A-Za-z0-9-]{1,30}\\.[A-Za-z]{2,10}",
        ) {
            let raw = format!("{local}@{domain}");
            if let Ok(email) = EmailAddress::parse(&raw) {
                let again = EmailAddress::parse(email.as_str());
                prop_assert_eq!(again.as_ref().map(EmailAddress::as_str), Ok(email.as_str()));
                let upper = EmailAddress::parse(&raw.to_uppercase());
                prop_assert_eq!(upper.as_ref().map(EmailAddress::key), Ok(email.key()));
            }
        }
    }
}
