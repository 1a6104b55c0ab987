//! The claims of a token as they are written and read: `amr` read as a list of strings
//! without allocating (it is decoded on every authenticated request), `aal` beside it.

use flowrex_domain::{Assurance, AuthMethod};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claims {
    pub(super) sub: String,
    pub(super) exp: i64,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) iss: String,
    pub(super) aud: String,
    pub(super) iat: i64,
    /// Never written by us; honoured when present (RFC 7519 §4.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) nbf: Option<i64>,
    pub(super) jti: String,
    pub(super) sid: String,
    /// How the session was authenticated (RFC 8176 values); absent in tokens issued
    /// before second factors existed, which count as a password alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) amr: Option<AmrClaim>,
    /// The assurance level `amr` amounts to, for clients; verification reads `amr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) aal: Option<AalClaim>,
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
                while let Some(Method(method)) = seq.next_element()? {
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

/// One `amr` value, matched without copying it.
struct Method(Option<AuthMethod>);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Method;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an authentication method name")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Method, E> {
                Ok(Method(AuthMethod::parse(raw)))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) enum AalClaim {
    #[serde(rename = "aal1")]
    Aal1,
    #[serde(rename = "aal2")]
    Aal2,
}
