//! The caller's own account, `/api/v1/auth/me` (SPEC row `GET`): reading it, changing
//! the display name, deleting it.

use actix_web::{HttpResponse, web};
use flowrex_domain::{Accounts, PasswordAttempt, ProfileChange};

use super::{CURRENT_PASSWORD, UserBody, current_password, full_name, user_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Client, Parsed};
use crate::routes::handlers;
use crate::validation::body::{BodyField, request_body};

handlers![me, update, delete];

const FULL_NAME: BodyField = BodyField::optional(
    "full_name",
    "The new display name; `null` clears it. No other field may be sent.",
)
.length(None, Some(255));

request_body!(
    /// The body of `PATCH /me`.
    ProfileRequest,
    "The fields to change; any other field is refused (422).",
    [FULL_NAME],
    // Absent: unchanged; `null`: cleared; any other field is an `extra_forbidden` error
    // naming it.
    |fields| -> ProfileChange {
        let present = fields.has(FULL_NAME.name);
        let name = full_name(fields, FULL_NAME.name);
        fields.forbid_others(&[FULL_NAME.name]);
        name.map(|name| ProfileChange {
            full_name: present.then_some(name),
        })
    }
);
request_body!(
    /// The body of `DELETE /me`.
    DeleteAccountRequest,
    "The password, to confirm.",
    [CURRENT_PASSWORD],
    |fields| -> PasswordAttempt { current_password(fields) }
);

/// Change my profile
///
/// The display name only.
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
    body: Parsed<ProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = body.value()?;
    let user = accounts.update_profile(&caller, change).await?;
    Ok(user_response(&user))
}

/// Delete my account
///
/// The account, its sessions and its tokens are deleted (its access tokens stop working at
/// once); the address can register again; a notice is mailed. Never the last active
/// superuser's, as for the administration routes.
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
    body: Parsed<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let current = body.value()?;
    accounts.delete_account(&caller, &current, &client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Show my account
///
/// `Not authenticated` without a usable `Authorization: Bearer` header; `Invalid
/// credentials` for a bad, expired or refresh-kind token, a revoked or expired session, or
/// a missing or inactive user.
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
