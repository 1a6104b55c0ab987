//! The browser transport of the refresh token: an `HttpOnly; Secure; SameSite=Strict`
//! cookie scoped to `/api/v1/auth`, so that a front end never holds the refresh token in
//! script-reachable storage. Opt-in per request with `X-Token-Transport: cookie` on login
//! (and refresh); refresh and logout then take the token from the cookie, and because a
//! cookie travels by itself, those requests must carry the `X-CSRF-Token` header (the
//! SPEC's CSRF rule; a cross-site page cannot set it without passing CORS).

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};

use crate::error::ApiError;
use crate::middleware::csrf::CSRF_HEADER;

/// The cookie's name.
pub const REFRESH_COOKIE: &str = "flowrex_refresh";
/// The request header that asks for the cookie transport.
pub const TRANSPORT_HEADER: &str = "x-token-transport";
const PATH: &str = "/api/v1/auth";

/// Whether the client asked for the refresh token in a cookie.
pub fn wants_cookie(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(TRANSPORT_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("cookie"))
}

/// The refresh token the cookie carries, if any.
pub fn refresh_token(request: &HttpRequest) -> Option<String> {
    request
        .cookie(REFRESH_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

/// The cookie's refresh token for a request that relies on it: `None` without the
/// cookie; 403 when the cookie is there but the `X-CSRF-Token` header is not.
///
/// # Errors
/// [`ApiError::CsrfTokenMissing`].
pub fn refresh_token_with_csrf(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    match refresh_token(request) {
        Some(_) if !has_csrf_header(request) => Err(ApiError::CsrfTokenMissing),
        token => Ok(token),
    }
}

/// Whether the request carries a non-empty `X-CSRF-Token`.
fn has_csrf_header(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(CSRF_HEADER)
        .is_some_and(|value| !value.is_empty())
}

/// The cookie holding `token` for `max_age`.
pub fn with_token(token: String, max_age: chrono::Duration) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, token)
        .path(PATH)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age.num_seconds()))
        .finish()
}

/// A cookie that deletes the refresh cookie.
pub fn cleared() -> Cookie<'static> {
    let mut cookie = with_token(String::new(), chrono::Duration::zero());
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_secure_strict_and_scoped() {
        let cookie = with_token("t".to_owned(), chrono::Duration::days(7)).to_string();
        for part in [
            "flowrex_refresh=t",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/api/v1/auth",
            "Max-Age=604800",
        ] {
            assert!(cookie.contains(part), "{part} in {cookie}");
        }
        assert!(cleared().to_string().contains("Max-Age=0"));
    }
}
