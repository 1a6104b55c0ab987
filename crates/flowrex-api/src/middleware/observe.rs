//! Per-request observability: a request id (the client's `X-Request-Id` when it is sane,
//! a new UUID otherwise) echoed in the answer and attached to every log line of the request;
//! one access-log line (target `flowrex::access`: method, route, status, latency); and the
//! HTTP metrics. The request's origin (client address, user agent, request id) is set for
//! the audit events its handling writes.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use flowrex_infrastructure::audit::{Origin, with_origin};
use metrics::Label;
use tracing::Instrument;

use crate::extract::Client;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's request id if it is short and printable (it goes into logs), else a new one.
fn request_id(request: &ServiceRequest) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The method as a metrics label: the standard ones by name, any other `OTHER`, so that a
/// client inventing methods cannot create new series (each costs memory for the process's
/// lifetime).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The middleware, for `actix_web::middleware::from_fn`.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&request);
    let method = method_label(request.method());
    let span = tracing::info_span!("request", request_id = %id, method);
    let origin = Origin {
        ip: Client::ip_of(request.request()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned),
        request_id: Some(id.clone()),
    };
    let started = Instant::now();
    let mut response = with_origin(origin, next.call(request).instrument(span.clone())).await?;
    let elapsed = started.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("http_responses_total", "class" => class).increment(1);
    tracing::info!(
        target: "flowrex::access",
        parent: &span,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1e3,
        "request"
    );
    // Labels by value: the registry keeps them without copying them again.
    let method = Label::from_static_parts("method", method);
    metrics::histogram!(
        "http_request_duration_seconds",
        vec![method.clone(), Label::new("route", route.clone())]
    )
    .record(elapsed.as_secs_f64());
    metrics::counter!(
        "http_requests_total",
        vec![
            method,
            Label::new("route", route),
            Label::new("status", status.to_string()),
        ]
    )
    .increment(1);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}
