//! The caller's own account, `/api/v1/auth/me`: SPEC row `GET` → 200 user; 401 `Not
//! authenticated` / `Invalid credentials`, both with `WWW-Authenticate: Bearer`. `PATCH`
//! → 200 user (the display name only); `DELETE` → 204 (the account, its sessions and
//! tokens are gone).

use actix_web::{HttpResponse, web};
use flowrex_domain::{Accounts, PasswordAttempt, ProfileChange};

use super::{CURRENT_PASSWORD, UserBody, current_password, full_name, user_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Body, Client};
use crate::routes::body_schema::{BodyField, request_body};
use crate::validation::{Fields, Rejection, json_object};

const FULL_NAME: BodyField = BodyField::optional(
    "full_name",
    "The new display name; `null` clears it. No other field may be sent.",
)
.length(None, Some(255));

request_body!(
    /// The body of `PATCH /me`.
    ProfileRequest,
    "The fields to change; any other field is refused (422).",
    [FULL_NAME]
);
request_body!(
    /// The body of `DELETE /me`.
    DeleteAccountRequest,
    "The password, to confirm.",
    [CURRENT_PASSWORD]
);

/// `PATCH /me`'s body: `full_name` only (absent: unchanged; `null`: cleared); every other
/// field is an `extra_forbidden` error naming it.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_profile(content_type: Option<&[u8]>, body: &[u8]) -> Result<ProfileChange, Rejection> {
    let object = json_object(content_type, body)?;
    let present = object.contains_key(FULL_NAME.name);
    let mut fields = Fields::new(object);
    let name = full_name(&mut fields, FULL_NAME.name);
    fields.forbid_others(&[FULL_NAME.name]);
    fields.finish(name.map(|name| ProfileChange {
        full_name: present.then_some(name),
    }))
}

/// `DELETE /me`'s body: `current_password`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_delete(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<PasswordAttempt, Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let current = current_password(&mut fields);
    fields.finish(current)
}

/// `PATCH /api/v1/auth/me` → 200 user.
#[utoipa::path(
    patch,
    path = "/api/v1/auth/me",
    operation_id = "update_me",
    tag = "account",
    request_body = ProfileRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated user", body = UserBody)
    )
)]
pub async fn update(
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let change = parse_profile(body.content_type(), body.bytes())?;
    let user = accounts.update_profile(&caller, change).await?;
    Ok(user_response(&user))
}

/// `DELETE /api/v1/auth/me` → 204. The account, its sessions and its tokens are deleted
/// (its access tokens answer 401 at once); the address can register again; a notice is
/// mailed. Never the last active superuser's (409), as for the administration routes.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/me",
    operation_id = "delete_me",
    tag = "account",
    request_body = DeleteAccountRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Current password is incorrect", body = ErrorBody),
        (status = 409, description = "The last active superuser cannot be removed", body = ErrorBody)
    )
)]
pub async fn delete(
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let current = parse_delete(body.content_type(), body.bytes())?;
    accounts.delete_account(&caller, &current, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}

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
