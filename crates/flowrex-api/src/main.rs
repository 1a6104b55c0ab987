//! `flowrex`: the Flowrex authentication service and its operator commands (`serve`, the
//! default; `migrate`; `user create|deactivate`; `config check`). Configuration comes from
//! the environment, `.env` and `CONFIG_DIR` (see README.md); a bad setting exits with
//! status 2 and one line naming the variable.

use std::process::ExitCode;

use clap::Parser;
use flowrex_api::cli::{self, Cli, Command};
use flowrex_api::startup::ConfigurationError;
use flowrex_api::{Settings, telemetry};

fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("flowrex: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.env.is_production_like());
    actix_web::rt::System::new().block_on(async move {
        match cli::run(settings, command).await {
            Ok(code) => code,
            Err(error) => {
                tracing::error!("{error:#}");
                // Settings that cannot work together exit as a bad value does.
                if let Some(config) = ConfigurationError::find(&error) {
                    eprintln!("flowrex: configuration error: {config}");
                    return ExitCode::from(2);
                }
                eprintln!("flowrex: {error:#}");
                ExitCode::FAILURE
            }
        }
    })
}
