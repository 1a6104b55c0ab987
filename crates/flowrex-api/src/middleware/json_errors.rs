//! Last line of defence: any error answer that is not JSON yet (actix's plain-text 404,
//! 405, 413, payload and CORS errors) gets the SPEC's `{"detail": <reason>}` body. Headers
//! such as `Allow`, `Retry-After` and CORS ones are kept. The link pages' own HTML answers
//! (`routes::pages`) are left as they are.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, Result};
use serde_json::json;

/// For `ErrorHandlers::default_handler`.
///
/// # Errors
/// Never; the signature is the middleware's.
pub fn into_json<B>(response: ServiceResponse<B>) -> Result<ErrorHandlerResponse<B>> {
    let is_ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("application/json") || value.starts_with("text/html")
        });
    if is_ours {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let (request, old) = response.into_parts();
    let status = old.status();
    let detail = match status.as_u16() {
        413 => "Request body too large",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let mut new = HttpResponse::with_body(
        status,
        BoxBody::new(json!({ "detail": detail }).to_string()),
    );
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let new: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(request, new).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(new))
}
