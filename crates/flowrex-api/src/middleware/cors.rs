//! SPEC's CORS: the configured origins (`CORS_ORIGINS`), with credentials, any method and
//! header, by `actix-cors`; and nothing at all for any other origin, nor for a request
//! without `Origin` (which is not a CORS request). actix-cors leaves such answers without
//! `Access-Control-Allow-Origin` but still adds `Access-Control-Allow-Credentials` (and
//! preflight headers), so [`only_allowed_origins`] removes every `Access-Control-*` header
//! from them, preflight or not, success or error. `Vary: Origin` stays: caches must keep
//! the answers for each origin apart.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};

/// The configured origins, as app data for [`only_allowed_origins`].
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Vec<HeaderValue>);

impl AllowedOrigins {
    /// The origins of `CORS_ORIGINS` (entries that cannot be header values cannot match).
    pub fn new(origins: &[String]) -> Self {
        Self(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok())
                .collect(),
        )
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        self.0.contains(origin)
    }
}

/// The CORS middleware for `origins`: credentials, any method and header, preflight cached
/// for 10 minutes.
pub fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allow_any_method()
        .allow_any_header()
        .supports_credentials()
        .max_age(600)
}

/// Every response header of the CORS protocol (Fetch standard), and the private network
/// access draft's.
const CORS_RESPONSE_HEADERS: [&str; 7] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
    "access-control-allow-private-network",
];

/// Removes them by name: no allocation on the path every request without `Origin` takes.
fn strip_cors_headers(headers: &mut HeaderMap) {
    for name in CORS_RESPONSE_HEADERS {
        headers.remove(name);
    }
}

/// The middleware, for `actix_web::middleware::from_fn`, wrapped around [`cors`].
///
/// # Errors
/// Whatever the inner service fails with (its answer, once rendered, is stripped too).
pub async fn only_allowed_origins(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let disallowed = match (
        request.headers().get(header::ORIGIN),
        request.app_data::<web::Data<AllowedOrigins>>(),
    ) {
        (Some(origin), Some(allowed)) => !allowed.allows(origin),
        (None, _) => true,
        (Some(_), None) => false,
    };
    match next.call(request).await {
        Ok(mut response) => {
            if disallowed {
                strip_cors_headers(response.headers_mut());
            }
            Ok(response)
        }
        Err(mut error) => {
            if disallowed {
                // actix-cors adds its headers when the error is rendered: after it.
                error.add_response_mapper(|mut response| {
                    strip_cors_headers(response.headers_mut());
                    response
                });
            }
            Err(error)
        }
    }
}
