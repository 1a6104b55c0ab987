//! What the process tests share: the built binary, children killed when a test ends,
//! starting a server and waiting for its port, and headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use flowrex_infrastructure::test_support::spare_port;
use flowrex_infrastructure::test_support::wait_for_port;

/// The `flowrex` binary cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_flowrex");

/// Debian's Chromium, which the browser tests drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A child process, killed when the test ends, whatever happens.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` in `dir` with its output discarded, and waits (20 s at most) until it
/// accepts connections on `port`.
pub fn start_quiet(command: &mut Command, dir: &Path, port: u16) -> Running {
    let running = Running(
        command
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the program did not start"),
    );
    wait_for_port(port, "the server", Duration::from_secs(20));
    running
}

/// Headless Chromium, driven over the DevTools protocol.
pub fn browser(profile: &Path) -> headless_chrome::Browser {
    let options = headless_chrome::LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .sandbox(false)
        .headless(true)
        .user_data_dir(Some(profile.to_path_buf()))
        .idle_browser_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    headless_chrome::Browser::new(options)
        .unwrap_or_else(|e| panic!("{CHROMIUM} (install Debian's chromium): {e}"))
}

/// Saves what `tab` shows as a PNG at `path`, for whoever wants to look.
pub fn screenshot(tab: &headless_chrome::Tab, path: &Path) {
    let png = tab
        .capture_screenshot(
            headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption::Png,
            None,
            None,
            true,
        )
        .unwrap();
    std::fs::write(path, png).unwrap();
}
