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

use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, Route, web};

use self::pages::Page;
use crate::error::ApiError;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    #[cfg(feature = "bench-routes")]
    config.route("/bench/token-check", web::get().to(token_check));
    config
        .service(get("/", health::root))
        .service(get("/health", health::health))
        .service(get("/health/ready", health::ready))
        .service(get("/.well-known/jwks.json", keys::jwks))
        .service(get("/metrics", metrics::metrics))
        .service(only(GET_POST, pages::resource(Page::VerifyEmail)))
        .service(only(GET_POST, pages::resource(Page::ResetPassword)))
        .service(only(GET_POST, pages::resource(Page::ConfirmEmail)))
        .service(get("/passkeys", passkey_page::page))
        .service(get("/passkeys.js", passkey_page::script))
        .service(get("/docs", || async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }))
        .service(
            web::scope("/api/v1/auth")
                .service(post("/register", auth::register::register))
                .service(post("/login", auth::login::login))
                .service(post("/refresh", auth::refresh::refresh))
                .service(only(
                    "GET, HEAD, PATCH, DELETE",
                    web::resource("/me")
                        .route(web::get().to(auth::me::me))
                        .route(web::patch().to(auth::me::update))
                        .route(web::delete().to(auth::me::delete)),
                ))
                .service(post(
                    "/verify-email/request",
                    auth::email::request_verification,
                ))
                .service(post(
                    "/verify-email/confirm",
                    auth::email::confirm_verification,
                ))
                .service(post("/password/forgot", auth::password::forgot))
                .service(post("/password/reset", auth::password::reset))
                .service(post("/password/change", auth::password::change))
                .service(post("/email/change", auth::email::change))
                .service(post("/email/confirm", auth::email::confirm_change))
                .service(post("/mfa/totp/enroll", auth::mfa::enroll))
                .service(post("/mfa/totp/activate", auth::mfa::activate))
                .service(delete("/mfa/totp", auth::mfa::disable))
                .service(post("/mfa/recovery-codes", auth::mfa::recovery_codes))
                .service(post("/mfa/verify", auth::mfa::verify))
                .service(post(
                    "/passkeys/register/start",
                    auth::passkeys::register_start,
                ))
                .service(post(
                    "/passkeys/register/finish",
                    auth::passkeys::register_finish,
                ))
                .service(post("/passkeys/login/start", auth::passkeys::login_start))
                .service(post("/passkeys/login/finish", auth::passkeys::login_finish))
                .service(get("/passkeys", auth::passkeys::list))
                .service(delete("/passkeys/{id}", auth::passkeys::delete))
                .service(post("/logout", auth::logout::logout))
                .service(get("/sessions", auth::sessions::sessions))
                .service(get("/security-events", audit::security_events))
                .service(delete("/sessions/{id}", auth::sessions::revoke_session)),
        )
        .service(get("/api/v1/admin/audit", audit::admin_audit))
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
                .service(post("/{id}/password-reset", admin::send_password_reset)),
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

/// A resource at `path` that `handler` answers for one method, `route`; any other gets
/// 405 naming `allow`.
fn one_method<F, Args>(allow: &'static str, route: Route, path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    only(allow, web::resource(path).route(route.to(handler)))
}

/// A GET (and HEAD) resource.
fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    one_method(GET, web::get(), path, handler)
}

/// A POST-only resource.
fn post<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    one_method("POST", web::post(), path, handler)
}

/// A DELETE-only resource.
fn delete<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    one_method("DELETE", web::delete(), path, handler)
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
