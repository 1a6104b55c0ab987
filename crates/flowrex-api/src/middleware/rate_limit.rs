//! SPEC's rate limit: `RATE_LIMIT_PER_MINUTE` requests per minute per client IP, answered
//! with 429 JSON and a `Retry-After` rounded up to whole seconds (never 0). The counting is
//! a [`RateLimiter`] port: in process by default, shared through Redis when `REDIS_URL` is
//! set (falling back to in-process counting while Redis is down).

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use flowrex_domain::ports::{RateDecision, RateLimiter};

use crate::client_ip;
use crate::error::ApiError;

/// The per-client limiter, as app data.
pub struct ClientRateLimit(pub Arc<dyn RateLimiter>);

/// The rate-limit key of a client: its IP address, IPv6 by /56 prefix (one customer's
/// network), as actix-governor's peer-IP extractor keys it.
pub fn client_key(client: Option<IpAddr>) -> String {
    match client {
        Some(IpAddr::V6(ip)) => {
            let mut octets = ip.octets();
            octets[7..].fill(0);
            IpAddr::from(octets).to_string()
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

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
        let client = client_ip::of_request(request.request());
        match limiter.hit(&client_key(client)).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_keyed_by_ip_and_ipv6_by_prefix() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client_key(Some(v4)), "203.0.113.7");
        let a: IpAddr = "2001:db8:1:2:3:4:5:6"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: IpAddr = "2001:db8:1:2:ff:4:5:6"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        assert_eq!(client_key(None), "unknown");
    }
}
