//! SPEC row `GET /api/v1/auth/me` → 200 user; 401 `Not authenticated` / `Invalid
//! credentials`, both with `WWW-Authenticate: Bearer`.

use actix_web::HttpResponse;

use super::{UserBody, user_response};
use crate::error::ErrorBody;
use crate::extract::AuthenticatedSession;

/// `GET /api/v1/auth/me` → 200 user; 401 `Not authenticated` / `Invalid credentials`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = UserBody),
        (status = 401, description = "Not authenticated or invalid credentials (`WWW-Authenticate: Bearer`)", body = ErrorBody)
    )
)]
pub async fn me(AuthenticatedSession(caller): AuthenticatedSession) -> HttpResponse {
    user_response(&caller.user)
}
