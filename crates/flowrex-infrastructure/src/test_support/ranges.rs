//! Breached-password ranges for tests: a folder of range files made from known passwords
//! in the public downloader's format (`PREFIX.txt`, upper-case hex, `SUFFIX:COUNT` lines
//! with CRLF, padding lines of count 0 around them), and a static range server over such a
//! folder (`GET /range/PREFIX`, as the range API: a real process — Python's standard HTTP
//! server — that can answer slowly, and be stopped).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{spare_port, wait_for_port};
use crate::breach::split_hash;

/// A folder of range files holding `passwords` with their counts; every file also holds
/// padding lines (count 0), and `padding` passwords appear as padding only.
///
/// # Panics
/// When the folder cannot be written.
pub fn range_dir(passwords: &[(&str, u64)], padding: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut files: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    let entries = passwords
        .iter()
        .copied()
        .chain(padding.iter().map(|p| (*p, 0)));
    for (password, count) in entries {
        let (prefix, suffix) = split_hash(password);
        files.entry(prefix).or_default().push((suffix, count));
    }
    for (prefix, mut lines) in files {
        // Unrelated suffixes around the real ones, as a range holds hundreds.
        for n in 0..20u64 {
            lines.push((format!("{n:035X}"), n % 3));
        }
        lines.sort();
        let mut text = String::new();
        for (suffix, count) in lines {
            let _ = write!(text, "{suffix}:{count}\r\n");
        }
        write_file(dir.path(), &format!("{prefix}.txt"), &text);
    }
    dir
}

fn write_file(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// The range server (`range_server.py`, also run by `bench/breach.sh`).
const SERVER: &str = include_str!("range_server.py");

/// A static range server over a folder of range files, killed when dropped.
pub struct RangeServer {
    port: u16,
    child: Option<Child>,
}

impl RangeServer {
    /// Serves `dir`, each answer after `delay`.
    ///
    /// # Panics
    /// When `python3` cannot start or the server does not listen within 30 s.
    pub fn start(dir: &Path, delay: Duration) -> Self {
        let port = spare_port();
        let child = Command::new("python3")
            .args(["-c", SERVER])
            .arg(port.to_string())
            .arg(dir)
            .arg(delay.as_secs_f64().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 range server: {e}"));
        wait_for_port(port, "the range server", Duration::from_secs(30));
        Self {
            port,
            child: Some(child),
        }
    }

    /// The base URL, for `PASSWORD_BREACH_RANGE_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/range", self.port)
    }

    /// Kills the server (a stopped process: connections are refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RangeServer {
    fn drop(&mut self) {
        self.stop();
    }
}
