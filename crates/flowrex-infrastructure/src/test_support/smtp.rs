//! A real SMTP server for tests: `aiosmtpd` (from PyPI) on a spare loopback port, writing
//! every message it accepts into a Maildir of its own, and a reader that parses what it
//! received as MIME (quoted-printable, multipart), the way a mail client would.
//!
//! The Python that runs it is `TEST_SMTP_PYTHON` (`.ci/run` makes a venv with aiosmtpd),
//! else `python3`. A server that does not start fails the test: nothing passes without a
//! real server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use tempfile::TempDir;

use super::spare_port;

/// The variable naming the Python with aiosmtpd installed.
pub const TEST_SMTP_PYTHON: &str = "TEST_SMTP_PYTHON";

/// A private SMTP server, stopped when dropped.
pub struct PrivateSmtp {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

/// One received message, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `To` addresses.
    pub to: Vec<String>,
    /// The `From` header's address.
    pub from: String,
    /// The subject.
    pub subject: String,
    /// The text part, decoded.
    pub text: String,
    /// The HTML part, decoded.
    pub html: String,
}

impl Received {
    /// The `token` query parameter of the first link in the text part.
    pub fn token(&self) -> Option<String> {
        let start = self.text.find("token=")? + "token=".len();
        let token: String = self.text[start..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        (!token.is_empty()).then_some(token)
    }

    /// The first `http(s)://` link of the text part.
    pub fn link(&self) -> Option<String> {
        let start = self.text.find("http")?;
        Some(
            self.text[start..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

impl PrivateSmtp {
    /// Starts a server.
    ///
    /// # Panics
    /// When aiosmtpd does not start (not installed: `pip install aiosmtpd`).
    pub fn start() -> Self {
        let mut server = Self::stopped();
        server.resume();
        server
    }

    /// A server on a reserved port that is not running yet (`resume` starts it).
    ///
    /// # Panics
    /// When no temporary folder can be made, or no port is free.
    pub fn stopped() -> Self {
        Self {
            port: spare_port(),
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
            child: None,
        }
    }

    /// Starts (or restarts) the server on its port and waits until it accepts connections.
    ///
    /// # Panics
    /// When it does not listen within 30 seconds.
    pub fn resume(&mut self) {
        let python = std::env::var(TEST_SMTP_PYTHON).unwrap_or_else(|_| "python3".to_owned());
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} -m aiosmtpd: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "aiosmtpd exited ({status}); install it (`{python} -m pip install aiosmtpd`) or set {TEST_SMTP_PYTHON}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aiosmtpd did not listen on {} within 30 s", self.port);
    }

    /// Kills the server (a real stopped process: connections are refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its URL, for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .flat_map(|sub| read_dir(&self.maildir().join(sub)))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .filter_map(|raw| parse(&raw))
            .collect()
    }

    /// The messages to `to`.
    pub fn messages_to(&self, to: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|address| address.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits until `count` messages to `to` arrived (or `timeout` passed) and returns them.
    pub async fn wait_for(&self, to: &str, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.messages_to(to);
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn read_dir(dir: &Path) -> Vec<(std::time::SystemTime, PathBuf)> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let modified = entry.metadata().ok()?.modified().ok()?;
                    Some((modified, entry.path()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse(raw: &[u8]) -> Option<Received> {
    let message = MessageParser::default().parse(raw)?;
    let addresses = |list: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        list.map(|address| {
            address
                .iter()
                .filter_map(|a| a.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    };
    Some(Received {
        to: addresses(message.to()),
        from: addresses(message.from())
            .into_iter()
            .next()
            .unwrap_or_default(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default(),
    })
}

impl Drop for PrivateSmtp {
    fn drop(&mut self) {
        self.stop();
    }
}
