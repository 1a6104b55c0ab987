//! SPEC row `POST /api/v1/auth/login` → 200 tokens; 401 `Invalid email or password`; 422.

use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::{
    ClientInfo, LoginAttempt, LoginError, LoginOutcome, PasswordAttempt, SecondFactorChallenge,
    SignIn,
};

use serde::Serialize;
use utoipa::ToSchema;

use super::{TokensBody, email, no_store, tokens_response};
use crate::error::{ApiError, ErrorBody};
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
    sign_in: web::Data<SignIn>,
    request: HttpRequest,
    Client(client): Client,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let attempt = parse(body.content_type(), body.bytes(), client)?;
    let result = sign_in.login(attempt).await;
    let outcome = match &result {
        Ok(LoginOutcome::SignedIn(_)) => "success",
        Ok(LoginOutcome::SecondFactorRequired(_)) => "mfa_required",
        Err(LoginError::InvalidCredentials) => "invalid_credentials",
        Err(LoginError::Throttled { .. }) => "throttled",
        Err(LoginError::EmailNotVerified) => "email_not_verified",
        Err(LoginError::Unavailable(_) | LoginError::Unexpected(_)) => "error",
    };
    metrics::counter!("flowrex_logins_total", "outcome" => outcome).increment(1);
    if outcome == "throttled" {
        metrics::counter!("flowrex_rate_limited_total", "limiter" => "login").increment(1);
    }
    match result? {
        LoginOutcome::SignedIn(pair) => Ok(tokens_response(
            pair,
            cookie::wants_cookie(&request),
            sign_in.policy().refresh_ttl,
        )),
        LoginOutcome::SecondFactorRequired(challenge) => Ok(second_factor_required(&challenge)),
    }
}

/// The answer to the right password of an account with a second factor: no tokens.
#[derive(Serialize, ToSchema)]
pub struct MfaRequiredBody<'a> {
    /// Always `mfa_required`.
    #[schema(example = "mfa_required")]
    pub detail: &'static str,
    /// Sent back to `POST /api/v1/auth/mfa/verify` with a code; valid for 5 minutes and 5
    /// tries.
    pub mfa_token: &'a str,
    /// What the login can be completed with: `totp`, `recovery_code`.
    pub methods: Vec<&'static str>,
}

/// 403 `{"detail": "mfa_required", "mfa_token", "methods"}`, not for caches (like every
/// token answer).
fn second_factor_required(challenge: &SecondFactorChallenge) -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header(no_store())
        .json(MfaRequiredBody {
            detail: "mfa_required",
            mfa_token: challenge.token.expose(),
            methods: challenge.methods.iter().map(|m| m.as_str()).collect(),
        })
}
