//! How a settings section is declared: one line per setting — its name (the variable's, in
//! lower case), type, default and doc — from which come the struct that the flat
//! configuration deserializes into, its defaults, and its line of `flowrex config check`.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serializer};

/// Declares a section struct whose fields are settings, each `name: Type = default`.
///
/// The struct deserializes from the whole flat configuration (unknown keys are other
/// sections'), every missing key taking its default, and serializes into the redacted
/// listing of `config check` (secret fields say `serialize_with = "section::redacted"`).
macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident : $ty:ty = $default:expr
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, serde::Deserialize, serde::Serialize)]
        #[serde(default)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )+
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($field: $default,)+
                }
            }
        }

        impl $name {
            /// The section's keys (its variables' names in lower case).
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),+];
        }
    };
}
pub(crate) use section;

/// A secret, read as text.
///
/// # Errors
/// The deserializer's, for a value that is not text.
pub fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
    String::deserialize(deserializer).map(SecretString::from)
}

/// How a secret is listed: never its value.
///
/// # Errors
/// The serializer's.
pub fn redacted<S: Serializer>(value: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    let shown = if value.expose_secret().trim().is_empty() {
        "(empty)"
    } else {
        "(set, redacted)"
    };
    serializer.serialize_str(shown)
}

/// How a URL that may hold a password is listed: with the password replaced.
///
/// # Errors
/// The serializer's.
pub fn redacted_url<S: Serializer>(value: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(value.expose_secret()))
}

/// A URL with the password between `:` and `@` replaced.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A comma-separated list, trimmed, without empty entries.
pub fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_replaced() {
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("smtp://user:pass@mail:587?tls=required"),
            "smtp://user:***@mail:587?tls=required"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(list(" a, b ,,c "), ["a", "b", "c"]);
        assert!(list("").is_empty());
    }
}
