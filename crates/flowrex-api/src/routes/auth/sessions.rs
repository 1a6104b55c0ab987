//! `GET /api/v1/auth/sessions` and `DELETE /api/v1/auth/sessions/{id}`: the caller's
//! active sessions, and revoking one.

use actix_web::{HttpResponse, web};
use flowrex_domain::{Session, SessionId, SignIn};
use serde::Serialize;
use utoipa::ToSchema;

use super::{no_store, timestamp};
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthenticatedSession;
use crate::routes::handlers;

handlers![sessions, revoke_session];

/// One of the caller's sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionBody<'a> {
    /// The session's id (the `sid` claim of its tokens).
    pub id: &'a str,
    /// The session of the access token used.
    pub current: bool,
    /// The login.
    #[schema(format = "date-time")]
    pub created_at: String,
    /// The login or the latest refresh.
    #[schema(format = "date-time")]
    pub last_used_at: String,
    /// When it ends, however often it is refreshed.
    #[schema(format = "date-time")]
    pub expires_at: String,
    /// The login's `User-Agent` (first 255 characters).
    pub user_agent: Option<&'a str>,
    /// The client's address at login.
    pub ip: Option<&'a str>,
    /// How the login was authenticated (RFC 8176 values: `pwd`, `otp`, `recovery`,
    /// `passkey`).
    pub amr: Vec<&'static str>,
    /// `aal1` (a password) or `aal2` (a second factor, or a passkey).
    #[schema(example = "aal1")]
    pub aal: &'static str,
}

impl<'a> SessionBody<'a> {
    /// `session` as listed; `current` when it is `caller`'s own.
    pub fn of(session: &'a Session, caller: &SessionId) -> Self {
        Self {
            id: session.id.as_str(),
            current: &session.id == caller,
            created_at: timestamp(session.created_at),
            last_used_at: timestamp(session.last_used_at),
            expires_at: timestamp(session.expires_at),
            user_agent: session.user_agent.as_deref(),
            ip: session.ip.as_deref(),
            amr: session
                .assurance
                .methods()
                .map(flowrex_domain::AuthMethod::as_str)
                .collect(),
            aal: session.assurance.aal().as_str(),
        }
    }
}

/// List my active sessions
///
/// Most recently used first.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's active sessions", body = Vec<SessionBody>)
    )
)]
pub async fn sessions(
    sign_in: web::Data<SignIn>,
    AuthenticatedSession(caller): AuthenticatedSession,
) -> Result<HttpResponse, ApiError> {
    let sessions = sign_in.list_sessions(&caller).await?;
    let list: Vec<SessionBody<'_>> = sessions
        .iter()
        .map(|session| SessionBody::of(session, &caller.session))
        .collect();
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}

/// End one of my sessions
///
/// Any id that is not one of the caller's live sessions is not found.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "auth",
    params(("id" = String, Path, description = "A session id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "Session not found", body = ErrorBody)
    )
)]
pub async fn revoke_session(
    sign_in: web::Data<SignIn>,
    AuthenticatedSession(caller): AuthenticatedSession,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    sign_in.revoke_session(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
