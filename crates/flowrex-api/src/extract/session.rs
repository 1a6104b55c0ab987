//! The caller of an authenticated route: a bearer access token's live session and its
//! active user (one token check and one indexed query).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use flowrex_domain::{Authenticated, SignIn};
use futures::future::LocalBoxFuture;

use crate::error::ApiError;

/// The token of an `Authorization: Bearer <token>` header, as FastAPI's `HTTPBearer` reads
/// it: a missing header, another scheme or an empty token is "not authenticated".
///
/// # Errors
/// [`ApiError::NotAuthenticated`].
pub fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::NotAuthenticated)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::NotAuthenticated);
    }
    Ok(token)
}

/// A handler argument: the caller, or 401 (`Not authenticated` without a usable header,
/// `Invalid credentials` for a token that is bad, expired or of a dead session) or 503.
pub struct AuthenticatedSession(pub Authenticated);

impl FromRequest for AuthenticatedSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A clone of the request (a reference count) lets the future borrow the token
        // from its header instead of copying it.
        let request = request.clone();
        Box::pin(async move {
            let sign_in = request
                .app_data::<web::Data<SignIn>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no SignIn service")))?;
            let token = bearer_token(&request)?;
            Ok(Self(sign_in.authenticate(token).await?))
        })
    }
}

/// A handler argument: the caller, if it is an active superuser; else 401 as for
/// [`AuthenticatedSession`], or 403 `Superuser required`. The flag is the one this
/// request's session lookup read from the database.
pub struct SuperuserSession(pub Authenticated);

impl FromRequest for SuperuserSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = AuthenticatedSession::from_request(request, payload);
        Box::pin(async move {
            let AuthenticatedSession(caller) = caller.await?;
            if caller.user.is_superuser() && caller.user.is_active() {
                Ok(Self(caller))
            } else {
                Err(ApiError::SuperuserRequired)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_headers_are_read_like_fastapis_http_bearer() {
        let with = |value: &str| {
            let request = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            bearer_token(&request)
                .map(str::to_owned)
                .map_err(|e| e.to_string())
        };
        assert_eq!(with("Bearer abc"), Ok("abc".to_owned()));
        assert_eq!(with("bearer abc"), Ok("abc".to_owned()));
        for garbled in ["Bearer", "Bearer ", "Basic abc", "abc", ""] {
            assert_eq!(
                with(garbled),
                Err("not authenticated".to_owned()),
                "{garbled:?}"
            );
        }
        let none = TestRequest::default().to_http_request();
        assert_matches!(bearer_token(&none), Err(ApiError::NotAuthenticated));
    }
}
