//! The two variants every error of a port or a use case ends with, declared once.

/// Declares an error enum: its own variants, then the two that every port's and every
/// use case's error ends with, and that the API maps alike:
/// - `Unavailable`: a store (or the mail relay) cannot be reached; worth a retry (503).
/// - `Unexpected`: anything else, a bug or a misconfiguration (500).
///
/// The doc comments written before `unavailable:` document `Unavailable`, whose message is
/// given there. A use case's error (`unavailable: "…";` alone) passes `Unexpected` through
/// transparently; a port's error adds `failed: "…";`, its own message, with the cause as
/// the source.
macro_rules! failure_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($variants:tt)* }
        $(#[$unavailable_doc:meta])*
        unavailable: $unavailable:tt;
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        pub enum $name {
            $($variants)*
            $(#[$unavailable_doc])*
            #[error($unavailable)]
            Unavailable(#[source] anyhow::Error),
            /// Anything else.
            #[error(transparent)]
            Unexpected(anyhow::Error),
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($variants:tt)* }
        $(#[$unavailable_doc:meta])*
        unavailable: $unavailable:tt;
        failed: $failed:tt;
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        pub enum $name {
            $($variants)*
            $(#[$unavailable_doc])*
            #[error($unavailable)]
            Unavailable(#[source] anyhow::Error),
            /// Anything else.
            #[error($failed)]
            Unexpected(#[source] anyhow::Error),
        }
    };
}
