//! `flowrex`: the Flowrex authentication service. Configuration comes from the environment,
//! `.env` and `CONFIG_DIR` (see README.md); a bad setting exits with status 2 and one line
//! naming the variable.

use std::process::ExitCode;

use flowrex_api::{Application, Settings, telemetry};

fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("flowrex: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.app_env.is_production());
    actix_web::rt::System::new().block_on(async move {
        let application = match Application::build(settings).await {
            Ok(application) => application,
            Err(error) => {
                tracing::error!("start-up failed: {error:#}");
                eprintln!("flowrex: start-up failed: {error:#}");
                return ExitCode::FAILURE;
            }
        };
        match application.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!("server failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
