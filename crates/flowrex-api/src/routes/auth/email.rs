//! The address: verifying it and changing it.
//! `POST /api/v1/auth/verify-email/request` → 202, the same body whatever the address;
//! `POST /api/v1/auth/verify-email/confirm` → 200 user with `is_verified: true`;
//! `POST /api/v1/auth/email/change` → 202 (a link to the new address, a notice to the
//! old); `POST /api/v1/auth/email/confirm` → 200 user with the new address.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{Accounts, EmailAddress, PasswordAttempt, SignIn, VerificationRequest};

use super::{
    CURRENT_PASSWORD, LINK_TOKEN, MessageBody, UserBody, current_password, email, one_secret_field,
    user_response,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Body, Client, bearer_token};
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::uniform::Uniform;
use crate::validation::{Echo, Fields, Rejection, json_object};

const EMAIL: BodyField =
    BodyField::required("email", "The address to verify (without a bearer token).").email();

request_body!(
    /// The body of `POST /verify-email/request` without a bearer token.
    VerificationRequestBody,
    "The address to send a new link to; leave out the body when signed in.",
    [EMAIL]
);

request_body!(
    /// The body of the confirmations of mailed links.
    TokenBody,
    "A one-time token from a mailed link.",
    [LINK_TOKEN]
);

/// The answer to every verification request.
pub const REQUESTED: &str =
    "If the address belongs to an account awaiting verification, a new link has been sent";

/// `POST /verify-email/request`'s body: `{"email"}`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_request(content_type: Option<&[u8]>, body: &[u8]) -> Result<EmailAddress, Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw = fields.required_string(EMAIL.name, Echo::Yes);
    let email = email(&mut fields, EMAIL.name, raw);
    fields.finish(email)
}

/// A body holding one `token` (never echoed).
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse_token(content_type: Option<&[u8]>, body: &[u8]) -> Result<String, Rejection> {
    one_secret_field(content_type, body, &LINK_TOKEN)
}

/// `POST /api/v1/auth/verify-email/request` → 202. With a bearer token, for the caller
/// (the body is ignored); without one, for `{"email"}`. The answer is the same whether the
/// address has an account, is verified, inactive or was sent a link moments ago (then no
/// mail goes out), and takes as long.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email/request",
    operation_id = "request_verification",
    tag = "account",
    request_body(content = Option<VerificationRequestBody>, description = "Without a bearer token"),
    security((), ("bearer" = [])),
    responses(
        (status = 202, description = "Accepted (whatever the address)", body = MessageBody),
        (status = 401, description = "A bearer token that is not valid", body = ErrorBody),
        (status = 503, description = "Mail delivery is not configured", body = ErrorBody)
    )
)]
pub async fn request_verification(
    sign_in: web::Data<SignIn>,
    accounts: web::Data<Accounts>,
    request: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let uniform = Uniform::start();
    let outcome = match bearer_token(&request) {
        Ok(token) => {
            let caller = sign_in.authenticate(token).await?;
            accounts
                .request_verification(VerificationRequest::Caller(&caller.user))
                .await
        }
        Err(_) => {
            let email = parse_request(body.content_type(), body.bytes())?;
            accounts
                .request_verification(VerificationRequest::Email(email))
                .await
        }
    };
    uniform.finish().await;
    outcome?;
    Ok(HttpResponse::Accepted().json(MessageBody { message: REQUESTED }))
}

/// `POST /api/v1/auth/verify-email/confirm` → 200 user, verified; 400 `Invalid or expired
/// token`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email/confirm",
    operation_id = "confirm_verification",
    tag = "account",
    request_body = TokenBody,
    responses(
        (status = 200, description = "Verified", body = UserBody),
        (status = 400, description = "Invalid or expired token", body = ErrorBody)
    )
)]
pub async fn confirm_verification(
    accounts: web::Data<Accounts>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let token = parse_token(body.content_type(), body.bytes())?;
    let user = accounts.confirm_verification(&token).await?;
    Ok(user_response(&user))
}

const NEW_EMAIL: BodyField =
    BodyField::required("new_email", "The address to move the account to.").email();

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
    let current = current_password(&mut fields);
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
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
    Client(client): Client,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let (new_email, current) = parse_change(body.content_type(), body.bytes())?;
    accounts
        .request_email_change(&caller, new_email, &current, &client)
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
pub async fn confirm_change(
    accounts: web::Data<Accounts>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let token = parse_token(body.content_type(), body.bytes())?;
    let user = accounts.confirm_email_change(&token).await?;
    Ok(user_response(&user))
}
