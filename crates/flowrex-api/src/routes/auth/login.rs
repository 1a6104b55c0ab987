//! SPEC row `POST /api/v1/auth/login` → 200 tokens; 401 `Invalid email or password`; 422.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{AuthService, ClientInfo, LoginAttempt, LoginError, PasswordAttempt};

use super::{TokensBody, email, tokens_response};
use crate::error::{ApiError, ErrorBody, MfaRequiredBody};
use crate::extract::{Body, Client};
use crate::routes::body_schema::{BodyField, request_body};
use crate::routes::cookie;
use crate::validation::{Echo, Fields, Rejection, json_object};

const EMAIL: BodyField = BodyField::required("email", "The address registered.").email();
const PASSWORD: BodyField = BodyField::required("password", "The password.");

request_body!(
    /// The body of `POST /login`.
    LoginRequest,
    "Credentials.",
    [EMAIL, PASSWORD]
);

/// `POST /login`'s body: `email`, `password`, for `client`.
///
/// # Errors
/// The [`Rejection`] to answer with 422.
pub fn parse(
    content_type: Option<&[u8]>,
    body: &[u8],
    client: ClientInfo,
) -> Result<LoginAttempt, Rejection> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw_email = fields.required_string(EMAIL.name, Echo::Yes);
    let email = email(&mut fields, EMAIL.name, raw_email);
    let password = fields.required_string(PASSWORD.name, Echo::No);
    fields.finish(email.zip(password).map(|(email, password)| LoginAttempt {
        email,
        password: PasswordAttempt::new(password),
        client,
    }))
}

/// `POST /api/v1/auth/login` → 200 tokens; 401 `Invalid email or password`; 429; 422.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 403, description = "mfa_required: the right password of an account with a second factor; no tokens", body = MfaRequiredBody)
    )
)]
pub async fn login(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    Client(client): Client,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let attempt = parse(body.content_type(), body.bytes(), client)?;
    let result = auth.login(attempt).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(LoginError::InvalidCredentials) => "invalid_credentials",
        Err(LoginError::Throttled { .. }) => "throttled",
        Err(LoginError::EmailNotVerified) => "email_not_verified",
        Err(LoginError::MfaRequired(_)) => "mfa_required",
        Err(LoginError::Unavailable(_) | LoginError::Unexpected(_)) => "error",
    };
    metrics::counter!("flowrex_logins_total", "outcome" => outcome).increment(1);
    if outcome == "throttled" {
        metrics::counter!("flowrex_rate_limited_total", "limiter" => "login").increment(1);
    }
    let pair = result?;
    Ok(tokens_response(
        pair,
        cookie::wants_cookie(&request),
        auth.policy().refresh_ttl,
    ))
}
