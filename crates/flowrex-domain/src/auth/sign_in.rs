//! [`SignIn`]: someone signing in — with a password (`sign_in/password.rs`), its second
//! factor (`sign_in/second_factor.rs`) or a passkey (`sign_in/passkey.rs`) — and the
//! session afterwards: refresh rotation, authentication, logout, the sessions list
//! (`sign_in/sessions.rs`).

use std::sync::Arc;

use super::core::{Core, TotpCheck};
use super::federation::Federation;
use crate::ports::RelyingParty;
use crate::{ClientInfo, EmailAddress, OneTimeToken, PasswordAttempt, SecondFactor, TokenPair};

mod email;
mod federated;
mod passkey;
mod password;
mod second_factor;
mod sessions;

/// Signing in and sessions.
pub struct SignIn {
    core: Arc<Core>,
    totp: TotpCheck,
    relying_party: Arc<dyn RelyingParty>,
    federation: Federation,
}

pub use self::email::{EMAIL_PROVIDER, EmailLinkLanding, EmailLoginError};
pub use self::federated::{Landed, Landing, ProviderCallback};

impl SignIn {
    pub(super) fn new(
        core: Arc<Core>,
        totp: TotpCheck,
        relying_party: Arc<dyn RelyingParty>,
        federation: Federation,
    ) -> Self {
        Self {
            core,
            totp,
            relying_party,
            federation,
        }
    }
}

/// A login attempt: what was typed, and who typed it.
#[derive(Debug)]
pub struct LoginAttempt {
    /// The address typed.
    pub email: EmailAddress,
    /// The password typed.
    pub password: PasswordAttempt,
    /// The client: its key for throttling, its address and `User-Agent` for the session.
    pub client: ClientInfo,
}

/// A right password: signed in, or half-way when the account has a second factor.
#[derive(Debug)]
pub enum LoginOutcome {
    /// A session, and its first pair.
    SignedIn(TokenPair),
    /// No session yet: the login goes on at [`SignIn::verify_second_factor`] with this
    /// challenge.
    SecondFactorRequired(SecondFactorChallenge),
}

impl LoginOutcome {
    /// The pair of a login that signed in; `None` when a second factor is required.
    pub fn into_pair(self) -> Option<TokenPair> {
        match self {
            Self::SignedIn(pair) => Some(pair),
            Self::SecondFactorRequired(_) => None,
        }
    }
}

/// A login that awaits its second factor.
#[derive(Debug)]
pub struct SecondFactorChallenge {
    /// The challenge's token (`mfa_token`), valid for [`crate::mfa::MFA_TOKEN_TTL`].
    pub token: OneTimeToken,
    /// The factors it can be completed with.
    pub methods: &'static [SecondFactor],
}

/// The proof a login is completed with (never printed).
pub enum SecondFactorProof {
    /// A code from the authenticator app.
    Code(String),
    /// A recovery code.
    RecoveryCode(String),
}

impl std::fmt::Debug for SecondFactorProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Code(_) => "Code(***)",
            Self::RecoveryCode(_) => "RecoveryCode(***)",
        })
    }
}

/// What `POST /logout` was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogoutRequest<'a> {
    /// A bearer access token.
    pub access_token: Option<&'a str>,
    /// A refresh token (from the body or a cookie).
    pub refresh_token: Option<&'a str>,
    /// `{"scope": "all"}`: every session of the user.
    pub everywhere: bool,
}
