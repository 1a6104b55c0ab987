//! SPEC rows under `/api/v1/auth`: register, login, refresh, me, logout.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::SecondsFormat;
use flowrex_domain::{AuthService, LoginError, LogoutRequest, TokenPair, User};
use serde::Serialize;
use serde_json::json;

use crate::bodies;
use crate::client_ip;
use crate::error::ApiError;
use crate::extractors::Body;
use crate::routes::cookie;

/// The user body of the SPEC: never a password or hash.
#[derive(Serialize)]
struct UserBody<'a> {
    id: i64,
    email: &'a str,
    full_name: Option<&'a str>,
    is_active: bool,
    is_verified: bool,
    created_at: String,
}

impl<'a> From<&'a User> for UserBody<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id().get(),
            email: user.email().as_str(),
            full_name: user.full_name(),
            is_active: user.is_active(),
            is_verified: user.is_verified(),
            created_at: user
                .created_at()
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        }
    }
}

/// The tokens body of the SPEC. With the cookie transport, `refresh_token` is `null`: the
/// token is only in the `HttpOnly` cookie.
#[derive(Serialize)]
struct TokensBody {
    access_token: String,
    refresh_token: Option<String>,
    token_type: &'static str,
    expires_in: i64,
}

/// The answer of login and refresh: the pair in the body, or the refresh token in the
/// cookie and the rest in the body.
fn tokens_response(
    pair: TokenPair,
    in_cookie: bool,
    refresh_ttl: chrono::Duration,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header(no_store());
    let refresh_token = if in_cookie {
        response.cookie(cookie::with_token(pair.refresh_token, refresh_ttl));
        None
    } else {
        Some(pair.refresh_token)
    };
    response.json(TokensBody {
        access_token: pair.access_token,
        refresh_token,
        token_type: "bearer",
        expires_in: pair.expires_in,
    })
}

/// Token and user answers must not be stored by caches.
fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// The raw `Content-Type` header, which decides how the body is read.
fn content_type(request: &HttpRequest) -> Option<&[u8]> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(header::HeaderValue::as_bytes)
}

/// The token of an `Authorization: Bearer <token>` header, as FastAPI's `HTTPBearer` reads
/// it: a missing header, another scheme or an empty token is "not authenticated".
fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::NotAuthenticated)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::NotAuthenticated);
    }
    Ok(token)
}

/// `POST /api/v1/auth/register` → 201 user; 400 taken email; 422 validation.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = crate::openapi::RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = crate::openapi::UserResponse),
        (status = 400, description = "Email already registered", body = crate::openapi::ErrorResponse),
        (status = 413, description = "Body over 64 KiB", body = crate::openapi::ErrorResponse),
        (status = 422, description = "Validation error", body = crate::openapi::ValidationErrorResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn register(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let registration = bodies::registration(content_type(&request), &body)?;
    let user = auth.register(registration).await?;
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(UserBody::from(&user)))
}

/// `POST /api/v1/auth/login` → 200 tokens; 401 `Invalid email or password`; 422.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = crate::openapi::LoginRequest,
    responses(
        (status = 200, description = "A token pair", body = crate::openapi::TokensResponse),
        (status = 401, description = "Invalid email or password", body = crate::openapi::ErrorResponse),
        (status = 413, description = "Body over 64 KiB", body = crate::openapi::ErrorResponse),
        (status = 422, description = "Validation error", body = crate::openapi::ValidationErrorResponse),
        (status = 429, description = "Rate limited or too many failed logins (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn login(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let mut credentials = bodies::credentials(
        content_type(&request),
        &body,
        client_ip::of_request(&request),
    )?;
    credentials.user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .map(str::to_owned);
    let result = auth.login(credentials).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(LoginError::InvalidCredentials) => "invalid_credentials",
        Err(LoginError::Throttled { .. }) => "throttled",
        Err(LoginError::Unavailable(_) | LoginError::Unexpected(_)) => "error",
    };
    metrics::counter!("flowrex_logins_total", "outcome" => outcome).increment(1);
    if outcome == "throttled" {
        metrics::counter!("flowrex_rate_limited_total", "limiter" => "login").increment(1);
    }
    let pair = result?;
    Ok(tokens_response(
        pair,
        cookie::wants_cookie(&request),
        auth.policy().refresh_ttl,
    ))
}

/// `POST /api/v1/auth/refresh` → 200 tokens; 401 `Invalid token`; 422.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = crate::openapi::RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the refresh token is rotated", body = crate::openapi::TokensResponse),
        (status = 401, description = "Invalid token", body = crate::openapi::ErrorResponse),
        (status = 403, description = "Cookie transport without `X-CSRF-Token`", body = crate::openapi::ErrorResponse),
        (status = 413, description = "Body over 64 KiB", body = crate::openapi::ErrorResponse),
        (status = 422, description = "Validation error", body = crate::openapi::ValidationErrorResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn refresh(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let (token, from_cookie) = match bodies::refresh_token(content_type(&request), &body) {
        Ok(token) => (token, false),
        // No token in the body: the browser transport's cookie, with the CSRF header.
        Err(invalid_body) => match cookie::refresh_token_with_csrf(&request)? {
            Some(token) => (token, true),
            None => return Err(invalid_body),
        },
    };
    let pair = auth.refresh(&token).await?;
    Ok(tokens_response(
        pair,
        from_cookie || cookie::wants_cookie(&request),
        auth.policy().refresh_ttl,
    ))
}

/// `GET /api/v1/auth/me` → 200 user; 401 `Not authenticated` / `Invalid credentials`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = crate::openapi::UserResponse),
        (status = 401, description = "Not authenticated or invalid credentials (`WWW-Authenticate: Bearer`)", body = crate::openapi::ErrorResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn me(
    auth: web::Data<AuthService>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&request)?;
    let user = auth.current_user(token).await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(UserBody::from(&user)))
}

/// `POST /api/v1/auth/logout` → 200 `{"message": "Logged out"}`. Revokes the session of
/// the bearer access token and/or of the `refresh_token` in the body; with
/// `{"scope": "all"}`, every session of that user. Without any usable token there is
/// nothing to revoke and the answer is the same; a body that is not JSON is ignored.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body(content = Option<crate::openapi::LogoutBody>, description = "Optional"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Logged out", body = crate::openapi::MessageResponse),
        (status = 403, description = "Cookie transport without `X-CSRF-Token`", body = crate::openapi::ErrorResponse),
        (status = 413, description = "Body over 64 KiB", body = crate::openapi::ErrorResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn logout(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let options = bodies::logout_options(content_type(&request), &body);
    let has_cookie = cookie::refresh_token(&request).is_some();
    let from_cookie = match options.refresh_token {
        Some(_) => None,
        None => cookie::refresh_token_with_csrf(&request)?,
    };
    auth.logout(LogoutRequest {
        access_token: bearer_token(&request).ok(),
        refresh_token: options.refresh_token.as_deref().or(from_cookie.as_deref()),
        everywhere: options.everywhere,
    })
    .await?;
    let mut response = HttpResponse::Ok();
    if has_cookie {
        response.cookie(cookie::cleared());
    }
    Ok(response.json(json!({ "message": "Logged out" })))
}

/// One entry of `GET /api/v1/auth/sessions`.
#[derive(Serialize)]
struct SessionBody<'a> {
    id: &'a str,
    current: bool,
    created_at: String,
    last_used_at: String,
    expires_at: String,
    user_agent: Option<&'a str>,
    ip: Option<&'a str>,
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `GET /api/v1/auth/sessions` → 200 the caller's active sessions, most recently used
/// first; 401 as `/me`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's active sessions", body = Vec<crate::openapi::SessionResponse>),
        (status = 401, description = "Not authenticated or invalid credentials", body = crate::openapi::ErrorResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn sessions(
    auth: web::Data<AuthService>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&request)?;
    let (current, sessions) = auth.list_sessions(token).await?;
    let list: Vec<SessionBody<'_>> = sessions
        .iter()
        .map(|session| SessionBody {
            id: session.id.as_str(),
            current: session.id == current,
            created_at: timestamp(session.created_at),
            last_used_at: timestamp(session.last_used_at),
            expires_at: timestamp(session.expires_at),
            user_agent: session.user_agent.as_deref(),
            ip: session.ip.as_deref(),
        })
        .collect();
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}

/// `DELETE /api/v1/auth/sessions/{id}` → 204 after revoking one of the caller's sessions;
/// 404 `{"detail": "Session not found"}` for any other id; 401 as `/me`.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "auth",
    params(("id" = String, Path, description = "A session id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not authenticated or invalid credentials", body = crate::openapi::ErrorResponse),
        (status = 404, description = "Session not found", body = crate::openapi::ErrorResponse),
        (status = 429, description = "Rate limited (`Retry-After`)", body = crate::openapi::ErrorResponse),
        (status = 503, description = "The database is unreachable", body = crate::openapi::ErrorResponse)
    )
)]
pub async fn revoke_session(
    auth: web::Data<AuthService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&request)?;
    auth.revoke_session(token, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn validation(result: Result<impl Sized, ApiError>) -> serde_json::Value {
        match result {
            Err(ApiError::Validation(errors)) => json!(errors),
            Err(other) => json!(other.to_string()),
            Ok(_) => json!("accepted"),
        }
    }

    fn register_body(body: serde_json::Value) -> serde_json::Value {
        validation(bodies::registration(None, body.to_string().as_bytes()))
    }

    #[test]
    fn a_valid_registration_is_accepted() {
        assert_eq!(
            register_body(
                json!({"email": "a@b.co", "password": "Test1234", "full_name": null, "id": 9})
            ),
            json!("accepted")
        );
    }

    #[test]
    fn password_errors_have_the_originals_messages_and_no_input() {
        assert_eq!(
            register_body(json!({"email": "a@b.co", "password": "test1234"})),
            json!([{"type": "value_error", "loc": ["body", "password"],
                    "msg": "Value error, Must contain uppercase", "ctx": {"error": {}}}])
        );
    }

    #[test]
    fn every_bad_field_is_reported_in_field_order() {
        let errors = register_body(
            json!({"email": "nope", "full_name": "x".repeat(256), "password": "short"}),
        );
        let locs: Vec<_> = errors
            .as_array()
            .map(|a| a.iter().map(|e| e["loc"][1].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            locs,
            [json!("email"), json!("full_name"), json!("password")]
        );
        assert_eq!(
            errors[0]["msg"],
            "value is not a valid email address: An email address must have an @-sign."
        );
        assert_eq!(errors[1]["type"], "string_too_long");
    }

    #[test]
    fn bearer_headers_are_read_like_fastapis_http_bearer() {
        let with = |value: &str| {
            let request = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            bearer_token(&request)
                .map(str::to_owned)
                .map_err(|e| e.to_string())
        };
        assert_eq!(with("Bearer abc"), Ok("abc".to_owned()));
        assert_eq!(with("bearer abc"), Ok("abc".to_owned()));
        for garbled in ["Bearer", "Bearer ", "Basic abc", "abc", ""] {
            assert_eq!(
                with(garbled),
                Err("not authenticated".to_owned()),
                "{garbled:?}"
            );
        }
        let none = TestRequest::default().to_http_request();
        assert!(matches!(
            bearer_token(&none),
            Err(ApiError::NotAuthenticated)
        ));
    }
}
