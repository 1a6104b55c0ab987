//! Cross-cutting HTTP behaviour: CORS, CSRF header rule, rate limiting, JSON error bodies,
//! request ids and access logs.

pub mod cors;
pub mod csrf;
pub mod head;
pub mod json_errors;
pub mod observe;
pub mod rate_limit;
