//! `POST /api/v1/auth/email/change` → 202 (a link to the new address, a notice to the
//! old); `POST /api/v1/auth/email/confirm` → 200 user with the new address.

use actix_web::{HttpResponse, web};
use flowrex_domain::{AuthService, EmailAddress, PasswordAttempt};

use super::verify_email::{TokenBody, parse_token};
use super::{MessageBody, UserBody, current_password, email, user_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Body, Client};
use crate::routes::body_schema::{BodyField, request_body};
use crate::validation::{Echo, Fields, Rejection, json_object};

const NEW_EMAIL: BodyField =
    BodyField::required("new_email", "The address to move the account to.").email();
const CURRENT_PASSWORD: BodyField =
    BodyField::required("current_password", "The password in use now.");

request_body!(
    /// The body of `POST /email/change`.
    EmailChangeRequest,
    "The new address, and the password to confirm.",
    [NEW_EMAIL, CURRENT_PASSWORD]
);

/// `POST /email/change`'s body: `new_email`, `current_password`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_change(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<(EmailAddress, PasswordAttempt), Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw = fields.required_string(NEW_EMAIL.name, Echo::Yes);
    let new_email = email(&mut fields, NEW_EMAIL.name, raw);
    let current = current_password(&mut fields, CURRENT_PASSWORD.name);
    fields.finish(new_email.zip(current))
}

/// `POST /api/v1/auth/email/change` → 202 `{"message": ...}`. The address changes only
/// when the link mailed to the new one is followed.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email/change",
    operation_id = "request_email_change",
    tag = "account",
    request_body = EmailChangeRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Link mailed to the new address", body = MessageBody),
        (status = 400, description = "Email already registered, or current password is incorrect", body = ErrorBody),
        (status = 503, description = "Mail delivery is not configured", body = ErrorBody)
    )
)]
pub async fn change(
    auth: web::Data<AuthService>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (new_email, current) = parse_change(body.content_type(), body.bytes())?;
    auth.request_email_change(&caller, new_email, &current, &client)
        .await?;
    Ok(HttpResponse::Accepted().json(MessageBody {
        message: "A confirmation link has been sent to the new address",
    }))
}

/// `POST /api/v1/auth/email/confirm` → 200 user with the new address, verified; 400
/// `Invalid or expired token`, or `Email already registered` if another account took the
/// address meanwhile.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email/confirm",
    operation_id = "confirm_email_change",
    tag = "account",
    request_body = TokenBody,
    responses(
        (status = 200, description = "Address changed", body = UserBody),
        (status = 400, description = "Invalid or expired token, or email already registered", body = ErrorBody)
    )
)]
pub async fn confirm(auth: web::Data<AuthService>, body: Body) -> Result<HttpResponse, ApiError> {
    let token = parse_token(body.content_type(), body.bytes())?;
    let user = auth.confirm_email_change(&token).await?;
    Ok(user_response(&user))
}
