//! The SPEC's routes. Each resource answers other methods with 405 and an `Allow` header,
//! and unknown paths with 404, both as JSON.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod body_schema;
pub mod cookie;
pub mod health;
pub mod keys;
pub mod metrics;
pub mod pages;
pub mod passkey_page;
pub mod query;
pub mod uniform;

use actix_web::{HttpResponse, Resource, web};

use self::pages::Page;
use crate::error::ApiError;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    #[cfg(feature = "bench-routes")]
    config.route("/bench/token-check", web::get().to(token_check));
    config
        .service(only(
            GET,
            web::resource("/").route(web::get().to(health::root)),
        ))
        .service(only(
            GET,
            web::resource("/health").route(web::get().to(health::health)),
        ))
        .service(only(
            GET,
            web::resource("/health/ready").route(web::get().to(health::ready)),
        ))
        .service(only(
            GET,
            web::resource("/.well-known/jwks.json").route(web::get().to(keys::jwks)),
        ))
        .service(only(
            GET,
            web::resource("/metrics").route(web::get().to(metrics::metrics)),
        ))
        .service(only(GET_POST, pages::resource(Page::VerifyEmail)))
        .service(only(GET_POST, pages::resource(Page::ResetPassword)))
        .service(only(GET_POST, pages::resource(Page::ConfirmEmail)))
        .service(only(
            GET,
            web::resource("/passkeys").route(web::get().to(passkey_page::page)),
        ))
        .service(only(
            GET,
            web::resource("/passkeys.js").route(web::get().to(passkey_page::script)),
        ))
        .service(only(
            GET,
            web::resource("/docs").route(web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            })),
        ))
        .service(
            web::scope("/api/v1/auth")
                .service(only(
                    "POST",
                    web::resource("/register").route(web::post().to(auth::register::register)),
                ))
                .service(only(
                    "POST",
                    web::resource("/login").route(web::post().to(auth::login::login)),
                ))
                .service(only(
                    "POST",
                    web::resource("/refresh").route(web::post().to(auth::refresh::refresh)),
                ))
                .service(only(
                    "GET, HEAD, PATCH, DELETE",
                    web::resource("/me")
                        .route(web::get().to(auth::me::me))
                        .route(web::patch().to(auth::me::update))
                        .route(web::delete().to(auth::me::delete)),
                ))
                .service(post(
                    "/verify-email/request",
                    web::post().to(auth::email::request_verification),
                ))
                .service(post(
                    "/verify-email/confirm",
                    web::post().to(auth::email::confirm_verification),
                ))
                .service(post(
                    "/password/forgot",
                    web::post().to(auth::password::forgot),
                ))
                .service(post(
                    "/password/reset",
                    web::post().to(auth::password::reset),
                ))
                .service(post(
                    "/password/change",
                    web::post().to(auth::password::change),
                ))
                .service(post("/email/change", web::post().to(auth::email::change)))
                .service(post(
                    "/email/confirm",
                    web::post().to(auth::email::confirm_change),
                ))
                .service(post("/mfa/totp/enroll", web::post().to(auth::mfa::enroll)))
                .service(post(
                    "/mfa/totp/activate",
                    web::post().to(auth::mfa::activate),
                ))
                .service(only(
                    "DELETE",
                    web::resource("/mfa/totp").route(web::delete().to(auth::mfa::disable)),
                ))
                .service(post(
                    "/mfa/recovery-codes",
                    web::post().to(auth::mfa::recovery_codes),
                ))
                .service(post("/mfa/verify", web::post().to(auth::mfa::verify)))
                .service(post(
                    "/passkeys/register/start",
                    web::post().to(auth::passkeys::register_start),
                ))
                .service(post(
                    "/passkeys/register/finish",
                    web::post().to(auth::passkeys::register_finish),
                ))
                .service(post(
                    "/passkeys/login/start",
                    web::post().to(auth::passkeys::login_start),
                ))
                .service(post(
                    "/passkeys/login/finish",
                    web::post().to(auth::passkeys::login_finish),
                ))
                .service(only(
                    GET,
                    web::resource("/passkeys").route(web::get().to(auth::passkeys::list)),
                ))
                .service(only(
                    "DELETE",
                    web::resource("/passkeys/{id}").route(web::delete().to(auth::passkeys::delete)),
                ))
                .service(only(
                    "POST",
                    web::resource("/logout").route(web::post().to(auth::logout::logout)),
                ))
                .service(only(
                    GET,
                    web::resource("/sessions").route(web::get().to(auth::sessions::sessions)),
                ))
                .service(only(
                    GET,
                    web::resource("/security-events").route(web::get().to(audit::security_events)),
                ))
                .service(only(
                    "DELETE",
                    web::resource("/sessions/{id}")
                        .route(web::delete().to(auth::sessions::revoke_session)),
                )),
        )
        .service(only(
            GET,
            web::resource("/api/v1/admin/audit").route(web::get().to(audit::admin_audit)),
        ))
        .service(
            web::scope("/api/v1/admin/users")
                .service(only(
                    "GET, HEAD, POST",
                    web::resource("")
                        .route(web::get().to(admin::list_users))
                        .route(web::post().to(admin::create_user)),
                ))
                .service(only(
                    "GET, HEAD, PATCH, DELETE",
                    web::resource("/{id}")
                        .route(web::get().to(admin::get_user))
                        .route(web::patch().to(admin::update_user))
                        .route(web::delete().to(admin::delete_user)),
                ))
                .service(only(
                    "GET, HEAD, DELETE",
                    web::resource("/{id}/sessions")
                        .route(web::get().to(admin::list_sessions))
                        .route(web::delete().to(admin::revoke_sessions)),
                ))
                .service(post(
                    "/{id}/password-reset",
                    web::post().to(admin::send_password_reset),
                )),
        );
}

/// `GET /bench/token-check`: what `/me` costs without its database lookup (bench builds
/// only).
#[cfg(feature = "bench-routes")]
async fn token_check(
    tokens: web::Data<std::sync::Arc<flowrex_infrastructure::JwtTokens>>,
    request: actix_web::HttpRequest,
) -> HttpResponse {
    use flowrex_domain::ports::TokenVerifier;
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    match tokens.verify(token, flowrex_domain::TokenKind::Access, chrono::Utc::now()) {
        Ok(claims) => HttpResponse::Ok().json(serde_json::json!({ "id": claims.subject.get() })),
        Err(_) => HttpResponse::Unauthorized().finish(),
    }
}

/// The `Allow` of a GET resource: HEAD is answered wherever GET is
/// (`middleware::head`).
const GET: &str = "GET, HEAD";

/// The `Allow` of a link page.
const GET_POST: &str = "GET, HEAD, POST";

/// A POST-only resource at `path`.
fn post(path: &str, route: actix_web::Route) -> Resource {
    only("POST", web::resource(path).route(route))
}

/// Answers any other method on `resource` with 405 naming `allow`.
fn only(allow: &'static str, resource: Resource) -> Resource {
    resource.default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow))
    }))
}

/// The app's fallback: 404 `{"detail": "Not Found"}`.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
