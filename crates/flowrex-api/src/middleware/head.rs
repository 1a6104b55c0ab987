//! HEAD wherever GET is answered (RFC 9110 §9.3.2: general-purpose servers MUST support
//! it; uptime checkers use it). The request is routed as a GET, so it gets the same status
//! and headers (`Content-Length` included); the HTTP/1 encoder, which saw the request as
//! HEAD, sends no body.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// The middleware, for `actix_web::middleware::from_fn`.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn head_as_get(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if request.method() == Method::HEAD {
        request.head_mut().method = Method::GET;
    }
    next.call(request).await
}
