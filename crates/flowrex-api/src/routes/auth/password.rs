//! Passwords: a forgotten one (a reset link, then its token) and changing it.

use actix_web::{HttpResponse, web};
use flowrex_domain::{Accounts, EmailAddress, NewPassword, PasswordAttempt};

use super::{
    CURRENT_PASSWORD, LINK_TOKEN, MessageBody, current_password, email, new_password, secret,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Client, Parsed};
use crate::routes::handlers;
use crate::routes::uniform::Uniform;
use crate::validation::body::{BodyField, request_body};

handlers![forgot, reset, change];

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
    [EMAIL],
    |fields| -> EmailAddress { email(fields, &EMAIL) }
);
request_body!(
    /// The body of `POST /password/reset`.
    ResetPasswordRequest,
    "The mailed token and the new password.",
    [LINK_TOKEN, NEW_PASSWORD],
    |fields| -> (String, NewPassword) {
        let token = secret(fields, &LINK_TOKEN);
        token.zip(new_password(fields, NEW_PASSWORD.name))
    }
);
request_body!(
    /// The body of `POST /password/change`.
    ChangePasswordRequest,
    "The current and the new password.",
    [CURRENT_PASSWORD, NEW_PASSWORD],
    |fields| -> (PasswordAttempt, NewPassword) {
        let current = current_password(fields);
        current.zip(new_password(fields, NEW_PASSWORD.name))
    }
);

/// The answer to every reset request.
pub const FORGOT: &str = "If the address belongs to an account, a reset link has been sent";

/// Send a password-reset link
///
/// A reset link goes to an active account's address; unknown, inactive and just-mailed
/// addresses get the same answer, as fast, and no mail.
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
pub async fn forgot(
    accounts: web::Data<Accounts>,
    body: Parsed<ForgotPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = body.value()?;
    let uniform = Uniform::start();
    let outcome = accounts.forgot_password(&email).await;
    uniform.finish().await;
    outcome?;
    Ok(HttpResponse::Accepted().json(MessageBody { message: FORGOT }))
}

/// Set a new password with a mailed link's token
///
/// Every session of the user ends, the address counts as verified, and a notice is mailed.
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
pub async fn reset(
    accounts: web::Data<Accounts>,
    body: Parsed<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, password) = body.value()?;
    accounts.reset_password(&token, password).await?;
    Ok(HttpResponse::Ok().json(MessageBody {
        message: "Password has been reset",
    }))
}

/// Change my password
///
/// The caller's session goes on; every other session ends; a notice is mailed. A wrong
/// current password counts as a failed login.
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
    body: Parsed<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let (current, password) = body.value()?;
    accounts
        .change_password(&caller, &current, password, &client)
        .await?;
    Ok(HttpResponse::Ok().json(MessageBody {
        message: "Password changed",
    }))
}
