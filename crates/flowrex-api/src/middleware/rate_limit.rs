//! SPEC's rate limit: `RATE_LIMIT_PER_MINUTE` requests per minute per client (its
//! [`flowrex_domain::ClientKey`], computed here once for the request), answered with 429
//! JSON and a `Retry-After` rounded up to whole seconds (never 0). The counting is a
//! [`RateLimiter`] port: in process by default, shared through Redis when `REDIS_URL` is
//! set (falling back to in-process counting while Redis is down).

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use flowrex_infrastructure::rate_limit::{RateDecision, RateLimiter};

use crate::error::ApiError;
use crate::extract::Client;

/// The per-client limiter, as app data.
pub struct ClientRateLimit(pub Arc<dyn RateLimiter>);

/// Paths that are never limited: the readiness probe must report the dependencies'
/// state to orchestrators, not a 429. (`/health` stays limited, as in the original.)
const EXEMPT_PATHS: [&str; 2] = ["/health/ready", "/metrics"];

/// The middleware, for `actix_web::middleware::from_fn`. A store failure lets the request
/// through (the limiter has already fallen back where it can).
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn limit_per_client(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limiter = request
        .app_data::<web::Data<ClientRateLimit>>()
        .filter(|_| !EXEMPT_PATHS.contains(&request.path()))
        .map(|limit| Arc::clone(&limit.0));
    if let Some(limiter) = limiter {
        let key = Client::key_of(request.request());
        match limiter.hit(key.as_str()).await {
            Ok(RateDecision::Allowed) => {}
            Ok(RateDecision::Limited { retry_after }) => {
                metrics::counter!("flowrex_rate_limited_total", "limiter" => "ip").increment(1);
                let error = ApiError::RateLimited {
                    retry_after,
                    per_minute: limiter.quota().max,
                };
                return Ok(request
                    .into_response(error.error_response())
                    .map_into_right_body());
            }
            Err(error) => tracing::warn!(%error, "rate limit not checked"),
        }
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}
