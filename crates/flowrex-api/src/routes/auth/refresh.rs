//! Rotating the refresh token (SPEC row `POST /api/v1/auth/refresh`), from the body or
//! the cookie.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::SignIn;

use super::TokensBody;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Parsed;
use crate::routes::auth::TokenTransport;
use crate::routes::cookie;
use crate::routes::handlers;
use crate::validation::Echo;
use crate::validation::body::{BodyField, request_body};

handlers![refresh];

const REFRESH_TOKEN: BodyField = BodyField::required(
    "refresh_token",
    "The session's current refresh token (optional with the cookie transport).",
);

request_body!(
    /// The body of `POST /refresh`.
    RefreshRequest,
    "A refresh token.",
    [REFRESH_TOKEN],
    |fields| -> String { fields.required_string(REFRESH_TOKEN.name, Echo::No) }
);

/// Rotate the refresh token
///
/// The refresh token comes from the body or, with the cookie transport, from the cookie
/// (with `X-CSRF-Token`). The answer is a new pair; the old refresh token stops working.
/// A refresh token that is bad, expired, of the access kind, of a revoked or expired
/// session, of a missing or inactive user, or already replaced is refused (a replaced
/// one, after `REFRESH_REUSE_GRACE_SECONDS`, also ends its session).
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
    transport: TokenTransport,
    body: Parsed<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, from_cookie) = match body.value() {
        Ok(token) => (token, false),
        // No token in the body: the browser transport's cookie, with the CSRF header.
        Err(invalid_body) => match cookie::refresh_token_with_csrf(&request)? {
            Some(token) => (token, true),
            None => return Err(invalid_body),
        },
    };
    let pair = sign_in.refresh(&token).await?;
    Ok(transport.or_cookie(from_cookie).answer(pair))
}
