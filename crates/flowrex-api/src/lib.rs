//! Flowrex's HTTP service: settings ([`settings`]), the composition root
//! ([`startup::Application`]), routes ([`routes`]), middleware ([`middleware`]) and the one
//! [`error::ApiError`]. The binary `flowrex` (`main.rs`) only loads settings, starts
//! telemetry and runs an [`Application`]; the black-box tests build the same one.

pub mod bodies;
pub mod cli;
pub mod client_ip;
pub mod error;
pub mod extractors;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod validation;

pub use settings::{Settings, SettingsError, SettingsSources};
pub use startup::Application;
