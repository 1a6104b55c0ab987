//! The OpenAPI 3.1 document (`GET /openapi.json`) and interactive docs (`GET /docs`),
//! generated from the handlers' `#[utoipa::path]` annotations. The schemas below describe
//! the bodies exactly as served (the handlers build them with `serde_json`/`Serialize`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;

/// `POST /register` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterRequest {
    /// A valid address; case and Unicode form do not matter.
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// At least 8 characters with an uppercase letter, a lowercase letter and a digit;
    /// at most 72 UTF-8 bytes; no NUL.
    #[schema(min_length = 8)]
    password: String,
    /// Optional display name.
    #[schema(max_length = 255)]
    full_name: Option<String>,
}

/// `POST /login` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginRequest {
    #[schema(format = "email")]
    email: String,
    password: String,
}

/// `POST /refresh` body (optional with the cookie transport).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// `POST /logout` body, all optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LogoutBody {
    /// A refresh token whose session to end.
    refresh_token: Option<String>,
    /// `all` ends every session of the user.
    #[schema(example = "all")]
    scope: Option<String>,
}

/// A user.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserResponse {
    id: i64,
    email: String,
    full_name: Option<String>,
    is_active: bool,
    is_verified: bool,
    #[schema(format = "date-time")]
    created_at: String,
}

/// A token pair. `refresh_token` is `null` with the cookie transport.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokensResponse {
    access_token: String,
    refresh_token: Option<String>,
    #[schema(example = "bearer")]
    token_type: String,
    /// The access token's lifetime in seconds.
    expires_in: i64,
}

/// One of the caller's sessions.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionResponse {
    id: String,
    /// The session of the access token used.
    current: bool,
    #[schema(format = "date-time")]
    created_at: String,
    #[schema(format = "date-time")]
    last_used_at: String,
    #[schema(format = "date-time")]
    expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
}

/// Every error but validation: `{"detail": "..."}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorResponse {
    detail: String,
}

/// One entry of a 422 list, in FastAPI's shape. `input` is omitted for secrets.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ValidationError {
    #[schema(example = "value_error")]
    r#type: String,
    /// Where: `["body"]` or `["body", field]` (a JSON position may follow `"body"`).
    #[schema(value_type = Vec<serde_json::Value>)]
    loc: Vec<String>,
    msg: String,
    #[schema(value_type = Option<serde_json::Value>)]
    input: Option<String>,
    #[schema(value_type = Option<Object>)]
    ctx: Option<String>,
}

/// 422: the body does not fit the schema.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ValidationErrorResponse {
    detail: Vec<ValidationError>,
}

/// `{"message": "..."}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MessageResponse {
    message: String,
}

/// `{"status": "healthy"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HealthResponse {
    status: String,
}

/// Readiness of each dependency.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReadyResponse {
    /// `ready` or `unavailable`.
    status: String,
    /// `ok` or `unavailable` by dependency (`database`, `redis`).
    #[schema(value_type = Object)]
    checks: String,
    /// Present on 503.
    detail: Option<String>,
}

/// A JSON Web Key Set (RFC 7517).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JwkSetResponse {
    #[schema(value_type = Vec<Object>)]
    keys: Vec<String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The whole document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flowrex API",
        description = "Authentication and users: register, login, refresh, me, logout, sessions."
    ),
    paths(
        routes::health::root,
        routes::health::health,
        routes::health::ready,
        routes::keys::jwks,
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::me,
        routes::auth::logout,
        routes::auth::sessions,
        routes::auth::revoke_session,
    ),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Accounts, tokens and sessions"), (name = "service", description = "Health and keys"))
)]
pub struct ApiDoc;
