//! Sign-in by email (`EMAIL_LOGIN_ENABLED`): asking for the mail — a link and a six-digit
//! code for one sign-in — with one answer whatever the address, and signing in with the
//! code. The link's page is `routes/pages/email_login.rs`.

use actix_web::{HttpResponse, web};
use flowrex_domain::{EmailAddress, EmailLoginError, LoginOutcome, SignIn};

use super::login::{MfaRequiredBody, second_factor_required};
use super::{MessageBody, TokensBody, email};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Client, Parsed};
use crate::routes::auth::TokenTransport;
use crate::routes::handlers;
use crate::routes::uniform::Uniform;
use crate::validation::Echo;
use crate::validation::body::{BodyField, request_body};

handlers![request, verify, confirm];

const EMAIL: BodyField = BodyField::required("email", "The address to sign in with.").email();
const RETURN_TO: BodyField = BodyField::optional(
    "return_to",
    "Where the link's page sends the browser with a one-time `code` (exactly one of `OAUTH_RETURN_URLS`); default: the first of them.",
);
const CODE: BodyField = BodyField::required("code", "The six-digit code of the mail.");
const TOKEN: BodyField = BodyField::required("token", "The `token` of the mail's link.");

request_body!(
    /// The body of `POST /email-login`.
    EmailLoginRequest,
    "The address to mail a sign-in link and code to.",
    [EMAIL, RETURN_TO],
    |fields| -> (EmailAddress, Option<String>) {
        let email = email(fields, &EMAIL);
        let return_to = fields.optional_string(RETURN_TO.name);
        email.zip(return_to)
    }
);
request_body!(
    /// The body of `POST /email-login/verify`.
    EmailCodeRequest,
    "The address and the mailed code.",
    [EMAIL, CODE],
    |fields| -> (EmailAddress, String) {
        let email = email(fields, &EMAIL);
        let code = fields.required_string(CODE.name, Echo::No);
        email.zip(code)
    }
);

request_body!(
    /// The body of `POST /email-login/confirm`.
    EmailLinkRequest,
    "The token of the mail's link.",
    [TOKEN],
    |fields| -> String { fields.required_string(TOKEN.name, Echo::No) }
);

/// The answer to every sign-in mail request.
pub const REQUESTED: &str = "If the address can sign in, a sign-in link and code have been sent";

/// Ask for a sign-in link and code by email
///
/// Mails a link and a six-digit code, both for the same single sign-in, valid
/// `EMAIL_LOGIN_TOKEN_EXPIRE_MINUTES` (10). Unknown, inactive and just-mailed addresses get
/// the same answer, as fast, and no mail (with `EMAIL_LOGIN_CREATES_ACCOUNTS`, an unknown
/// address gets one too, which creates its account). A newer request replaces the older.
/// 404 while `EMAIL_LOGIN_ENABLED` is off.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email-login",
    operation_id = "email_login",
    tag = "auth",
    request_body = EmailLoginRequest,
    responses(
        (status = 202, description = "Accepted (whatever the address)", body = MessageBody),
        (status = 400, description = "return_to is not allowed", body = ErrorBody),
        (status = 404, description = "Sign-in by email is off", body = ErrorBody),
        (status = 503, description = "Mail delivery is not configured", body = ErrorBody)
    )
)]
pub async fn request(
    sign_in: web::Data<SignIn>,
    body: Parsed<EmailLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let (email, return_to) = body.value()?;
    let uniform = Uniform::start();
    let outcome = sign_in
        .request_email_login(&email, return_to.as_deref())
        .await;
    if !matches!(outcome, Err(EmailLoginError::Disabled)) {
        uniform.finish().await;
    }
    outcome?;
    Ok(HttpResponse::Accepted().json(MessageBody { message: REQUESTED }))
}

/// Sign in with the code of a sign-in mail
///
/// The SPEC's token body (and the cookie transport when asked, as login), or `403
/// mfa_required` exactly as a password login answers for an account with a second factor.
/// The code and the mail's link sign in once between them; a wrong, used, replaced or
/// expired code is `401 Invalid code`, at most 5 tries per code, each counted by the login
/// throttle like a wrong password. The session's `amr` is `email`. A successful sign-in
/// verifies the address.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email-login/verify",
    operation_id = "email_login_verify",
    tag = "auth",
    request_body = EmailCodeRequest,
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 401, description = "Invalid code", body = ErrorBody),
        (status = 403, description = "mfa_required: the account has a second factor; no tokens", body = MfaRequiredBody),
        (status = 404, description = "Sign-in by email is off", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody)
    )
)]
pub async fn verify(
    sign_in: web::Data<SignIn>,
    transport: TokenTransport,
    Client(client): Client,
    body: Parsed<EmailCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (email, code) = body.value()?;
    // Every answer at the same floor: a wrong code against a mail that exists costs writes
    // that no mail does not, and must not tell the one from the other.
    let uniform = Uniform::start();
    let result = sign_in.verify_email_code(&email, &code, client).await;
    uniform.finish().await;
    signed_in(result, transport)
}

/// The answer of a sign-in by code or by link token, counted by its outcome: the SPEC's
/// tokens, or `403 mfa_required`.
fn signed_in(
    result: Result<LoginOutcome, EmailLoginError>,
    transport: TokenTransport,
) -> Result<HttpResponse, ApiError> {
    let outcome = match &result {
        Ok(LoginOutcome::SignedIn(_)) => "success",
        Ok(LoginOutcome::SecondFactorRequired(_)) => "mfa_required",
        Err(EmailLoginError::InvalidCode) => "invalid_code",
        Err(EmailLoginError::InvalidLink) => "invalid_link",
        Err(EmailLoginError::Throttled { .. }) => "throttled",
        Err(_) => "error",
    };
    metrics::counter!("flowrex_email_logins_total", "outcome" => outcome).increment(1);
    match result? {
        LoginOutcome::SignedIn(pair) => Ok(transport.answer(pair)),
        LoginOutcome::SecondFactorRequired(challenge) => Ok(second_factor_required(&challenge)),
    }
}

/// Sign in with the token of a sign-in mail's link
///
/// For a front end that takes the link over (`EMAIL_LOGIN_URL`): its page shows a button
/// and calls this with the link's `token` when it is pressed (never on load, for the mail
/// scanners' sake). The SPEC's token body, or `403 mfa_required`; the link and the code of
/// the mail sign in once between them. A used, replaced or expired token: 400 `Invalid or
/// expired token`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email-login/confirm",
    operation_id = "email_login_confirm",
    tag = "auth",
    request_body = EmailLinkRequest,
    responses(
        (status = 200, description = "A token pair", body = TokensBody),
        (status = 400, description = "Invalid or expired token", body = ErrorBody),
        (status = 403, description = "mfa_required: the account has a second factor; no tokens", body = MfaRequiredBody),
        (status = 404, description = "Sign-in by email is off", body = ErrorBody)
    )
)]
pub async fn confirm(
    sign_in: web::Data<SignIn>,
    transport: TokenTransport,
    Client(client): Client,
    body: Parsed<EmailLinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.value()?;
    signed_in(sign_in.confirm_email_link(&token, client).await, transport)
}
