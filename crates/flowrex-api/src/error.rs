//! The one error type of the HTTP layer and the response of each variant; the mapping from
//! the domain's errors is `error/from_domain.rs`. Every body is the SPEC's
//! `{"detail": …}`; causes of 5xx answers are logged, never sent.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
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
    /// 404 `Provider not found`: no configured outside provider has this id.
    #[error("provider not found")]
    ProviderNotFound,
    /// 404 `Identity not found`.
    #[error("identity not found")]
    IdentityNotFound,
    /// 404 `Webhook endpoint not found`.
    #[error("webhook endpoint not found")]
    WebhookNotFound,
    /// 409 `Webhook endpoint is disabled`.
    #[error("webhook endpoint is disabled")]
    WebhookDisabled,
    /// 409 `Too many webhook endpoints`.
    #[error("too many webhook endpoints")]
    TooManyWebhooks,
    /// 400 `return_to is not allowed`: not on `OAUTH_RETURN_URLS`.
    #[error("return_to not allowed")]
    ReturnUrlNotAllowed,
    /// 400 `Invalid code_challenge`: not an S256 challenge.
    #[error("invalid code challenge")]
    InvalidCodeChallenge,
    /// 409 `The last way to sign in cannot be removed`.
    #[error("last way to sign in")]
    LastWayIn,
    /// 503 `Provider unavailable` with `Retry-After`: its discovery was not read yet.
    #[error("provider unavailable")]
    ProviderUnavailable,
    /// 404 `Not Found`.
    #[error("not found")]
    NotFound,
    /// 404 `Session not found`.
    #[error("session not found")]
    SessionNotFound,
    /// 405 `Method Not Allowed` with `Allow`, which names the methods the resource answers.
    #[error("method not allowed")]
    MethodNotAllowed(Arc<str>),
    /// 408 `Request Timeout`: the body did not arrive in time; the connection is closed.
    #[error("request body timed out")]
    RequestTimeout,
    /// 429 `Rate limit exceeded: N per 1 minute` with `Retry-After` in whole seconds.
    #[error("rate limited")]
    RateLimited {
        /// How long until the client may try again.
        retry_after: Duration,
        /// The limit, for the message.
        per_minute: u32,
    },
    /// 429 `Too many failed login attempts, try again later` with `Retry-After`.
    #[error("login throttled")]
    LoginThrottled {
        /// How long until the client may try again.
        retry_after: Duration,
    },
    /// 503 `Mail delivery is not configured`: the step must mail a link and `SMTP_URL` is
    /// not set (outside development).
    #[error("mail delivery is not configured")]
    MailDisabled,
    /// 503 `Password check unavailable` with `Retry-After`: the breached-password source
    /// failed and `PASSWORD_BREACH_ON_ERROR` is `refuse`.
    #[error("breached-password check unavailable")]
    BreachCheckUnavailable,
    /// 503 `Service unavailable` with `Retry-After`: the database cannot be reached.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 500 `Internal Server Error`.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// What an error answers: the variant's name (for logs), its status, its `detail` and the
/// header that goes with it.
struct Answer {
    name: &'static str,
    status: StatusCode,
    detail: Cow<'static, str>,
    header: Option<(HeaderName, HeaderValue)>,
    /// The connection cannot be reused.
    close: bool,
}

impl Answer {
    fn new(name: &'static str, status: StatusCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name,
            status,
            detail: detail.into(),
            header: None,
            close: false,
        }
    }

    fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.header = Some((name, value));
        self
    }

    fn bearer(self) -> Self {
        self.header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// With `Retry-After` in whole seconds, rounded up and never 0 (a client told "retry
    /// after 0" retries at once).
    fn retry_after(self, wait: Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.header(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
    }
}

impl ApiError {
    /// The answer of each variant, one arm each.
    fn answer(&self) -> Answer {
        use StatusCode as S;
        match self {
            Self::Validation(_) => Answer::new("Validation", S::UNPROCESSABLE_ENTITY, ""),
            Self::EmailTaken => {
                Answer::new("EmailTaken", S::BAD_REQUEST, "Email already registered")
            }
            Self::InvalidOneTimeToken => Answer::new(
                "InvalidOneTimeToken",
                S::BAD_REQUEST,
                "Invalid or expired token",
            ),
            Self::WrongPassword => Answer::new(
                "WrongPassword",
                S::BAD_REQUEST,
                "Current password is incorrect",
            ),
            Self::InvalidLogin => {
                Answer::new("InvalidLogin", S::UNAUTHORIZED, "Invalid email or password")
            }
            Self::InvalidToken => Answer::new("InvalidToken", S::UNAUTHORIZED, "Invalid token"),
            Self::InvalidCredentials => {
                Answer::new("InvalidCredentials", S::UNAUTHORIZED, "Invalid credentials").bearer()
            }
            Self::NotAuthenticated => {
                Answer::new("NotAuthenticated", S::UNAUTHORIZED, "Not authenticated").bearer()
            }
            Self::CsrfTokenMissing => {
                Answer::new("CsrfTokenMissing", S::FORBIDDEN, "CSRF token missing")
            }
            Self::SuperuserRequired => {
                Answer::new("SuperuserRequired", S::FORBIDDEN, "Superuser required")
            }
            Self::UserNotFound => Answer::new("UserNotFound", S::NOT_FOUND, "User not found"),
            Self::LastSuperuser => Answer::new(
                "LastSuperuser",
                S::CONFLICT,
                "The last active superuser cannot be removed",
            ),
            Self::EmailNotVerified => {
                Answer::new("EmailNotVerified", S::FORBIDDEN, "Email not verified")
            }
            Self::Aal2Required => Answer::new("Aal2Required", S::FORBIDDEN, "aal2_required"),
            Self::InvalidCode => Answer::new("InvalidCode", S::BAD_REQUEST, "Invalid code"),
            Self::InvalidLoginCode => {
                Answer::new("InvalidLoginCode", S::UNAUTHORIZED, "Invalid code")
            }
            Self::InvalidMfaToken => Answer::new(
                "InvalidMfaToken",
                S::UNAUTHORIZED,
                "Invalid or expired mfa_token",
            ),
            Self::NothingPending => Answer::new(
                "NothingPending",
                S::BAD_REQUEST,
                "No TOTP enrolment is pending",
            ),
            Self::NoFactor => Answer::new("NoFactor", S::BAD_REQUEST, "TOTP is not enabled"),
            Self::InvalidCeremony => Answer::new(
                "InvalidCeremony",
                S::BAD_REQUEST,
                "Invalid or expired ceremony",
            ),
            Self::PasskeyRegistrationRejected => Answer::new(
                "PasskeyRegistrationRejected",
                S::BAD_REQUEST,
                "Passkey registration failed",
            ),
            Self::PasskeyTaken => {
                Answer::new("PasskeyTaken", S::CONFLICT, "Passkey already registered")
            }
            Self::PasskeyRejected => {
                Answer::new("PasskeyRejected", S::UNAUTHORIZED, "Passkey not accepted")
            }
            Self::PasskeyNotFound => {
                Answer::new("PasskeyNotFound", S::NOT_FOUND, "Passkey not found")
            }
            Self::ProviderNotFound => {
                Answer::new("ProviderNotFound", S::NOT_FOUND, "Provider not found")
            }
            Self::IdentityNotFound => {
                Answer::new("IdentityNotFound", S::NOT_FOUND, "Identity not found")
            }
            Self::WebhookNotFound => Answer::new(
                "WebhookNotFound",
                S::NOT_FOUND,
                "Webhook endpoint not found",
            ),
            Self::WebhookDisabled => Answer::new(
                "WebhookDisabled",
                S::CONFLICT,
                "Webhook endpoint is disabled",
            ),
            Self::TooManyWebhooks => {
                Answer::new("TooManyWebhooks", S::CONFLICT, "Too many webhook endpoints")
            }
            Self::ReturnUrlNotAllowed => Answer::new(
                "ReturnUrlNotAllowed",
                S::BAD_REQUEST,
                "return_to is not allowed",
            ),
            Self::InvalidCodeChallenge => Answer::new(
                "InvalidCodeChallenge",
                S::BAD_REQUEST,
                "Invalid code_challenge",
            ),
            Self::LastWayIn => Answer::new(
                "LastWayIn",
                S::CONFLICT,
                "The last way to sign in cannot be removed",
            ),
            Self::ProviderUnavailable => Answer::new(
                "ProviderUnavailable",
                S::SERVICE_UNAVAILABLE,
                "Provider unavailable",
            )
            .retry_after(Duration::from_secs(60)),
            Self::NotFound => Answer::new("NotFound", S::NOT_FOUND, "Not Found"),
            Self::SessionNotFound => {
                Answer::new("SessionNotFound", S::NOT_FOUND, "Session not found")
            }
            Self::MethodNotAllowed(allow) => {
                let answer = Answer::new(
                    "MethodNotAllowed",
                    S::METHOD_NOT_ALLOWED,
                    "Method Not Allowed",
                );
                match HeaderValue::from_str(allow) {
                    Ok(allow) => answer.header(header::ALLOW, allow),
                    Err(_) => answer,
                }
            }
            Self::RequestTimeout => Answer {
                // The rest of the body may still come: the connection cannot be reused.
                close: true,
                ..Answer::new("RequestTimeout", S::REQUEST_TIMEOUT, "Request Timeout")
            },
            Self::RateLimited {
                retry_after,
                per_minute,
            } => Answer::new(
                "RateLimited",
                S::TOO_MANY_REQUESTS,
                format!("Rate limit exceeded: {per_minute} per 1 minute"),
            )
            .retry_after(*retry_after),
            Self::LoginThrottled { retry_after } => Answer::new(
                "LoginThrottled",
                S::TOO_MANY_REQUESTS,
                "Too many failed login attempts, try again later",
            )
            .retry_after(*retry_after),
            Self::MailDisabled => Answer::new(
                "MailDisabled",
                S::SERVICE_UNAVAILABLE,
                "Mail delivery is not configured",
            ),
            Self::BreachCheckUnavailable => Answer::new(
                "BreachCheckUnavailable",
                S::SERVICE_UNAVAILABLE,
                "Password check unavailable, try again later",
            )
            .retry_after(Duration::from_secs(BREACH_RETRY_AFTER_SECONDS)),
            Self::Unavailable(_) => {
                Answer::new("Unavailable", S::SERVICE_UNAVAILABLE, "Service unavailable")
                    .retry_after(Duration::from_secs(UNAVAILABLE_RETRY_AFTER_SECONDS))
            }
            Self::Internal(_) => Answer::new(
                "Internal",
                S::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            ),
        }
    }
}

/// The variant's name only (a 422 adds its count of errors): no client input, which may
/// hold a password, and no internal cause.
impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.answer().name)?;
        if let Self::Validation(rejection) = self {
            write!(f, "({} errors)", rejection.detail.len())?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.answer().status
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(cause) => tracing::error!(error = ?cause, "dependency unavailable"),
            Self::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            _ => {}
        }
        let answer = self.answer();
        let mut response = HttpResponse::build(answer.status);
        if let Some(header) = answer.header {
            response.insert_header(header);
        }
        if answer.close {
            response.force_close();
        }
        match self {
            Self::Validation(rejection) => response.json(rejection),
            _ => response.json(ErrorBody::new(answer.detail)),
        }
    }
}

/// The `Retry-After` of a 503 for a breached-password source that failed.
pub const BREACH_RETRY_AFTER_SECONDS: u64 = 30;

/// The `Retry-After` of a 503: a database restart or failover takes a few seconds.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;
