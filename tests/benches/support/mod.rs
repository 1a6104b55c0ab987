//! What the timing benchmarks share: the median, and a `main` that runs one on a tokio
//! runtime and turns its verdict into the exit status.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

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
