//! SPEC row `POST /api/v1/auth/refresh` → 200 tokens (the refresh token rotates); 401
//! `Invalid token`; 422.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::SignIn;

use super::{TokensBody, one_secret_field, tokens_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Body;
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::cookie;
use crate::validation::Rejection;

const REFRESH_TOKEN: BodyField = BodyField::required(
    "refresh_token",
    "The session's current refresh token (optional with the cookie transport).",
);

request_body!(
    /// The body of `POST /refresh`.
    RefreshRequest,
    "A refresh token.",
    [REFRESH_TOKEN]
);

/// `POST /refresh`'s body: `refresh_token`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse(content_type: Option<&[u8]>, body: &[u8]) -> Result<String, Rejection> {
    one_secret_field(content_type, body, &REFRESH_TOKEN)
}

/// `POST /api/v1/auth/refresh` → 200 tokens; 401 `Invalid token`; 422.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the refresh token is rotated", body = TokensBody),
        (status = 401, description = "Invalid token", body = ErrorBody),
        (status = 403, description = "Cookie transport without `X-CSRF-Token`", body = ErrorBody)
    )
)]
pub async fn refresh(
    sign_in: web::Data<SignIn>,
    request: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (token, from_cookie) = match parse(body.content_type(), body.bytes()) {
        Ok(token) => (token, false),
        // No token in the body: the browser transport's cookie, with the CSRF header.
        Err(invalid_body) => match cookie::refresh_token_with_csrf(&request)? {
            Some(token) => (token, true),
            None => return Err(invalid_body.into()),
        },
    };
    let pair = sign_in.refresh(&token).await?;
    Ok(tokens_response(
        pair,
        from_cookie || cookie::wants_cookie(&request),
        sign_in.policy().refresh_ttl,
    ))
}
