//! Cross-cutting HTTP behaviour: CSRF header rule, rate limiting, JSON error bodies.

pub mod csrf;
pub mod json_errors;
pub mod observe;
pub mod rate_limit;
