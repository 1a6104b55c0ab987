//! SPEC's CSRF rule (production only): a request other than GET/HEAD/OPTIONS without a
//! non-empty `X-CSRF-Token` header gets 403 `{"detail": "CSRF token missing"}`; paths under
//! `/api/v1/auth/login` are exempt. (The original raised inside its middleware, which
//! Starlette turned into a 500; this answers the intended 403.) So are the form posts of
//! the mailed links' own pages (`TokenPurpose::page`, `EMAIL_LOGIN_PAGE`): a browser form cannot send
//! the header, and each post carries its one-time token, an unguessable credential that
//! another site cannot have (see `routes::pages`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::error::ApiError;
use flowrex_domain::TokenPurpose;

/// The header a state-changing request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether `path` is one of the mailed links' pages (`TokenPurpose::page`).
fn is_link_page(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|page| {
        page == flowrex_domain::EMAIL_LOGIN_PAGE
            || TokenPurpose::ALL
                .iter()
                .any(|purpose| purpose.page() == page)
    })
}

/// Whether `path` is an outside provider's callback, which a provider's `form_post`
/// reaches from its own site (it carries the flow's single-use `state`, and the answer only
/// moves the browser on to the `GET` callback).
fn is_provider_callback(path: &str) -> bool {
    path.strip_prefix("/api/v1/auth/oauth/")
        .and_then(|rest| rest.strip_suffix("/callback"))
        .is_some_and(|provider| !provider.is_empty() && !provider.contains('/'))
}

/// The SPEC's exemption: every path under the login route.
const EXEMPT_PREFIX: &str = "/api/v1/auth/login";

/// Whether `request` breaks the rule.
pub fn is_missing_token(request: &ServiceRequest) -> bool {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let path = request.path();
    if safe || path.starts_with(EXEMPT_PREFIX) || is_link_page(path) || is_provider_callback(path) {
        return false;
    }
    request
        .headers()
        .get(CSRF_HEADER)
        .is_none_or(|value| value.is_empty())
}

/// The middleware, for `actix_web::middleware::from_fn`.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn require_csrf_header(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if is_missing_token(&request) {
        let response = ApiError::CsrfTokenMissing.error_response();
        return Ok(request.into_response(response).map_into_right_body());
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn missing(method: Method, path: &str, token: Option<&str>) -> bool {
        let mut request = TestRequest::default().method(method).uri(path);
        if let Some(token) = token {
            request = request.insert_header((CSRF_HEADER, token));
        }
        is_missing_token(&request.to_srv_request())
    }

    #[test]
    fn state_changing_requests_need_a_non_empty_header() {
        assert!(missing(Method::POST, "/api/v1/auth/register", None));
        assert!(missing(Method::POST, "/api/v1/auth/logout", Some("")));
        assert!(missing(Method::DELETE, "/anything", None));
        assert!(!missing(Method::POST, "/api/v1/auth/register", Some("t")));
    }

    #[test]
    fn safe_methods_and_login_are_exempt() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!missing(method, "/api/v1/auth/me", None));
        }
        assert!(!missing(Method::POST, "/api/v1/auth/login", None));
        assert!(!missing(Method::POST, "/api/v1/auth/login/extra", None));
    }

    #[test]
    fn the_link_pages_forms_are_exempt_and_their_json_twins_are_not() {
        for page in ["/verify-email", "/reset-password", "/confirm-email"] {
            assert!(!missing(Method::POST, page, None), "{page}");
        }
        assert!(missing(Method::POST, "/api/v1/auth/password/reset", None));
        assert!(missing(
            Method::POST,
            "/api/v1/auth/verify-email/confirm",
            None
        ));
        assert!(missing(Method::POST, "/reset-password/x", None));
    }

    #[test]
    fn a_providers_form_post_callback_is_exempt_and_the_exchange_is_not() {
        assert!(!missing(
            Method::POST,
            "/api/v1/auth/oauth/apple/callback",
            None
        ));
        assert!(missing(Method::POST, "/api/v1/auth/oauth/exchange", None));
        assert!(missing(Method::POST, "/api/v1/auth/identities/apple", None));
        assert!(missing(Method::POST, "/api/v1/auth/oauth//callback", None));
        assert!(missing(
            Method::POST,
            "/api/v1/auth/oauth/a/b/callback",
            None
        ));
    }
}
