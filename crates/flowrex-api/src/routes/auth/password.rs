//! `POST /api/v1/auth/password/forgot` → 202, the same body whatever the address;
//! `POST /api/v1/auth/password/reset` → 200 (every session ends);
//! `POST /api/v1/auth/password/change` → 200 (every other session ends).

use actix_web::{HttpResponse, web};
use flowrex_domain::{Accounts, EmailAddress, NewPassword, PasswordAttempt};

use super::{CURRENT_PASSWORD, LINK_TOKEN, MessageBody, current_password, email, new_password};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Body, Client};
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::uniform::Uniform;
use crate::validation::{Echo, Fields, Rejection, json_object};

const EMAIL: BodyField = BodyField::required("email", "The address of the account.").email();
const NEW_PASSWORD: BodyField = BodyField::required(
    "new_password",
    "By the registration rules: at least 8 characters with an uppercase letter, a lowercase letter and a digit; at most 72 UTF-8 bytes.",
)
.length(Some(8), None);

request_body!(
    /// The body of `POST /password/forgot`.
    ForgotPasswordRequest,
    "The address to send a reset link to.",
    [EMAIL]
);
request_body!(
    /// The body of `POST /password/reset`.
    ResetPasswordRequest,
    "The mailed token and the new password.",
    [LINK_TOKEN, NEW_PASSWORD]
);
request_body!(
    /// The body of `POST /password/change`.
    ChangePasswordRequest,
    "The current and the new password.",
    [CURRENT_PASSWORD, NEW_PASSWORD]
);

/// The answer to every reset request.
pub const FORGOT: &str = "If the address belongs to an account, a reset link has been sent";

/// `POST /password/forgot`'s body.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_forgot(content_type: Option<&[u8]>, body: &[u8]) -> Result<EmailAddress, Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw = fields.required_string(EMAIL.name, Echo::Yes);
    let email = email(&mut fields, EMAIL.name, raw);
    fields.finish(email)
}

/// `POST /password/reset`'s body: `token`, `new_password`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_reset(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<(String, NewPassword), Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let token = fields.required_string(LINK_TOKEN.name, Echo::No);
    let password = new_password(&mut fields, NEW_PASSWORD.name);
    fields.finish(token.zip(password))
}

/// `POST /password/change`'s body: `current_password`, `new_password`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_change(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<(PasswordAttempt, NewPassword), Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let current = current_password(&mut fields);
    let password = new_password(&mut fields, NEW_PASSWORD.name);
    fields.finish(current.zip(password))
}

/// `POST /api/v1/auth/password/forgot` → 202. A reset link goes to an active account's
/// address; unknown, inactive and just-mailed addresses get the same answer, as fast, and
/// no mail.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password/forgot",
    operation_id = "forgot_password",
    tag = "account",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted (whatever the address)", body = MessageBody),
        (status = 503, description = "Mail delivery is not configured", body = ErrorBody)
    )
)]
pub async fn forgot(accounts: web::Data<Accounts>, body: Body) -> Result<HttpResponse, ApiError> {
    let email = parse_forgot(body.content_type(), body.bytes())?;
    let uniform = Uniform::start();
    let outcome = accounts.forgot_password(&email).await;
    uniform.finish().await;
    outcome?;
    Ok(HttpResponse::Accepted().json(MessageBody { message: FORGOT }))
}

/// `POST /api/v1/auth/password/reset` → 200 `{"message": "Password has been reset"}`.
/// Every session of the user ends (its tokens answer 401), the address counts as
/// verified, and a notice is mailed.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password/reset",
    operation_id = "reset_password",
    tag = "account",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password reset", body = MessageBody),
        (status = 400, description = "Invalid or expired token", body = ErrorBody)
    )
)]
pub async fn reset(accounts: web::Data<Accounts>, body: Body) -> Result<HttpResponse, ApiError> {
    let (token, password) = parse_reset(body.content_type(), body.bytes())?;
    accounts.reset_password(&token, password).await?;
    Ok(HttpResponse::Ok().json(MessageBody {
        message: "Password has been reset",
    }))
}

/// `POST /api/v1/auth/password/change` → 200 `{"message": "Password changed"}`. The
/// caller's session goes on; every other session ends; a notice is mailed. A wrong current
/// password counts as a failed login.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password/change",
    operation_id = "change_password",
    tag = "account",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Password changed", body = MessageBody),
        (status = 400, description = "Current password is incorrect", body = ErrorBody)
    )
)]
pub async fn change(
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (current, password) = parse_change(body.content_type(), body.bytes())?;
    accounts
        .change_password(&caller, &current, password, &client)
        .await?;
    Ok(HttpResponse::Ok().json(MessageBody {
        message: "Password changed",
    }))
}
