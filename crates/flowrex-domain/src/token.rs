//! Tokens as the domain sees them: a kind, a subject, an expiry.

use chrono::{DateTime, Utc};

use crate::{Assurance, SessionId, UserId};

/// Which of the two tokens a string is meant to be. One is never accepted for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived, sent as `Authorization: Bearer`.
    Access,
    /// Long-lived, exchanged for a new pair.
    Refresh,
}

impl TokenKind {
    /// The value of the `type` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The user it was issued to.
    pub subject: UserId,
    /// Its kind.
    pub kind: TokenKind,
    /// The session (login) it belongs to.
    pub session: SessionId,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// How its session was authenticated (`amr`, `aal`); a password alone for tokens
    /// issued before the claims existed.
    pub assurance: Assurance,
}

/// What to put in a new token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The user.
    pub subject: UserId,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The session it belongs to.
    pub session: SessionId,
    /// Now.
    pub issued_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// How its session was authenticated: the `amr` and `aal` claims.
    pub assurance: Assurance,
}

/// What login and refresh hand back.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The access token's lifetime in seconds.
    pub expires_in: i64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"***")
            .field("refresh_token", &"***")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}
