//! Passwords: what a client sends, what the policy accepts, and what is stored.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// Minimum password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longest password bcrypt uses in full, in UTF-8 bytes. Longer ones would be silently
/// truncated, so two passwords sharing their first 72 bytes would both match.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A password as sent at login: any string, never printed.
pub struct PasswordAttempt(SecretString);

impl PasswordAttempt {
    /// Wraps what the client sent.
    pub fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }

    /// The secret, for a hasher.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether bcrypt can check it in full: at most [`MAX_PASSWORD_BYTES`] and no NUL.
    /// Registration refuses any other password, so such an attempt can never be right.
    pub fn is_verifiable(&self) -> bool {
        let secret = self.expose();
        secret.len() <= MAX_PASSWORD_BYTES && !secret.contains('\0')
    }
}

impl fmt::Debug for PasswordAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordAttempt(***)")
    }
}

/// A rule of the password policy that a new password breaks. The messages are the original
/// service's, shown to clients as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyViolation {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("Password must be ≥8 characters")]
    TooShort,
    /// No uppercase letter.
    #[error("Must contain uppercase")]
    NoUppercase,
    /// No lowercase letter.
    #[error("Must contain lowercase")]
    NoLowercase,
    /// No digit.
    #[error("Must contain digit")]
    NoDigit,
    /// Longer than bcrypt can use ([`MAX_PASSWORD_BYTES`]).
    #[error("Password must be at most 72 bytes")]
    TooLong,
    /// A NUL character, which bcrypt implementations treat differently.
    #[error("Password must not contain NUL characters")]
    ContainsNul,
}

/// A password chosen at registration that passed the policy, checked in this order:
/// length, uppercase, lowercase, digit (the SPEC's rules and messages), then at most 72
/// bytes and no NUL (so that bcrypt uses all of it). Never printed.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Checks `raw` against the policy.
    ///
    /// # Errors
    /// The first [`PasswordPolicyViolation`] in policy order.
    pub fn parse(raw: String) -> Result<Self, PasswordPolicyViolation> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordPolicyViolation::TooShort);
        }
        if !raw.chars().any(char::is_uppercase) {
            return Err(PasswordPolicyViolation::NoUppercase);
        }
        if !raw.chars().any(char::is_lowercase) {
            return Err(PasswordPolicyViolation::NoLowercase);
        }
        if !raw.chars().any(char::is_numeric) {
            return Err(PasswordPolicyViolation::NoDigit);
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordPolicyViolation::TooLong);
        }
        if raw.contains('\0') {
            return Err(PasswordPolicyViolation::ContainsNul);
        }
        Ok(Self(SecretString::from(raw)))
    }

    /// The secret, for a hasher.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// A stored password hash (a bcrypt string such as `$2b$12$…`). Opaque to the domain; not
/// printed in full.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash produced by a hasher or read from storage.
    pub fn new(hash: String) -> Self {
        Self(hash)
    }

    /// The hash string, for storage and verification.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored value of an account with no password (made by signing in with an outside
    /// provider): no hash at all, so no password matches it, and a login tried against it
    /// costs the same verification as a wrong password ([`Self::is_usable`]).
    pub fn unusable() -> Self {
        Self(UNUSABLE.to_owned())
    }

    /// Whether a password can match this hash: `false` for [`Self::unusable`].
    pub fn is_usable(&self) -> bool {
        !self.0.starts_with(UNUSABLE)
    }
}

/// What an account without a password stores instead of a hash (never a bcrypt string,
/// which starts with `$`).
const UNUSABLE: &str = "!";

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PasswordPolicyViolation::*;

    #[test]
    fn policy_is_checked_in_spec_order() {
        let cases = [
            ("", Err(TooShort)),
            ("Ab1", Err(TooShort)),
            ("abcdefg1", Err(NoUppercase)),
            ("ABCDEFG1", Err(NoLowercase)),
            ("Abcdefgh", Err(NoDigit)),
            ("short", Err(TooShort)),
            ("Test1234", Ok(())),
            ("ÄÖÜäöü12", Ok(())),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                NewPassword::parse(raw.to_owned()).map(|_| ()),
                expected,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn passwords_bcrypt_would_truncate_are_refused() {
        let exactly_72 = format!("Aa1{}", "x".repeat(69));
        assert_eq!(NewPassword::parse(exactly_72.clone()).map(|_| ()), Ok(()));
        assert_eq!(
            NewPassword::parse(format!("{exactly_72}y")).map(|_| ()),
            Err(TooLong)
        );
        // 25 three-byte characters are 75 bytes, though only 25 characters.
        assert_eq!(
            NewPassword::parse(format!("Aa1{}", "€".repeat(25))).map(|_| ()),
            Err(TooLong)
        );
        assert_eq!(
            NewPassword::parse("Test\u{0}1234".to_owned()).map(|_| ()),
            Err(ContainsNul)
        );
    }

    #[test]
    fn attempts_bcrypt_cannot_check_in_full_are_not_verifiable() {
        assert!(PasswordAttempt::new("x".repeat(72)).is_verifiable());
        assert!(!PasswordAttempt::new("x".repeat(73)).is_verifiable());
        assert!(!PasswordAttempt::new("a\0b".to_owned()).is_verifiable());
    }

    proptest::proptest! {
        #[test]
        fn an_accepted_password_meets_every_rule(raw in "\\PC{0,90}") {
            if NewPassword::parse(raw.clone()).is_ok() {
                proptest::prop_assert!(raw.chars().count() >= MIN_PASSWORD_CHARS);
                proptest::prop_assert!(raw.len() <= MAX_PASSWORD_BYTES);
                proptest::prop_assert!(raw.chars().any(char::is_uppercase));
                proptest::prop_assert!(raw.chars().any(char::is_lowercase));
                proptest::prop_assert!(raw.chars().any(char::is_numeric));
                proptest::prop_assert!(!raw.contains('\0'));
            }
        }

        #[test]
        fn a_rejected_password_names_the_first_broken_rule(raw in "[a-zA-Z0-9]{0,12}") {
            let expected = if raw.chars().count() < MIN_PASSWORD_CHARS {
                Some(TooShort)
            } else if !raw.chars().any(|c| c.is_ascii_uppercase()) {
                Some(NoUppercase)
            } else if !raw.chars().any(|c| c.is_ascii_lowercase()) {
                Some(NoLowercase)
            } else if !raw.chars().any(|c| c.is_ascii_digit()) {
                Some(NoDigit)
            } else {
                None
            };
            proptest::prop_assert_eq!(NewPassword::parse(raw).err(), expected);
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Seven characters, fourteen bytes: still too short, as in the original (Python len).
        assert_eq!(
            NewPassword::parse("Äbcdéf1".to_owned()).map(|_| ()),
            Err(TooShort)
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let password = NewPassword::parse("Test1234".to_owned()).map_err(|e| e.to_string());
        assert_eq!(format!("{password:?}"), "Ok(NewPassword(***))");
        let attempt = PasswordAttempt::new("hunter2".to_owned());
        assert_eq!(format!("{attempt:?}"), "PasswordAttempt(***)");
        let hash = PasswordHash::new("$2b$12$abc".to_owned());
        assert_eq!(format!("{hash:?}"), "PasswordHash(***)");
    }

    #[test]
    fn messages_are_the_originals() {
        assert_eq!(TooShort.to_string(), "Password must be ≥8 characters");
        assert_eq!(NoUppercase.to_string(), "Must contain uppercase");
        assert_eq!(NoLowercase.to_string(), "Must contain lowercase");
        assert_eq!(NoDigit.to_string(), "Must contain digit");
    }
}
