//! The OpenAPI 3.1 document (`GET /openapi.json`) and interactive docs (`GET /docs`),
//! generated from the handlers' `#[utoipa::path]` annotations. Every response schema is
//! the `ToSchema` of the very type the handler serialises (`UserBody`, `TokensBody`,
//! `ErrorBody`, `Rejection`, …); request schemas come from the field lists the parsers
//! read (`routes::body_schema`).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, Response};
use utoipa::{Modify, OpenApi};

use crate::routes;

/// The answers every route of a kind can give, added here once instead of on each handler:
/// 429 on every route but the readiness probe (which the rate limit exempts); 503 (with
/// `Retry-After`) on every route under `/api/v1/auth`, which all use the database; 413 on
/// every route with a body; 422 on every route whose body is required; 401 on every route
/// that requires a bearer token; 403 `Superuser required` on every route under
/// `/api/v1/admin`. A handler that answers one of these with its own meaning lists it
/// itself, and its entry is kept.
struct SharedResponses;

impl SharedResponses {
    fn add(operation: &mut Operation, status: &str, description: &str, schema: &str) {
        let content = Content::new(Some(RefOr::Ref(Ref::from_schema_name(schema))));
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    Response::builder()
                        .description(description)
                        .content("application/json", content)
                        .build(),
                )
            });
    }
}

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for operation in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
                item.put.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let body = operation.request_body.clone();
                if let Some(body) = body {
                    Self::add(operation, "413", "Body over 64 KiB", "ErrorBody");
                    if matches!(body.required, Some(Required::True)) {
                        Self::add(operation, "422", "Validation error", "Rejection");
                    }
                }
                // Routes whose token is optional (an empty requirement) keep their own.
                let bearer_required = operation.security.as_ref().is_some_and(|list| {
                    !list.is_empty() && !list.contains(&SecurityRequirement::default())
                });
                if bearer_required {
                    Self::add(
                        operation,
                        "401",
                        "Not authenticated or invalid credentials",
                        "ErrorBody",
                    );
                }
                if path.starts_with("/api/v1/admin/") {
                    Self::add(operation, "403", "Superuser required", "ErrorBody");
                }
                if path != "/health/ready" {
                    Self::add(
                        operation,
                        "429",
                        "Rate limited (`Retry-After`)",
                        "ErrorBody",
                    );
                }
                if path.starts_with("/api/v1/auth/") || path.starts_with("/api/v1/admin/") {
                    Self::add(
                        operation,
                        "503",
                        "The database is unreachable (`Retry-After`)",
                        "ErrorBody",
                    );
                }
            }
        }
    }
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
        description = "Authentication and users: register, login, refresh, me, logout, sessions; the account lifecycle over mail (verification, forgotten and changed passwords, email change, deletion)."
    ),
    paths(
        routes::health::root,
        routes::health::health,
        routes::health::ready,
        routes::keys::jwks,
        routes::auth::register::register,
        routes::auth::login::login,
        routes::auth::refresh::refresh,
        routes::auth::me::me,
        routes::auth::logout::logout,
        routes::auth::sessions::sessions,
        routes::auth::sessions::revoke_session,
        routes::auth::email::request_verification,
        routes::auth::email::confirm_verification,
        routes::auth::password::forgot,
        routes::auth::password::reset,
        routes::auth::password::change,
        routes::auth::me::update,
        routes::auth::me::delete,
        routes::auth::email::change,
        routes::auth::email::confirm_change,
        routes::auth::mfa::enroll,
        routes::auth::mfa::activate,
        routes::auth::mfa::recovery_codes,
        routes::auth::mfa::disable,
        routes::auth::mfa::verify,
        routes::auth::passkeys::register_start,
        routes::auth::passkeys::register_finish,
        routes::auth::passkeys::list,
        routes::auth::passkeys::delete,
        routes::auth::passkeys::login_start,
        routes::auth::passkeys::login_finish,
        routes::admin::list_users,
        routes::admin::create_user,
        routes::admin::get_user,
        routes::admin::update_user,
        routes::admin::delete_user,
        routes::admin::list_sessions,
        routes::admin::revoke_sessions,
        routes::admin::send_password_reset,
        routes::audit::admin_audit,
        routes::audit::security_events,
    ),
    components(schemas(crate::error::ErrorBody, crate::validation::Rejection)),
    modifiers(&BearerAuth, &SharedResponses),
    tags((name = "auth", description = "Accounts, tokens and sessions"), (name = "admin", description = "Account administration (superusers only)"), (name = "account", description = "The account lifecycle over mail: verification, passwords, email change, profile, deletion"), (name = "mfa", description = "Second factors: TOTP with recovery codes, and completing a login with a code"), (name = "passkeys", description = "Passkeys (WebAuthn): registering, listing, removing, signing in"), (name = "service", description = "Health and keys"))
)]
pub struct ApiDoc;
