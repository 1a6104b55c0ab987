//! Sign-in by email: one mail carries a link (a [`crate::OneTimeToken`]) and a six-digit
//! [`LoginCode`], both for the same single sign-in. Only their SHA-256 is stored — the
//! code's bound to its link's token, so that equal codes of two requests never collide —
//! with the address, the account and its stamp then (none when the sign-in may create the
//! account), the wrong codes tried, the front end to return to, the expiry and when it was
//! used.

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::{EmailAddress, IssuedUnder, OneTimeToken, TokenFingerprint};

/// Wrong codes a sign-in mail takes before it stops working.
pub const MAX_CODE_TRIES: u32 = 5;

/// The mailed code: six decimal digits (never logged).
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode(String);

impl LoginCode {
    /// A new code from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    /// A code a client typed; `None` unless it is six digits (spaces and dashes between
    /// them are ignored, as people copy them).
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    /// The code, for the mail.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: the code's SHA-256, bound to the link's token.
    pub fn fingerprint(&self, link: &TokenFingerprint) -> TokenFingerprint {
        TokenFingerprint::of(&format!("email-login-code:{}:{}", link.as_str(), self.0))
    }
}

impl std::fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginCode(***)")
    }
}

/// A sign-in mail to store. Storing it replaces the address's earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmailLogin {
    /// The address mailed.
    pub email: EmailAddress,
    /// The account and its stamp; `None` when signing in may create it.
    pub owner: Option<IssuedUnder>,
    /// The link's token's fingerprint.
    pub token: TokenFingerprint,
    /// The code's fingerprint ([`LoginCode::fingerprint`]).
    pub code: TokenFingerprint,
    /// Where the front end is sent back to (on the allow-list).
    pub return_to: Option<String>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl NewEmailLogin {
    /// The secrets of a new sign-in mail: its link's token and its code.
    pub fn secrets() -> (OneTimeToken, LoginCode) {
        (OneTimeToken::generate(), LoginCode::generate())
    }
}

/// A stored sign-in mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEmailLogin {
    /// Its row.
    pub id: i64,
    /// The address's key ([`EmailAddress::key`]).
    pub email: String,
    /// The account and its stamp then; `None` when signing in may create it.
    pub owner: Option<IssuedUnder>,
    /// The link's token's fingerprint.
    pub token: TokenFingerprint,
    /// The code's fingerprint.
    pub code: TokenFingerprint,
    /// Wrong codes tried.
    pub attempts: u32,
    /// Where the front end is sent back to.
    pub return_to: Option<String>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used (or replaced).
    pub used_at: Option<DateTime<Utc>>,
}

impl StoredEmailLogin {
    /// Neither used, replaced, out of tries nor expired at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.attempts < MAX_CODE_TRIES && self.expires_at > now
    }

    /// Whether `code` is this mail's.
    pub fn has_code(&self, code: &LoginCode) -> bool {
        code.fingerprint(&self.token) == self.code
    }
}

/// How a sign-in mail is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailLoginKey {
    /// By its link's token.
    Token(TokenFingerprint),
    /// The newest unused one of an address (its [`EmailAddress::key`]), for its code.
    Email(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_bound_to_their_link_and_never_printed() {
        let code = LoginCode::generate();
        assert_eq!(code.expose().len(), 6);
        assert_eq!(LoginCode::parse(code.expose()), Some(code.clone()));
        assert_eq!(LoginCode::parse("123 456"), LoginCode::parse("123-456"));
        for garbage in ["", "12345", "1234567", "abcdef", "12345x"] {
            assert_eq!(LoginCode::parse(garbage), None, "{garbage}");
        }
        let a = OneTimeToken::generate().fingerprint();
        let b = OneTimeToken::generate().fingerprint();
        assert_ne!(code.fingerprint(&a), code.fingerprint(&b));
        assert!(!format!("{code:?}").contains(code.expose()));
    }
}
