//! SPEC's CSRF rule (production only): a request other than GET/HEAD/OPTIONS without a
//! non-empty `X-CSRF-Token` header gets 403 `{"detail": "CSRF token missing"}`; paths under
//! `/api/v1/auth/login` are exempt. (The original raised inside its middleware, which
//! Starlette turned into a 500; this answers the intended 403.)

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::error::ApiError;

/// The header a state-changing request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

const EXEMPT_PREFIX: &str = "/api/v1/auth/login";

/// Whether `request` breaks the rule.
pub fn is_missing_token(request: &ServiceRequest) -> bool {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe || request.path().starts_with(EXEMPT_PREFIX) {
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
}
