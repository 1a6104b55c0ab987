//! The OpenAPI 3.1 document (`GET /openapi.json`) and interactive docs (`GET /docs`),
//! generated from the handlers' `#[utoipa::path]` annotations. Every response schema is
//! the `ToSchema` of the very type the handler serialises (`UserBody`, `TokensBody`,
//! `ErrorBody`, `Rejection`, …); request schemas come from the field lists the parsers
//! read (`routes::body_schema`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

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
        routes::auth::register::register,
        routes::auth::login::login,
        routes::auth::refresh::refresh,
        routes::auth::me::me,
        routes::auth::logout::logout,
        routes::auth::sessions::sessions,
        routes::auth::sessions::revoke_session,
    ),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Accounts, tokens and sessions"), (name = "service", description = "Health and keys"))
)]
pub struct ApiDoc;
