//! The one error type of the HTTP layer and the response of each variant; the mapping from
//! the domain's errors is `error/from_domain.rs`. Every body is the SPEC's
//! `{"detail": …}`; causes of 5xx answers are logged, never sent.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::validation::Rejection;

mod from_domain;

/// Every error body but a 422's: `{"detail": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    #[schema(value_type = String, example = "Invalid credentials")]
    pub detail: Cow<'static, str>,
}

impl ErrorBody {
    /// A body with this `detail`.
    pub fn new(detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

/// Everything a request can fail with. Its `Debug` (which request logs print) names the
/// variant only: no client input, which may hold a password, and no internal cause.
#[derive(thiserror::Error)]
pub enum ApiError {
    /// 422: the body does not fit the schema (FastAPI's list of errors).
    #[error("request validation failed")]
    Validation(Rejection),
    /// 400 `Email already registered`.
    #[error("email already registered")]
    EmailTaken,
    /// 400 `Invalid or expired token`: a one-time token (mailed link) that is unknown,
    /// used, replaced, expired or of another purpose.
    #[error("invalid or expired one-time token")]
    InvalidOneTimeToken,
    /// 400 `Current password is incorrect`.
    #[error("current password is incorrect")]
    WrongPassword,
    /// 401 `Invalid email or password`.
    #[error("invalid email or password")]
    InvalidLogin,
    /// 401 `Invalid token` (refresh).
    #[error("invalid token")]
    InvalidToken,
    /// 401 `Invalid credentials` with `WWW-Authenticate: Bearer`.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401 `Not authenticated` with `WWW-Authenticate: Bearer`: no usable bearer header.
    #[error("not authenticated")]
    NotAuthenticated,
    /// 403 `CSRF token missing`.
    #[error("CSRF token missing")]
    CsrfTokenMissing,
    /// 403 `Superuser required`: an administration route for a user who is not one.
    #[error("superuser required")]
    SuperuserRequired,
    /// 404 `User not found`.
    #[error("user not found")]
    UserNotFound,
    /// 409 `The last active superuser cannot be removed`.
    #[error("last superuser")]
    LastSuperuser,
    /// 403 `Email not verified` (`REQUIRE_VERIFIED_EMAIL`, after a correct password).
    #[error("email not verified")]
    EmailNotVerified,
    /// 403 `aal2_required`: the account has a second factor and the session was not
    /// signed in with one.
    #[error("aal2 required")]
    Aal2Required,
    /// 400 `Invalid code` (managing a factor).
    #[error("invalid code")]
    InvalidCode,
    /// 401 `Invalid code` (completing a login).
    #[error("invalid code")]
    InvalidLoginCode,
    /// 401 `Invalid or expired mfa_token`: log in again.
    #[error("invalid mfa token")]
    InvalidMfaToken,
    /// 400 `No TOTP enrolment is pending`.
    #[error("nothing pending")]
    NothingPending,
    /// 400 `TOTP is not enabled`.
    #[error("no factor")]
    NoFactor,
    /// 400 `Invalid or expired ceremony`.
    #[error("invalid ceremony")]
    InvalidCeremony,
    /// 400 `Passkey registration failed`.
    #[error("passkey registration rejected")]
    PasskeyRegistrationRejected,
    /// 409 `Passkey already registered`.
    #[error("passkey already registered")]
    PasskeyTaken,
    /// 401 `Passkey not accepted`.
    #[error("passkey not accepted")]
    PasskeyRejected,
    /// 404 `Passkey not found`.
    #[error("passkey not found")]
    PasskeyNotFound,
    /// 404 `Not Found`.
    #[error("not found")]
    NotFound,
    /// 404 `Session not found`.
    #[error("session not found")]
    SessionNotFound,
    /// 405 `Method Not Allowed` with `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// 408 `Request Timeout`: the body did not arrive in time; the connection is closed.
    #[error("request body timed out")]
    RequestTimeout,
    /// 429 `Rate limit exceeded: N per 1 minute` with `Retry-After` in whole seconds.
    #[error("rate limited")]
    RateLimited {
        /// How long until the client may try again.
        retry_after: std::time::Duration,
        /// The limit, for the message.
        per_minute: u32,
    },
    /// 429 `Too many failed login attempts, try again later` with `Retry-After`.
    #[error("login throttled")]
    LoginThrottled {
        /// How long until the client may try again.
        retry_after: std::time::Duration,
    },
    /// 503 `Mail delivery is not configured`: the step must mail a link and `SMTP_URL` is
    /// not set (outside development).
    #[error("mail delivery is not configured")]
    MailDisabled,
    /// 503 `Service unavailable` with `Retry-After`: the database cannot be reached.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 500 `Internal Server Error`.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Validation(rejection) => {
                return write!(f, "Validation({} errors)", rejection.detail.len());
            }
            Self::EmailTaken => "EmailTaken",
            Self::InvalidOneTimeToken => "InvalidOneTimeToken",
            Self::WrongPassword => "WrongPassword",
            Self::InvalidLogin => "InvalidLogin",
            Self::InvalidToken => "InvalidToken",
            Self::InvalidCredentials => "InvalidCredentials",
            Self::NotAuthenticated => "NotAuthenticated",
            Self::CsrfTokenMissing => "CsrfTokenMissing",
            Self::EmailNotVerified => "EmailNotVerified",
            Self::Aal2Required => "Aal2Required",
            Self::InvalidCode => "InvalidCode",
            Self::InvalidLoginCode => "InvalidLoginCode",
            Self::InvalidMfaToken => "InvalidMfaToken",
            Self::NothingPending => "NothingPending",
            Self::NoFactor => "NoFactor",
            Self::InvalidCeremony => "InvalidCeremony",
            Self::PasskeyRegistrationRejected => "PasskeyRegistrationRejected",
            Self::PasskeyTaken => "PasskeyTaken",
            Self::PasskeyRejected => "PasskeyRejected",
            Self::PasskeyNotFound => "PasskeyNotFound",
            Self::SuperuserRequired => "SuperuserRequired",
            Self::UserNotFound => "UserNotFound",
            Self::LastSuperuser => "LastSuperuser",
            Self::NotFound => "NotFound",
            Self::SessionNotFound => "SessionNotFound",
            Self::MethodNotAllowed(_) => "MethodNotAllowed",
            Self::RequestTimeout => "RequestTimeout",
            Self::RateLimited { .. } => "RateLimited",
            Self::LoginThrottled { .. } => "LoginThrottled",
            Self::MailDisabled => "MailDisabled",
            Self::Unavailable(_) => "Unavailable",
            Self::Internal(_) => "Internal",
        };
        f.write_str(name)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EmailTaken
            | Self::InvalidOneTimeToken
            | Self::WrongPassword
            | Self::InvalidCode
            | Self::NothingPending
            | Self::NoFactor
            | Self::InvalidCeremony
            | Self::PasskeyRegistrationRejected => StatusCode::BAD_REQUEST,
            Self::InvalidLogin
            | Self::InvalidToken
            | Self::InvalidCredentials
            | Self::NotAuthenticated
            | Self::InvalidLoginCode
            | Self::InvalidMfaToken
            | Self::PasskeyRejected => StatusCode::UNAUTHORIZED,
            Self::CsrfTokenMissing
            | Self::EmailNotVerified
            | Self::SuperuserRequired
            | Self::Aal2Required => StatusCode::FORBIDDEN,
            Self::UserNotFound => StatusCode::NOT_FOUND,
            Self::LastSuperuser | Self::PasskeyTaken => StatusCode::CONFLICT,
            Self::NotFound | Self::SessionNotFound | Self::PasskeyNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } | Self::LoginThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MailDisabled | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let detail = match self {
            Self::Validation(rejection) => {
                return HttpResponse::UnprocessableEntity().json(rejection);
            }
            Self::EmailTaken => "Email already registered",
            Self::InvalidOneTimeToken => "Invalid or expired token",
            Self::WrongPassword => "Current password is incorrect",
            Self::InvalidLogin => "Invalid email or password",
            Self::InvalidToken => "Invalid token",
            Self::InvalidCredentials => "Invalid credentials",
            Self::NotAuthenticated => "Not authenticated",
            Self::CsrfTokenMissing => "CSRF token missing",
            Self::EmailNotVerified => "Email not verified",
            Self::Aal2Required => "aal2_required",
            Self::InvalidCode | Self::InvalidLoginCode => "Invalid code",
            Self::InvalidMfaToken => "Invalid or expired mfa_token",
            Self::NothingPending => "No TOTP enrolment is pending",
            Self::NoFactor => "TOTP is not enabled",
            Self::InvalidCeremony => "Invalid or expired ceremony",
            Self::PasskeyRegistrationRejected => "Passkey registration failed",
            Self::PasskeyTaken => "Passkey already registered",
            Self::PasskeyRejected => "Passkey not accepted",
            Self::PasskeyNotFound => "Passkey not found",
            Self::SuperuserRequired => "Superuser required",
            Self::UserNotFound => "User not found",
            Self::LastSuperuser => "The last active superuser cannot be removed",
            Self::NotFound => "Not Found",
            Self::SessionNotFound => "Session not found",
            Self::MethodNotAllowed(_) => "Method Not Allowed",
            Self::MailDisabled => "Mail delivery is not configured",
            Self::RequestTimeout => {
                // The rest of the body may still come: the connection cannot be reused.
                return HttpResponse::RequestTimeout()
                    .force_close()
                    .json(ErrorBody::new("Request Timeout"));
            }
            Self::RateLimited {
                retry_after,
                per_minute,
            } => {
                let detail = format!("Rate limit exceeded: {per_minute} per 1 minute");
                return too_many_requests(*retry_after, detail);
            }
            Self::LoginThrottled { retry_after } => {
                return too_many_requests(
                    *retry_after,
                    "Too many failed login attempts, try again later",
                );
            }
            Self::Unavailable(cause) => {
                tracing::error!(error = ?cause, "dependency unavailable");
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECONDS))
                    .json(ErrorBody::new("Service unavailable"));
            }
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "Internal Server Error"
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::InvalidCredentials | Self::NotAuthenticated => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            _ => {}
        }
        response.json(ErrorBody::new(detail))
    }
}

/// The `Retry-After` of a 503: a database restart or failover takes a few seconds.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;

/// 429 with `Retry-After` rounded up, and never 0 (a client told "retry after 0" retries
/// at once).
fn too_many_requests(
    retry_after: std::time::Duration,
    detail: impl Into<Cow<'static, str>>,
) -> HttpResponse {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.max(1)))
        .json(ErrorBody::new(detail))
}
