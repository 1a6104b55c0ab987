//! Second factors as the domain sees them: how a session was authenticated (`amr`, `aal`),
//! TOTP secrets (never printed, stored only sealed), recovery codes (shown once, stored as
//! hashes) and the sign-in challenge between the password and the second factor.

use std::fmt;

use chrono::Duration;
use rand::Rng;

use crate::TokenFingerprint;

/// One way a session's user proved who they are: an `amr` value (RFC 8176 where it has
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A password (`pwd`).
    Password,
    /// A one-time password from an authenticator app (`otp`).
    Otp,
    /// A recovery code (`recovery`).
    Recovery,
    /// A passkey: WebAuthn with user verification (`passkey`).
    Passkey,
    /// An outside provider's sign-in (`fed`): one factor, whatever the provider asked.
    Federated,
    /// A link or code mailed to the account's address (`email`): one factor.
    Email,
}

impl AuthMethod {
    /// Every method, in the order an `amr` list names them.
    pub const ALL: [Self; 6] = [
        Self::Password,
        Self::Federated,
        Self::Email,
        Self::Otp,
        Self::Recovery,
        Self::Passkey,
    ];

    /// The `amr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::Otp => "otp",
            Self::Recovery => "recovery",
            Self::Passkey => "passkey",
            Self::Federated => "fed",
            Self::Email => "email",
        }
    }

    /// The method named by an `amr` value.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == raw)
    }

    fn bit(self) -> u8 {
        match self {
            Self::Password => 1,
            Self::Otp => 2,
            Self::Recovery => 4,
            Self::Passkey => 8,
            Self::Federated => 16,
            Self::Email => 32,
        }
    }
}

/// An authenticator assurance level (NIST SP 800-63B): one factor, or two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aal {
    /// One factor (a password).
    Aal1,
    /// Two factors (a password and a code), or a passkey (a device and its unlock).
    Aal2,
}

impl Aal {
    /// The `aal` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
        }
    }
}

/// How a session was authenticated: its set of methods (`amr`), from which its level
/// (`aal`) follows. A copyable bit set: checking it costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Assurance(u8);

impl Assurance {
    /// A password alone: every session before second factors existed, and every login of a
    /// user without one.
    pub const PASSWORD: Self = Self(1);

    /// The set of `methods`.
    pub fn of(methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        Self(methods.into_iter().fold(0, |bits, m| bits | m.bit()))
    }

    /// This set and `method`.
    #[must_use]
    pub fn and(self, method: AuthMethod) -> Self {
        Self(self.0 | method.bit())
    }

    /// Whether `method` is in the set.
    pub fn has(self, method: AuthMethod) -> bool {
        self.0 & method.bit() != 0
    }

    /// The methods, in `amr` order.
    pub fn methods(self) -> impl Iterator<Item = AuthMethod> {
        AuthMethod::ALL.into_iter().filter(move |m| self.has(*m))
    }

    /// `aal2` with a second factor or a passkey, else `aal1`.
    pub fn aal(self) -> Aal {
        if self.has(AuthMethod::Otp)
            || self.has(AuthMethod::Recovery)
            || self.has(AuthMethod::Passkey)
        {
            Aal::Aal2
        } else {
            Aal::Aal1
        }
    }

    /// As stored: the `amr` values separated by spaces (`pwd otp`).
    pub fn to_stored(self) -> String {
        self.methods()
            .map(AuthMethod::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A stored set; unknown values are ignored, and an empty set is a password alone (rows
    /// written before the column existed).
    pub fn from_stored(raw: &str) -> Self {
        let set = Self::of(raw.split([' ', ',']).filter_map(AuthMethod::parse));
        if set.0 == 0 { Self::PASSWORD } else { set }
    }
}

impl Default for Assurance {
    fn default() -> Self {
        Self::PASSWORD
    }
}

impl fmt::Debug for Assurance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.methods().map(AuthMethod::as_str))
            .finish()
    }
}

/// A TOTP shared secret (RFC 6238), raw bytes. Never printed; stored only sealed.
pub struct TotpSecret(secrecy::SecretSlice<u8>);

/// Bytes of a new secret: 160 bits, RFC 4226's recommendation for HMAC-SHA-1.
pub const TOTP_SECRET_BYTES: usize = 20;

impl TotpSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; TOTP_SECRET_BYTES];
        rand::rng().fill(bytes.as_mut_slice());
        Self::from_bytes(bytes)
    }

    /// A secret from its bytes (as opened from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    /// The bytes, for the one-time-password adapter and for sealing.
    pub fn expose(&self) -> &[u8] {
        use secrecy::ExposeSecret;
        self.0.expose_secret()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// A secret as stored: sealed by the [`crate::ports::Sealer`], opaque to everyone else.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(String);

impl SealedSecret {
    /// Wraps a sealed value (from the sealer, or as stored).
    pub fn new(sealed: String) -> Self {
        Self(sealed)
    }

    /// The sealed value, to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(…)")
    }
}

/// What an authenticator app needs to add a new factor: shown once, at enrolment.
pub struct TotpProvisioning {
    /// The secret in base32, for typing it in.
    pub secret: String,
    /// The `otpauth://totp/…` URI (issuer, account, secret, SHA1, 6 digits, 30 s).
    pub uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

impl fmt::Debug for TotpProvisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpProvisioning(***)")
    }
}

/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code: 16 of a 32-letter alphabet, 80 bits.
const RECOVERY_CODE_CHARS: usize = 16;
/// Crockford's base32 alphabet, lower case: no `i`, `l`, `o` or `u` to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// One recovery code: 80 random bits, written `xxxx-xxxx-xxxx-xxxx`. Shown once; only its
/// SHA-256 is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A new code from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let chars: String = (0..RECOVERY_CODE_CHARS)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        Self(chars)
    }

    /// A fresh set of [`RECOVERY_CODES`] codes.
    pub fn generate_set() -> Vec<Self> {
        (0..RECOVERY_CODES).map(|_| Self::generate()).collect()
    }

    /// A code a user typed: case, spaces and dashes do not matter, and the letters
    /// Crockford's base32 reads as digits (`i`, `l` → 1, `o` → 0) are read so. `None`
    /// unless it then has the shape of one we issue.
    pub fn parse(raw: &str) -> Option<Self> {
        let normalized: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .map(|c| match c.to_ascii_lowercase() {
                'i' | 'l' => '1',
                'o' => '0',
                other => other,
            })
            .collect();
        (normalized.len() == RECOVERY_CODE_CHARS
            && normalized.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(Self(normalized))
    }

    /// The code as shown to the user: four groups of four.
    pub fn display(&self) -> String {
        let bytes = self.0.as_bytes();
        bytes
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// What the store keeps and looks it up by.
    pub fn fingerprint(&self) -> TokenFingerprint {
        TokenFingerprint::of(&self.0)
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// How long the `mfa_token` of a login that awaits its second factor works.
pub const MFA_TOKEN_TTL: Duration = Duration::minutes(5);
/// How many codes one `mfa_token` may try.
pub const MFA_TOKEN_TRIES: u32 = 5;

/// The second factors a login can be completed with, as `methods` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code from the authenticator app.
    Totp,
    /// One of the recovery codes.
    RecoveryCode,
}

impl SecondFactor {
    /// As listed in `methods`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assurance_names_its_methods_and_level() {
        let pwd = Assurance::PASSWORD;
        assert_eq!(pwd.aal(), Aal::Aal1);
        assert_eq!(pwd.to_stored(), "pwd");
        let otp = pwd.and(AuthMethod::Otp);
        assert_eq!(otp.aal(), Aal::Aal2);
        assert_eq!(otp.to_stored(), "pwd otp");
        assert_eq!(Assurance::from_stored("pwd otp"), otp);
        assert_eq!(Assurance::from_stored(""), Assurance::PASSWORD);
        assert_eq!(Assurance::of([AuthMethod::Passkey]).aal(), Aal::Aal2);
        assert_eq!(
            Assurance::of([AuthMethod::Password, AuthMethod::Recovery]).to_stored(),
            "pwd recovery"
        );
        assert_eq!(format!("{otp:?}"), r#"["pwd", "otp"]"#);
    }

    #[test]
    fn recovery_codes_hold_80_bits_and_read_forgivingly() {
        let codes = RecoveryCode::generate_set();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let first = &codes[0];
        // 16 characters of a 32-letter alphabet: 16 × 5 = 80 bits.
        assert_eq!(first.0.len(), 16);
        let shown = first.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(RecoveryCode::parse(&shown).as_ref(), Some(first));
        assert_eq!(
            RecoveryCode::parse(&shown.to_uppercase()).as_ref(),
            Some(first)
        );
        assert_eq!(
            RecoveryCode::parse("0123-4567-89ab-cdeO").map(|c| c.0),
            Some("0123456789abcde0".to_owned())
        );
        assert_eq!(RecoveryCode::parse("short"), None);
        assert_eq!(RecoveryCode::parse("uuuu-uuuu-uuuu-uuuu"), None);
        assert!(!format!("{first:?}").contains(&first.0));
        let distinct: std::collections::HashSet<_> = codes.iter().map(|c| c.0.clone()).collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
    }

    #[test]
    fn secrets_are_160_bits_and_never_printed() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.expose().len(), 20);
        assert_eq!(format!("{secret:?}"), "TotpSecret(***)");
    }
}
