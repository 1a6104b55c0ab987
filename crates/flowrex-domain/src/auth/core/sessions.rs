//! Opening a session: the one way every sign-in ends, under the stamp it was proven under.

use chrono::{DateTime, Utc};

use super::Core;
use crate::auth::LoginError;
use crate::ports::IssueError;
use crate::{
    Assurance, AuditAction, AuditEvent, ClientInfo, SecurityStamp, Session, SessionId,
    TokenFingerprint, TokenKind, TokenPair, TokenRequest, User,
};

/// The longest `User-Agent` kept with a session, in characters.
const MAX_USER_AGENT_CHARS: usize = 255;

impl Core {
    /// Opens a session for `user`, authenticated by `assurance`'s methods, and issues its
    /// first pair — if the user's stamp is still `proven`, the one the sign-in was proven
    /// under (the password checked, the challenge opened, the passkey verified): a
    /// credential event that committed in between (a password reset, every session ended)
    /// refuses the login with [`LoginError::InvalidCredentials`], which each way in answers
    /// as its own refusal.
    pub(in crate::auth) async fn start_session(
        &self,
        user: &User,
        proven: SecurityStamp,
        client: ClientInfo,
        assurance: Assurance,
    ) -> Result<TokenPair, LoginError> {
        let now = self.now();
        let id = SessionId::generate();
        let pair = self.issue_pair(user, &id, assurance, now)?;
        let amr: Vec<&str> = assurance.methods().map(crate::AuthMethod::as_str).collect();
        let event = AuditEvent::own(AuditAction::LoginSucceeded, user.id())
            .in_session(&id)
            .with("amr", amr);
        let created = self
            .sessions
            .create(
                Session {
                    id,
                    user_id: user.id(),
                    refresh_token_hash: TokenFingerprint::of(&pair.refresh_token),
                    previous_refresh_token_hash: None,
                    rotated_at: None,
                    created_at: now,
                    last_used_at: now,
                    expires_at: now + self.policy.refresh_ttl,
                    revoked_at: None,
                    revoked_reason: None,
                    user_agent: client
                        .user_agent
                        .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
                    ip: client.ip.map(|ip| ip.to_string()),
                    assurance,
                },
                proven,
                Some(event),
            )
            .await?;
        if !created {
            tracing::info!("login refused: the credentials changed while it was checked");
            return Err(LoginError::InvalidCredentials);
        }
        Ok(pair)
    }

    /// A new access and refresh token for `session` of `user`.
    pub(in crate::auth) fn issue_pair(
        &self,
        user: &User,
        session: &SessionId,
        assurance: Assurance,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, IssueError> {
        let request = |kind, ttl| TokenRequest {
            subject: user.id(),
            kind,
            session: session.clone(),
            issued_at: now,
            expires_at: now + ttl,
            assurance,
        };
        Ok(TokenPair {
            access_token: self
                .issuer
                .issue(&request(TokenKind::Access, self.policy.access_ttl))?,
            refresh_token: self
                .issuer
                .issue(&request(TokenKind::Refresh, self.policy.refresh_ttl))?,
            expires_in: self.policy.access_ttl.num_seconds(),
        })
    }
}
