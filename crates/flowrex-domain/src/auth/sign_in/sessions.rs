//! The session after a sign-in: refresh-token rotation with reuse detection,
//! authenticating access tokens against live sessions, logout, the sessions list, and the
//! cleanup of what expired. (RFC 9700 §4.14: refresh token rotation; a replayed refresh
//! token revokes the whole family, here the login's session.)

use chrono::{DateTime, Utc};
use tracing::{Span, instrument};

use super::{LogoutRequest, SignIn};
use crate::auth::Authenticated;
use crate::auth::{AuthenticateError, LogoutError, RefreshError, RevokeSessionError};
use crate::ports::{Changes, Revocation, SessionStoreError};
use crate::{
    AuditAction, AuditEvent, AuditUser, RevokeReason, Session, SessionId, TokenFingerprint,
    TokenKind, TokenPair,
};

impl SignIn {
    /// Exchanges a refresh token for a new pair, rotating the session's refresh token.
    ///
    /// The token presented must be the session's current one. The one it replaced is
    /// refused for [`crate::AuthPolicy::refresh_reuse_grace`] without consequence (two
    /// concurrent refreshes); after that, presenting it — or any older one — revokes the
    /// session, so a stolen refresh token is worth at most one use.
    ///
    /// # Errors
    /// [`RefreshError::InvalidToken`] for a bad, expired or wrong-type token, a revoked or
    /// expired session, a replayed token, or a missing or inactive user.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let now = self.core.now();
        let claims = self
            .core
            .verifier
            .verify(refresh_token, TokenKind::Refresh, now)
            .map_err(|_| RefreshError::InvalidToken)?;
        Span::current().record("user_id", claims.subject.get());
        let session = self
            .core
            .sessions
            .find(&claims.session)
            .await?
            .filter(|session| session.user_id == claims.subject && session.is_active(now))
            .ok_or(RefreshError::InvalidToken)?;
        let presented = TokenFingerprint::of(refresh_token);
        if presented != session.refresh_token_hash {
            self.refused_refresh(&session, &presented, now).await?;
            return Err(RefreshError::InvalidToken);
        }
        let user = self
            .core
            .active_user(claims.subject)
            .await?
            .ok_or(RefreshError::InvalidToken)?;
        let pair = self
            .core
            .issue_pair(&user, &session.id, session.assurance, now)?;
        let next = TokenFingerprint::of(&pair.refresh_token);
        if !self
            .core
            .sessions
            .rotate(&session.id, &presented, &next, now)
            .await?
        {
            // Another refresh of the same token won the race a moment ago.
            return Err(RefreshError::InvalidToken);
        }
        Ok(pair)
    }

    /// A refresh token that is not the session's current one: within the grace period
    /// after a rotation it is a concurrent duplicate; otherwise a replay.
    async fn refused_refresh(
        &self,
        session: &Session,
        presented: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), RefreshError> {
        let just_rotated = session.previous_refresh_token_hash.as_ref() == Some(presented)
            && session
                .rotated_at
                .is_some_and(|at| now - at <= self.core.policy.refresh_reuse_grace);
        if just_rotated {
            tracing::info!("refresh token replayed within the grace period");
            return Ok(());
        }
        tracing::warn!(
            session = %session.id,
            "refresh token reuse detected: revoking the session"
        );
        let event = AuditEvent::new(AuditAction::SessionRevoked)
            .on(AuditUser::User(session.user_id))
            .in_session(&session.id)
            .with("by", "reuse_detection");
        self.core
            .sessions
            .revoke(&session.id, RevokeReason::RefreshReuse, now, Some(event))
            .await?;
        Ok(())
    }

    /// The live session an access token belongs to, and its active user: one token check
    /// and one indexed query.
    ///
    /// # Errors
    /// [`AuthenticateError::InvalidCredentials`] for a bad, expired or wrong-type token, a
    /// revoked or expired session, or a missing or inactive user.
    pub async fn authenticate(
        &self,
        access_token: &str,
    ) -> Result<Authenticated, AuthenticateError> {
        let now = self.core.now();
        let claims = self
            .core
            .verifier
            .verify(access_token, TokenKind::Access, now)
            .map_err(|_| AuthenticateError::InvalidCredentials)?;
        let user = self
            .core
            .sessions
            .find_active_user(&claims.session, claims.subject, now)
            .await?
            .ok_or(AuthenticateError::InvalidCredentials)?;
        Ok(Authenticated {
            user,
            session: claims.session,
            assurance: claims.assurance,
        })
    }

    /// Ends the session of the token(s) given, or every session of their user. A token
    /// counts only while its session is live (and, for a refresh token, while it is the
    /// session's current one), as for `/me` and `/refresh`: a logged-out, revoked or
    /// replaced token ends nothing, least of all every session. Without a usable token
    /// there is nothing to end, and that is not an error.
    ///
    /// # Errors
    /// [`LogoutError::Unavailable`] when the session store cannot be reached.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn logout(&self, request: LogoutRequest<'_>) -> Result<(), LogoutError> {
        let now = self.core.now();
        let tokens = [
            (request.access_token, TokenKind::Access),
            (request.refresh_token, TokenKind::Refresh),
        ];
        for (token, kind) in tokens {
            let Some(token) = token else { continue };
            let Ok(claims) = self.core.verifier.verify(token, kind, now) else {
                continue;
            };
            let live = self
                .core
                .sessions
                .find(&claims.session)
                .await?
                .filter(|session| session.user_id == claims.subject && session.is_active(now))
                .filter(|session| {
                    kind == TokenKind::Access
                        || session.refresh_token_hash == TokenFingerprint::of(token)
                });
            let Some(session) = live else {
                tracing::info!(
                    kind = kind.as_str(),
                    "logout with a dead token: nothing ended"
                );
                continue;
            };
            Span::current().record("user_id", claims.subject.get());
            if request.everywhere {
                // A credential event: logins waiting for a second factor and pending links
                // of the user end with the sessions.
                let changes = Changes {
                    revoke_sessions: Some(Revocation {
                        user: claims.subject,
                        keep: None,
                        reason: RevokeReason::LogoutAll,
                    }),
                    audit: vec![
                        AuditEvent::own(AuditAction::Logout, claims.subject)
                            .in_session(&session.id)
                            .with("scope", "all"),
                    ],
                    ..Changes::default()
                };
                let revoked = self.core.accounts.apply(changes, now).await?.revoked;
                tracing::info!(revoked, "logged out everywhere");
                return Ok(());
            }
            let event = AuditEvent::own(AuditAction::Logout, claims.subject)
                .in_session(&session.id)
                .with("scope", "session");
            self.core
                .sessions
                .revoke(&session.id, RevokeReason::Logout, now, Some(event))
                .await?;
            tracing::info!("logged out");
        }
        Ok(())
    }

    /// The caller's active sessions, most recently used first.
    ///
    /// # Errors
    /// [`AuthenticateError::Unavailable`] when the session store cannot be reached.
    pub async fn list_sessions(
        &self,
        caller: &Authenticated,
    ) -> Result<Vec<Session>, AuthenticateError> {
        Ok(self
            .core
            .sessions
            .list_active(caller.user.id(), self.core.now())
            .await?)
    }

    /// Revokes one of the caller's sessions (any of them, including its own).
    ///
    /// # Errors
    /// [`RevokeSessionError::NotFound`] unless `id` names an active session of the
    /// caller's.
    pub async fn revoke_session(
        &self,
        caller: &Authenticated,
        id: &str,
    ) -> Result<(), RevokeSessionError> {
        let now = self.core.now();
        let id = SessionId::parse(id).ok_or(RevokeSessionError::NotFound)?;
        let owned =
            self.core.sessions.find(&id).await?.is_some_and(|session| {
                session.user_id == caller.user.id() && session.is_active(now)
            });
        if !owned {
            return Err(RevokeSessionError::NotFound);
        }
        let event = AuditEvent::own(AuditAction::SessionRevoked, caller.user.id())
            .in_session(&id)
            .with("by", "user");
        self.core
            .sessions
            .revoke(&id, RevokeReason::Revoked, now, Some(event))
            .await?;
        Ok(())
    }

    /// Deletes the sessions that have expired by now (the service's clock), at most
    /// `batch` rows per statement so that none holds the table for long; how many. A
    /// `batch` of 0 deletes nothing. Expired second-factor challenges, passkey ceremonies
    /// and flows with outside providers go too.
    ///
    /// # Errors
    /// The store's error.
    pub async fn delete_expired_sessions(&self, batch: u64) -> Result<u64, SessionStoreError> {
        if batch == 0 {
            return Ok(0);
        }
        let before = self.core.now();
        let mut total = 0;
        loop {
            let deleted = self.core.sessions.delete_expired(before, batch).await?;
            total += deleted;
            if deleted < batch {
                break;
            }
        }
        match self.core.factors.delete_expired_challenges(before).await {
            Ok(deleted) => tracing::debug!(deleted, "expired sign-in challenges deleted"),
            Err(error) => tracing::warn!(%error, "expired sign-in challenges not deleted"),
        }
        match self.core.passkeys.delete_expired_ceremonies(before).await {
            Ok(deleted) => tracing::debug!(deleted, "expired passkey ceremonies deleted"),
            Err(error) => tracing::warn!(%error, "expired passkey ceremonies not deleted"),
        }
        match self.core.accounts.purge_email_logins(before).await {
            Ok(deleted) => tracing::debug!(deleted, "expired sign-in mails deleted"),
            Err(error) => tracing::warn!(%error, "expired sign-in mails not deleted"),
        }
        match self.core.federation.purge_flows(before).await {
            Ok(deleted) => tracing::debug!(deleted, "expired outside-provider flows deleted"),
            Err(error) => tracing::warn!(%error, "expired outside-provider flows not deleted"),
        }
        Ok(total)
    }
}
