//! Flowrex's HTTP service. Reading order:
//!
//! 1. [`settings`]: every setting, declared once per section, checked into the adapters'
//!    configurations;
//! 2. [`startup`]: the composition root — adapters, then the four services, then the
//!    server ([`Application::build`]);
//! 3. [`routes`]: one file per endpoint (handler, body parser, body schema), with the
//!    [`extract`]ors that do per-request work once and the [`middleware`] around them;
//! 4. [`error::ApiError`]: every failure's status and `{"detail": …}` body.
//!
//! The binary `flowrex` (`main.rs`) loads settings, starts telemetry and runs a command
//! ([`cli`]); the black-box tests build the same [`Application`].

#[cfg(test)]
#[macro_use]
extern crate assert_matches;

pub mod cli;
pub mod client_ip;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod validation;

pub use settings::{Settings, SettingsError, SettingsSources};
pub use startup::Application;
