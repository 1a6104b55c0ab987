//! Logging in with a password (SPEC row `POST /api/v1/auth/login`), and the answer that
//! asks for a second factor.

use actix_web::{HttpResponse, web};
use flowrex_domain::{
    EmailAddress, LoginAttempt, LoginError, LoginOutcome, PasswordAttempt, SecondFactorChallenge,
    SignIn,
};

use serde::Serialize;
use utoipa::ToSchema;

use super::{TokensBody, email, no_store};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Client, Parsed};
use crate::routes::auth::TokenTransport;
use crate::routes::handlers;
use crate::validation::Echo;
use crate::validation::body::{BodyField, request_body};

handlers![login];

const EMAIL: BodyField = BodyField::required("email", "The address registered.").email();
const PASSWORD: BodyField = BodyField::required("password", "The password.");

request_body!(
    /// The body of `POST /login`.
    LoginRequest,
    "Credentials.",
    [EMAIL, PASSWORD],
    |fields| -> (EmailAddress, PasswordAttempt) {
        let email = email(fields, &EMAIL);
        let password = fields.required_string(PASSWORD.name, Echo::No);
        email.zip(password.map(PasswordAttempt::new))
    }
);

/// Log in
///
/// An unknown address, a wrong password and an inactive user get the same answer. Failed
/// logins are throttled per account and per client address. With the right password of an account that has a second factor, the answer holds no
/// tokens but an `mfa_token` to complete the login with (`POST /api/v1/auth/mfa/verify`).
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
    transport: TokenTransport,
    Client(client): Client,
    body: Parsed<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let (email, password) = body.value()?;
    // Kept for the breach check, which runs after the answer (never holding a login).
    let breach_check = sign_in.checks_breaches().then(|| {
        (
            email.clone(),
            PasswordAttempt::new(password.expose().to_owned()),
        )
    });
    let result = sign_in
        .login(LoginAttempt {
            email,
            password,
            client,
        })
        .await;
    if let (Ok(_), Some((email, password))) = (&result, breach_check) {
        let sign_in = sign_in.clone();
        tokio::spawn(async move { sign_in.note_breached_password(&email, &password).await });
    }
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
        LoginOutcome::SignedIn(pair) => Ok(transport.answer(pair)),
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
pub(crate) fn second_factor_required(challenge: &SecondFactorChallenge) -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header(no_store())
        .json(MfaRequiredBody {
            detail: "mfa_required",
            mfa_token: challenge.token.expose(),
            methods: challenge.methods.iter().map(|m| m.as_str()).collect(),
        })
}
