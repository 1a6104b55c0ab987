//! The address: verifying it (a link to it, then its token) and changing it (a link to
//! the new address, a notice to the old, then the link's token).

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{Accounts, EmailAddress, PasswordAttempt, SignIn, VerificationRequest};

use super::{
    CURRENT_PASSWORD, LINK_TOKEN, MessageBody, UserBody, current_password, email, secret,
    user_response,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthenticatedSession, Body, Client, Parsed, bearer_token};
use crate::routes::handlers;
use crate::routes::uniform::Uniform;
use crate::validation::body::{BodyField, RequestBody, request_body};

handlers![
    request_verification,
    confirm_verification,
    change,
    confirm_change
];

const EMAIL: BodyField =
    BodyField::required("email", "The address to verify (without a bearer token).").email();

request_body!(
    /// The body of `POST /verify-email/request` without a bearer token.
    VerificationRequestBody,
    "The address to send a new link to; leave out the body when signed in.",
    [EMAIL],
    |fields| -> EmailAddress { email(fields, &EMAIL) }
);

request_body!(
    /// The body of the confirmations of mailed links.
    TokenBody,
    "A one-time token from a mailed link.",
    [LINK_TOKEN],
    |fields| -> String { secret(fields, &LINK_TOKEN) }
);

/// The answer to every verification request.
pub const REQUESTED: &str =
    "If the address belongs to an account awaiting verification, a new link has been sent";

/// Send a verification link
///
/// With a bearer token, for the caller (the body is ignored); without one, for
/// `{"email"}`. The answer is the same whether the address has an account, is verified,
/// inactive or was sent a link moments ago (then no mail goes out), and takes as long.
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
            let email = VerificationRequestBody::parse(body.content_type(), body.bytes())?;
            accounts
                .request_verification(VerificationRequest::Email(email))
                .await
        }
    };
    uniform.finish().await;
    outcome?;
    Ok(HttpResponse::Accepted().json(MessageBody { message: REQUESTED }))
}

/// Verify the address with a mailed link's token
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
    body: Parsed<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let token = body.value()?;
    let user = accounts.confirm_verification(&token).await?;
    Ok(user_response(&user))
}

const NEW_EMAIL: BodyField =
    BodyField::required("new_email", "The address to move the account to.").email();

request_body!(
    /// The body of `POST /email/change`.
    EmailChangeRequest,
    "The new address, and the password to confirm.",
    [NEW_EMAIL, CURRENT_PASSWORD],
    |fields| -> (EmailAddress, PasswordAttempt) {
        let new_email = email(fields, &NEW_EMAIL);
        new_email.zip(current_password(fields))
    }
);

/// Ask to change my address
///
/// A link goes to the new address and a notice to the old; the address changes only when
/// the link is followed.
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
    body: Parsed<EmailChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (new_email, current) = body.value()?;
    accounts
        .request_email_change(&caller, new_email, &current, &client)
        .await?;
    Ok(HttpResponse::Accepted().json(MessageBody {
        message: "A confirmation link has been sent to the new address",
    }))
}

/// Confirm a new address with a mailed link's token
///
/// The account moves to the new address, verified; unless another account took the
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
    body: Parsed<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let token = body.value()?;
    let user = accounts.confirm_email_change(&token).await?;
    Ok(user_response(&user))
}
