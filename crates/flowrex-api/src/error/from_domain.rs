//! How each of the domain's errors answers: the status and `detail` of every variant, in
//! one place, so that a new variant fails to compile until it is given an answer.

use flowrex_domain::{
    AccountError, AdminError, AuthenticateError, EmailLoginError, FederationError, LoginError,
    LogoutError, MfaError, MfaVerifyError, PasskeyError, RefreshError, RegisterError,
    RevokeSessionError, WebhookError,
};

use super::ApiError;
use crate::validation::{CURRENT_PASSWORD_FIELD, Rejection};

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        Self::Validation(rejection)
    }
}

/// A 422 on `field` (FastAPI's shape), for a refusal the domain decided after the body was
/// read.
fn refused(field: &'static str, message: String, kind: &'static str) -> ApiError {
    let mut fields = crate::validation::Fields::new(serde_json::Map::new());
    fields.reject(field, kind, message, None, None);
    match fields.finish::<()>(None) {
        Err(rejection) => ApiError::Validation(rejection),
        Ok(()) => ApiError::Internal(anyhow::anyhow!("a refusal without an error")),
    }
}

/// The 422 of a new password found in known breaches, on the route's `field` (never
/// echoing the password).
pub fn password_breached(field: &'static str) -> ApiError {
    // As the password policy's own refusals: FastAPI's `value_error` with its `ctx`.
    let mut fields = crate::validation::Fields::new(serde_json::Map::new());
    fields.reject(
        field,
        "value_error",
        BREACHED_PASSWORD_MESSAGE,
        None,
        Some(serde_json::json!({ "error": {} })),
    );
    match fields.finish::<()>(None) {
        Err(rejection) => ApiError::Validation(rejection),
        Ok(()) => ApiError::Internal(anyhow::anyhow!("a refusal without an error")),
    }
}

/// What a breached new password is told (the API's `msg`, the reset page's line).
pub const BREACHED_PASSWORD_MESSAGE: &str =
    "Value error, this password appears in a known data breach; choose a different one";

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailTaken => Self::EmailTaken,
            RegisterError::PasswordBreached => password_breached("password"),
            RegisterError::BreachCheckUnavailable => Self::BreachCheckUnavailable,
            RegisterError::Unavailable(cause) => Self::Unavailable(cause),
            RegisterError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => Self::InvalidLogin,
            LoginError::EmailNotVerified => Self::EmailNotVerified,
            LoginError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            LoginError::Unavailable(cause) => Self::Unavailable(cause),
            LoginError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Forbidden => Self::SuperuserRequired,
            AdminError::NotFound => Self::UserNotFound,
            AdminError::LastSuperuser => Self::LastSuperuser,
            AdminError::EmailTaken => Self::EmailTaken,
            AdminError::MailDisabled => Self::MailDisabled,
            AdminError::IdentityNotFound => Self::IdentityNotFound,
            AdminError::LastWayIn => Self::LastWayIn,
            AdminError::PasswordBreached => password_breached("password"),
            AdminError::BreachCheckUnavailable => Self::BreachCheckUnavailable,
            AdminError::Unavailable(cause) => Self::Unavailable(cause),
            AdminError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::NotFound => Self::WebhookNotFound,
            WebhookError::TooMany => Self::TooManyWebhooks,
            WebhookError::Disabled => Self::WebhookDisabled,
            WebhookError::Url(why) => refused("url", format!("Value error, {why}"), "value_error"),
            WebhookError::Events => refused(
                "events",
                "Value error, events must be [\"*\"] or a list of event types".to_owned(),
                "value_error",
            ),
            WebhookError::Description => refused(
                "description",
                "String should have at most 255 characters".to_owned(),
                "string_too_long",
            ),
            WebhookError::Unavailable(cause) => Self::Unavailable(cause),
            WebhookError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::InvalidToken => Self::InvalidOneTimeToken,
            AccountError::WrongPassword => Self::WrongPassword,
            AccountError::EmailTaken => Self::EmailTaken,
            AccountError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            AccountError::MailDisabled => Self::MailDisabled,
            AccountError::Aal2Required => Self::Aal2Required,
            AccountError::Stale => Self::InvalidCredentials,
            AccountError::LastSuperuser => Self::LastSuperuser,
            // Reset and change both name it `new_password`.
            AccountError::PasswordBreached => password_breached("new_password"),
            AccountError::BreachCheckUnavailable => Self::BreachCheckUnavailable,
            AccountError::Unavailable(cause) => Self::Unavailable(cause),
            AccountError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(error: MfaError) -> Self {
        match error {
            MfaError::InvalidCode => Self::InvalidCode,
            MfaError::WrongPassword => Self::WrongPassword,
            MfaError::NothingPending => Self::NothingPending,
            MfaError::NoFactor => Self::NoFactor,
            MfaError::Aal2Required => Self::Aal2Required,
            MfaError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            MfaError::EmailNotVerified => Self::EmailNotVerified,
            MfaError::Stale => Self::InvalidCredentials,
            MfaError::Unavailable(cause) => Self::Unavailable(cause),
            MfaError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<PasskeyError> for ApiError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::InvalidCeremony => Self::InvalidCeremony,
            PasskeyError::RegistrationRejected => Self::PasskeyRegistrationRejected,
            PasskeyError::AlreadyRegistered => Self::PasskeyTaken,
            PasskeyError::LoginRejected => Self::PasskeyRejected,
            PasskeyError::NotFound => Self::PasskeyNotFound,
            PasskeyError::Aal2Required => Self::Aal2Required,
            PasskeyError::EmailNotVerified => Self::EmailNotVerified,
            PasskeyError::PasswordRequired => {
                Self::Validation(Rejection::missing(CURRENT_PASSWORD_FIELD))
            }
            PasskeyError::WrongPassword => Self::WrongPassword,
            PasskeyError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            PasskeyError::Unavailable(cause) => Self::Unavailable(cause),
            PasskeyError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> Self {
        match error {
            // A provider id or an identity of the caller's that is not there.
            FederationError::NotFound => Self::ProviderNotFound,
            FederationError::ReturnUrlNotAllowed => Self::ReturnUrlNotAllowed,
            FederationError::InvalidChallenge => Self::InvalidCodeChallenge,
            FederationError::ProviderUnavailable => Self::ProviderUnavailable,
            FederationError::InvalidCode => Self::InvalidCode,
            FederationError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            FederationError::EmailNotVerified => Self::EmailNotVerified,
            FederationError::Aal2Required => Self::Aal2Required,
            FederationError::PasswordRequired => {
                Self::Validation(Rejection::missing(CURRENT_PASSWORD_FIELD))
            }
            FederationError::WrongPassword => Self::WrongPassword,
            FederationError::LastWayIn => Self::LastWayIn,
            FederationError::Stale => Self::InvalidCredentials,
            FederationError::Unavailable(cause) => Self::Unavailable(cause),
            FederationError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<MfaVerifyError> for ApiError {
    fn from(error: MfaVerifyError) -> Self {
        match error {
            MfaVerifyError::InvalidCode => Self::InvalidLoginCode,
            MfaVerifyError::InvalidChallenge => Self::InvalidMfaToken,
            MfaVerifyError::EmailNotVerified => Self::EmailNotVerified,
            MfaVerifyError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            MfaVerifyError::Unavailable(cause) => Self::Unavailable(cause),
            MfaVerifyError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => Self::InvalidToken,
            RefreshError::Unavailable(cause) => Self::Unavailable(cause),
            RefreshError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Unavailable(cause) => Self::Unavailable(cause),
            LogoutError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<RevokeSessionError> for ApiError {
    fn from(error: RevokeSessionError) -> Self {
        match error {
            RevokeSessionError::NotFound => Self::SessionNotFound,
            RevokeSessionError::Unavailable(cause) => Self::Unavailable(cause),
            RevokeSessionError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(error: AuthenticateError) -> Self {
        match error {
            AuthenticateError::InvalidCredentials => Self::InvalidCredentials,
            AuthenticateError::Unavailable(cause) => Self::Unavailable(cause),
            AuthenticateError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

impl From<EmailLoginError> for ApiError {
    fn from(error: EmailLoginError) -> Self {
        match error {
            EmailLoginError::Disabled => Self::NotFound,
            EmailLoginError::MailDisabled => Self::MailDisabled,
            EmailLoginError::ReturnUrlNotAllowed => Self::ReturnUrlNotAllowed,
            EmailLoginError::InvalidLink => Self::InvalidOneTimeToken,
            EmailLoginError::InvalidCode => Self::InvalidLoginCode,
            EmailLoginError::Throttled { retry_after } => Self::LoginThrottled { retry_after },
            EmailLoginError::Unavailable(cause) => Self::Unavailable(cause),
            EmailLoginError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}
