//! What the timing benchmarks share: starting the real server and registering an account,
//! the median, and a `main` that runs one on a tokio runtime and turns its verdict into the
//! exit status.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use flowrex_api::{Application, SettingsSources};
use serde_json::json;

/// The password of every account a benchmark registers.
pub const PASSWORD: &str = "Right1234";

/// A SQLite database `bench.db` in `dir`, created on first use.
#[allow(dead_code)] // not every benchmark keeps its database there
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("bench.db").display())
}

/// Starts the real server on `database_url` with the benchmarks' settings (`APP_ENV=test`,
/// bcrypt cost 4, no rate limit) overridden by `vars`: its base URL.
pub async fn start(database_url: &str, vars: &[(&str, &str)]) -> anyhow::Result<String> {
    let defaults = [
        ("APP_ENV", "test"),
        ("JWT_SECRET_KEY", "bench-secret"),
        ("APP_SECRET_KEY", "bench-app-secret"),
        ("DATABASE_URL", database_url),
        ("PORT", "0"),
        ("BCRYPT_COST", "4"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
    ];
    let settings = SettingsSources::only(defaults.iter().chain(vars).copied()).load()?;
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(base)
}

/// Registers `email` with [`PASSWORD`]; an error unless the answer is 201.
pub async fn register(client: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<()> {
    let response = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    anyhow::ensure!(response.status().as_u16() == 201, "registering {email}");
    Ok(())
}

/// The median of `samples` (zero for none).
#[allow(dead_code)] // each benchmark compiles this module; not all take medians
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Runs `bench` on a multi-threaded runtime: success when it returns `Ok(true)`, failure
/// when a bound was missed (`Ok(false)`) or it could not run (printed as `name: error`).
pub fn main_of<F>(name: &str, bench: F) -> ExitCode
where
    F: Future<Output = anyhow::Result<bool>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("{name}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
