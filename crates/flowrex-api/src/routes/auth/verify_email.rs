//! `POST /api/v1/auth/verify-email/request` → 202, the same body whatever the address;
//! `POST /api/v1/auth/verify-email/confirm` → 200 user with `is_verified: true`.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{AuthService, EmailAddress, VerificationRequest};

use super::{MessageBody, UserBody, email, user_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, bearer_token};
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::uniform::Uniform;
use crate::validation::{Echo, Fields, Rejection, json_object};

const EMAIL: BodyField =
    BodyField::required("email", "The address to verify (without a bearer token).").email();
const TOKEN: BodyField = BodyField::required("token", "The `token` of the mailed link.");

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
    [TOKEN]
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
    let mut fields = Fields::new(json_object(content_type, body)?);
    let token = fields.required_string(TOKEN.name, Echo::No);
    fields.finish(token)
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
pub async fn request(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let uniform = Uniform::start();
    let outcome = match bearer_token(&request) {
        Ok(token) => {
            let caller = auth.authenticate(token).await?;
            auth.request_verification(VerificationRequest::Caller(&caller.user))
                .await
        }
        Err(_) => {
            let email = parse_request(body.content_type(), body.bytes())?;
            auth.request_verification(VerificationRequest::Email(email))
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
pub async fn confirm(auth: web::Data<AuthService>, body: Body) -> Result<HttpResponse, ApiError> {
    let token = parse_token(body.content_type(), body.bytes())?;
    let user = auth.confirm_verification(&token).await?;
    Ok(user_response(&user))
}
