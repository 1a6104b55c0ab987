//! The claims of a token as they are written and as they are read. Reading runs on every
//! authenticated request, so every string claim is matched where it lies ([`Parsed`]),
//! `amr` included; only `sid` is copied.

use flowrex_domain::{Assurance, AuthMethod, TokenKind};
use serde::{Deserialize, Serialize};

/// The claims as they are written: borrowed where the issuer holds the value.
#[derive(Serialize)]
pub(super) struct IssuedClaims<'a> {
    pub(super) sub: String,
    pub(super) exp: i64,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) iss: &'a str,
    pub(super) aud: &'a str,
    pub(super) iat: i64,
    pub(super) jti: String,
    pub(super) sid: &'a str,
    /// How the session was authenticated (RFC 8176 values).
    pub(super) amr: AmrClaim,
    /// The assurance level `amr` amounts to, for clients; verification reads `amr`.
    pub(super) aal: &'static str,
}

/// The claims as they are read, on every authenticated request: what verification uses,
/// and the other required claims checked for being strings without being copied (`iss`
/// and `aud` are compared by jsonwebtoken itself).
#[derive(Deserialize)]
pub(super) struct VerifiedClaims {
    /// The user id, if `sub` is a decimal number.
    pub(super) sub: Parsed<i64>,
    pub(super) exp: i64,
    /// The token kind, if `type` names one.
    #[serde(rename = "type")]
    pub(super) kind: Parsed<TokenKind>,
    #[serde(rename = "iss")]
    _iss: Parsed<()>,
    #[serde(rename = "aud")]
    _aud: Parsed<()>,
    pub(super) iat: i64,
    /// Never written by us; honoured when present (RFC 7519 §4.1.5).
    #[serde(default)]
    pub(super) nbf: Option<i64>,
    #[serde(rename = "jti")]
    _jti: Parsed<()>,
    pub(super) sid: String,
    /// Absent in tokens issued before second factors existed, which count as a password
    /// alone.
    #[serde(default)]
    pub(super) amr: Option<AmrClaim>,
}

/// A string claim read into what it means, without copying it: `None` when it means
/// nothing known (a value of another type is an error).
pub(super) struct Parsed<T>(pub(super) Option<T>);

/// How a string claim is read into `T`.
pub(super) trait FromClaim: Sized {
    /// What `raw` means, if anything.
    fn from_claim(raw: &str) -> Option<Self>;
}

impl FromClaim for () {
    fn from_claim(_: &str) -> Option<Self> {
        Some(())
    }
}

impl FromClaim for i64 {
    fn from_claim(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

impl FromClaim for TokenKind {
    fn from_claim(raw: &str) -> Option<Self> {
        [TokenKind::Access, TokenKind::Refresh]
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }
}

impl FromClaim for AuthMethod {
    fn from_claim(raw: &str) -> Option<Self> {
        AuthMethod::parse(raw)
    }
}

impl<'de, T: FromClaim> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Claim<T>(std::marker::PhantomData<T>);
        impl<T: FromClaim> serde::de::Visitor<'_> for Claim<T> {
            type Value = Parsed<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Parsed<T>, E> {
                Ok(Parsed(T::from_claim(raw)))
            }
        }
        deserializer.deserialize_str(Claim(std::marker::PhantomData))
    }
}

/// `amr` as a list of strings, read without allocating (on every authenticated request).
#[derive(Debug, Clone, Copy)]
pub(super) struct AmrClaim(pub(super) Assurance);

impl Serialize for AmrClaim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.methods().map(AuthMethod::as_str))
    }
}

impl<'de> Deserialize<'de> for AmrClaim {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Methods;
        impl<'de> serde::de::Visitor<'de> for Methods {
            type Value = AmrClaim;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of authentication method names")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AmrClaim, A::Error> {
                let mut set = None::<Assurance>;
                while let Some(Parsed(method)) = seq.next_element::<Parsed<AuthMethod>>()? {
                    // A value we do not know (a later version's) proves nothing here.
                    if let Some(method) = method {
                        set = Some(set.map_or(Assurance::of([method]), |s| s.and(method)));
                    }
                }
                Ok(AmrClaim(set.unwrap_or(Assurance::PASSWORD)))
            }
        }
        deserializer.deserialize_seq(Methods)
    }
}
