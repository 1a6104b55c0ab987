//! Per-client-IP rate limiting with actix-governor, answering 429 as JSON with a
//! `Retry-After` rounded up to whole seconds (never 0).

use std::net::IpAddr;

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, PeerIpKeyExtractor,
    SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde_json::json;

/// Rate-limit key: the peer's IP address (IPv6 by /56 prefix), as actix-governor's
/// [`PeerIpKeyExtractor`], with the SPEC's JSON 429.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    per_minute: u32,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, request: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        PeerIpKeyExtractor.extract(request)
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .insert_header((RETRY_AFTER, seconds.max(1)))
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(
                json!({ "detail": format!("Rate limit exceeded: {} per 1 minute", self.per_minute) })
                    .to_string(),
            )
    }
}

/// The limiter state, shared by every worker. `None` when the limit is off (0).
pub type RateLimitConfig = GovernorConfig<ClientIp, NoOpMiddleware<QuantaInstant>>;

/// `per_minute` requests per minute per client, in bursts of up to `per_minute`.
pub fn per_minute(per_minute: u32) -> Option<RateLimitConfig> {
    if per_minute == 0 {
        return None;
    }
    GovernorConfigBuilder::default()
        .requests_per_minute(u64::from(per_minute))
        .burst_size(per_minute)
        .key_extractor(ClientIp { per_minute })
        .finish()
}
