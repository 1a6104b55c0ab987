//! Breached passwords by k-anonymity ranges (`PASSWORD_BREACH_CHECK`): a password's SHA-1
//! is split into its first five hex digits, which are asked for, and the other 35, which
//! are looked for in the answer here — so the source never learns the password, nor its
//! hash. The ranges come from a range API (`range-api`: `GET {url}/{PREFIX}`, with padding
//! asked for, as the public Pwned Passwords API) or from a directory of range files
//! (`range-files`: `{dir}/{PREFIX}.txt`, as the public downloader writes them). Both hold
//! `SUFFIX:COUNT` lines; padding lines have a count of 0.
//!
//! Answers are cached for [`CACHE_TTL`], at most [`CACHE_RANGES`] ranges (each up to about
//! 100 KiB parsed), so that what callers can make this hold stays bounded; an answer over
//! 1 MiB is refused. Every ask is bounded in time, and after a range server failed
//! [`FAILURES_BEFORE_BACK_OFF`] times in a row every ask fails at once for [`BACK_OFF`]; files are read on tokio's blocking pool, never on the executor's
//! threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use flowrex_domain::ports::{BreachCheckError, BreachedPasswords};
use sha1::{Digest, Sha1};

/// How long a range is kept.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);
/// How many ranges are kept at most.
pub const CACHE_RANGES: usize = 256;
/// How long every check fails at once after the range server failed
/// [`FAILURES_BEFORE_BACK_OFF`] times in a row.
pub const BACK_OFF: Duration = Duration::from_secs(10);
/// Failures in a row that back the range server off.
pub const FAILURES_BEFORE_BACK_OFF: u32 = 3;
/// The longest range answer read (a padded range is about 40 KiB).
const MAX_RANGE_BYTES: usize = 1 << 20;

/// Where the ranges come from.
#[derive(Debug, Clone)]
pub enum RangeSource {
    /// A range API: `GET {base}/{PREFIX}` (`PASSWORD_BREACH_RANGE_URL`).
    Api {
        /// The base address, without a trailing `/`.
        base: String,
    },
    /// A directory of `PREFIX.txt` files (`PASSWORD_BREACH_RANGE_DIR`).
    Files {
        /// The directory.
        dir: PathBuf,
    },
}

impl RangeSource {
    /// The metric label of the source.
    fn label(&self) -> &'static str {
        match self {
            Self::Api { .. } => "range-api",
            Self::Files { .. } => "range-files",
        }
    }
}

/// A range as kept: the suffixes of count above 0, upper-case, with their counts.
type Range = Arc<HashMap<String, u64>>;

/// The breach check over a [`RangeSource`].
pub struct BreachRanges {
    source: RangeSource,
    client: reqwest::Client,
    timeout: Duration,
    cache: Mutex<HashMap<String, (Instant, Range)>>,
    failures: Mutex<Failures>,
}

/// The range server's failures in a row, and since when it is backed off.
#[derive(Debug, Default)]
struct Failures {
    in_a_row: u32,
    since: Option<Instant>,
}

impl Failures {
    /// Whether asks fail at once now.
    fn backing_off(&self) -> bool {
        self.since.is_some_and(|since| since.elapsed() < BACK_OFF)
    }

    /// One ask's outcome: [`FAILURES_BEFORE_BACK_OFF`] failures in a row back off (and a
    /// failure of the one try after a back-off, again).
    fn record(&mut self, succeeded: bool) {
        if succeeded {
            *self = Self::default();
            return;
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        if self.in_a_row >= FAILURES_BEFORE_BACK_OFF {
            self.since = Some(Instant::now());
        }
    }
}

impl BreachRanges {
    /// A check over `source`, each ask bounded by `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(source: RangeSource, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("flowrex/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("HTTP client for the range API")?;
        Ok(Self {
            source,
            client,
            timeout,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(Failures::default()),
        })
    }

    /// The source asked.
    pub fn source(&self) -> &RangeSource {
        &self.source
    }

    /// The range of `prefix`, from the cache or the source. After the range server failed
    /// [`FAILURES_BEFORE_BACK_OFF`] times in a row, every ask fails at once for
    /// [`BACK_OFF`] (a server that is down costs a timeout per back-off, not one per
    /// password).
    async fn range(&self, prefix: &str) -> anyhow::Result<Range> {
        if let Some(range) = self.cached(prefix) {
            return Ok(range);
        }
        if self
            .failures
            .lock()
            .ok()
            .is_some_and(|failures| failures.backing_off())
        {
            return Err(anyhow!(
                "the range source failed less than {} s ago",
                BACK_OFF.as_secs()
            ));
        }
        let fetched = tokio::time::timeout(self.timeout, self.fetch(prefix))
            .await
            .map_err(|_| anyhow!("no answer within {} ms", self.timeout.as_millis()))
            .and_then(|answer| answer);
        // A range server that keeps failing is backed off; a missing or unreadable range
        // file fails alone.
        if matches!(self.source, RangeSource::Api { .. })
            && let Ok(mut failures) = self.failures.lock()
        {
            failures.record(fetched.is_ok());
        }
        let text = fetched?;
        let range = Arc::new(parse_range(&text));
        self.keep(prefix, range.clone());
        Ok(range)
    }

    /// The range text of `prefix`, from the source.
    async fn fetch(&self, prefix: &str) -> anyhow::Result<String> {
        match &self.source {
            RangeSource::Api { base } => {
                let response = self
                    .client
                    .get(format!("{base}/{prefix}"))
                    .header("Add-Padding", "true")
                    .send()
                    .await
                    .context("range API request")?;
                let status = response.status();
                if !status.is_success() {
                    return Err(anyhow!("range API answered {status}"));
                }
                if response
                    .content_length()
                    .is_some_and(|length| length > MAX_RANGE_BYTES as u64)
                {
                    return Err(anyhow!("range API answer too long"));
                }
                // Read piece by piece, so that an answer without a length is bounded too.
                let mut response = response;
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await.context("range API answer")? {
                    if bytes.len() + chunk.len() > MAX_RANGE_BYTES {
                        return Err(anyhow!("range API answer too long"));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                String::from_utf8(bytes).context("range API answer is not text")
            }
            RangeSource::Files { dir } => {
                let path = dir.join(format!("{prefix}.txt"));
                let size = tokio::fs::metadata(&path)
                    .await
                    .with_context(|| format!("range file {}", path.display()))?
                    .len();
                if size > MAX_RANGE_BYTES as u64 {
                    return Err(anyhow!("range file {} too long", path.display()));
                }
                tokio::fs::read_to_string(&path)
                    .await
                    .with_context(|| format!("range file {}", path.display()))
            }
        }
    }

    fn cached(&self, prefix: &str) -> Option<Range> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(prefix)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, range)| range.clone())
    }

    fn keep(&self, prefix: &str, range: Range) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= CACHE_RANGES {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        if cache.len() >= CACHE_RANGES
            && let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(key, _)| key.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(prefix.to_owned(), (Instant::now(), range));
    }
}

#[async_trait]
impl BreachedPasswords for BreachRanges {
    async fn occurrences(&self, password: &str) -> Result<u64, BreachCheckError> {
        let (prefix, suffix) = split_hash(password);
        let label = self.source.label();
        match self.range(&prefix).await {
            Ok(range) => {
                let count = range.get(&suffix).copied().unwrap_or(0);
                let outcome = if count > 0 { "found" } else { "clean" };
                metrics::counter!("flowrex_password_breach_checks_total", "source" => label, "outcome" => outcome)
                    .increment(1);
                Ok(count)
            }
            Err(error) => {
                metrics::counter!("flowrex_password_breach_checks_total", "source" => label, "outcome" => "error")
                    .increment(1);
                Err(BreachCheckError(error))
            }
        }
    }
}

/// The upper-case hex SHA-1 of `password`, as its 5-digit prefix and 35-digit suffix.
pub fn split_hash(password: &str) -> (String, String) {
    let digest = Sha1::digest(password.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02X}")).collect();
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_owned(), suffix.to_owned())
}

/// The `SUFFIX:COUNT` lines of a range with a count above 0 (padding and garbage left out).
fn parse_range(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (suffix, count) = line.trim().split_once(':')?;
            let count: u64 = count.trim().parse().ok()?;
            (count > 0 && suffix.len() == 35).then(|| (suffix.to_ascii_uppercase(), count))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_splits_as_the_range_api_expects() {
        // The Pwned Passwords documentation's example: "P@ssw0rd".
        let (prefix, suffix) = split_hash("P@ssw0rd");
        assert_eq!(prefix, "21BD1");
        assert_eq!(suffix, "2DC183F740EE76F27B78EB39C8AD972A757");
    }

    #[test]
    fn padding_and_garbage_lines_are_no_breach() {
        let range = parse_range(
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\nnot a line\r\n011053FD0102E94D6AE2F8B83D76FAF94F6:x\r\n",
        );
        assert_eq!(range.len(), 1);
        assert_eq!(range.get("0018A45C4D1DEF81644B54AB7F969B88D65"), Some(&1));
    }

    #[test]
    fn the_range_server_is_backed_off_after_failures_in_a_row_only() {
        let mut failures = Failures::default();
        failures.record(false);
        failures.record(false);
        assert!(!failures.backing_off());
        failures.record(true);
        failures.record(false);
        failures.record(false);
        assert!(!failures.backing_off(), "a success starts the count again");
        failures.record(false);
        assert!(failures.backing_off());
    }

    #[tokio::test]
    async fn files_are_read_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (prefix, suffix) = split_hash("correct horse");
        std::fs::write(
            dir.path().join(format!("{prefix}.txt")),
            format!("{suffix}:42\r\n"),
        )
        .unwrap();
        let check = BreachRanges::new(
            RangeSource::Files {
                dir: dir.path().to_owned(),
            },
            Duration::from_secs(3),
        )
        .unwrap();
        assert_eq!(check.occurrences("correct horse").await.unwrap(), 42);
        assert!(check.occurrences("another one").await.is_err());
    }
}
