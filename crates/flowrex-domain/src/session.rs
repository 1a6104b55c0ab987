//! Server-side sessions: one per login, so that refresh tokens rotate, replays are detected
//! and logouts take effect at once, on every instance.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{Assurance, UserId};

/// A session's id: the `sid` claim of its tokens, and the id clients use to revoke it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A new random id (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// An id read from a token or a URL; `None` unless it has the shape of one we issue.
    pub fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw)
            .ok()
            .map(|id| Self(id.hyphenated().to_string()))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a refresh token, hex: what sessions store instead of the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenFingerprint(String);

impl TokenFingerprint {
    /// The fingerprint of `token`.
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// Wraps a stored fingerprint.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenFingerprint(…)")
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// `POST /logout` for this session.
    Logout,
    /// `POST /logout` with `{"scope": "all"}`.
    LogoutAll,
    /// `DELETE /sessions/{id}`.
    Revoked,
    /// An already-rotated refresh token was presented again: the family is compromised.
    RefreshReuse,
    /// The user was deactivated.
    Deactivated,
    /// The password was reset by mail: every session ends.
    PasswordReset,
    /// The password was changed: every session but the caller's ends.
    PasswordChanged,
    /// An administrator revoked the user's sessions, or deactivated or deleted the user.
    Admin,
    /// The second factor was turned off: every session but the caller's ends.
    MfaDisabled,
}

impl RevokeReason {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::Revoked => "revoked",
            Self::RefreshReuse => "refresh_token_reuse",
            Self::Deactivated => "user_deactivated",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::Admin => "admin",
            Self::MfaDisabled => "mfa_disabled",
        }
    }
}

/// A stored session: one login, whose refresh token rotates within it (the token family of
/// RFC 9700 §4.14 is the session itself).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of the `sessions` table, documented in the migration
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub refresh_token_hash: TokenFingerprint,
    pub previous_refresh_token_hash: Option<TokenFingerprint>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub assurance: Assurance,
}

impl Session {
    /// Neither revoked nor expired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_sha256_hex() {
        assert_eq!(
            TokenFingerprint::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn session_ids_are_uuids() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(id.as_str()), Some(id));
        assert_eq!(SessionId::parse("1; DROP TABLE sessions"), None);
        assert_eq!(
            SessionId::parse("6F9619FF-8B86-D011-B42D-00C04FC964FF").map(|s| s.0),
            Some("6f9619ff-8b86-d011-b42d-00c04fc964ff".to_owned())
        );
    }
}
