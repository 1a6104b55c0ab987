//! bcrypt password hashing, off the async executor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use flowrex_domain::ports::{HashError, PasswordHasher};
use flowrex_domain::{PasswordAttempt, PasswordHash};
use thread_priority::{ThreadPriority, set_current_thread_priority};
use tokio::sync::oneshot;

/// bcrypt's own bounds on the cost (the crate keeps its constants private).
const MIN_COST: u32 = 4;
const MAX_COST: u32 = 31;

/// bcrypt at a configured cost (12 by default, as the original's passlib).
///
/// Hashing runs on a pool of its own — one thread per CPU, at the lowest OS scheduling
/// priority (nice 19) — never on an executor thread. Hashing therefore uses every idle
/// cycle, yet yields the CPU to request handling at once: a login flood cannot slow
/// `/health` or `/me` down. Jobs queue in the pool; a job whose request has gone away is
/// skipped.
#[derive(Clone)]
pub struct BcryptHasher {
    cost: u32,
    /// A well-formed hash at `cost` that matches no password, verified when the email is
    /// unknown so that it costs the same as a wrong password.
    dummy: Arc<str>,
    pool: HashingPool,
}

type Job = Box<dyn FnOnce() + Send>;

/// Low-priority worker threads fed through one queue.
#[derive(Clone)]
struct HashingPool {
    jobs: mpsc::Sender<Job>,
    /// Jobs run to the end (observability and tests).
    done: Arc<AtomicU64>,
}

impl HashingPool {
    fn new(workers: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("bcrypt-{n}"))
                .spawn(move || {
                    if let Err(error) = set_current_thread_priority(ThreadPriority::Min) {
                        tracing::debug!(?error, "hashing thread keeps the normal priority");
                    }
                    loop {
                        // The lock is held only to take a job, not to run it.
                        let job = match queue.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every hasher is gone
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a hashing thread");
            }
        }
        Self {
            jobs,
            done: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// The cost is outside bcrypt's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {MIN_COST} and {MAX_COST}, got {0}")]
pub struct InvalidCost(pub u32);

/// A bcrypt cost within bcrypt's range: the one place that range is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BcryptCost(u32);

impl BcryptCost {
    /// `cost` if bcrypt accepts it.
    ///
    /// # Errors
    /// [`InvalidCost`] outside 4..=31.
    pub fn new(cost: u32) -> Result<Self, InvalidCost> {
        if (MIN_COST..=MAX_COST).contains(&cost) {
            Ok(Self(cost))
        } else {
            Err(InvalidCost(cost))
        }
    }

    /// The cost.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The hasher's worker threads could not make their first hash.
#[derive(Debug, thiserror::Error)]
#[error("bcrypt failed to start: {0}")]
pub struct HasherStartError(#[source] bcrypt::BcryptError);

impl BcryptHasher {
    /// A hasher at `cost`, with its pool of worker threads.
    ///
    /// # Errors
    /// [`HasherStartError`] if bcrypt cannot hash at all.
    pub fn new(cost: BcryptCost) -> Result<Self, HasherStartError> {
        let cost = cost.get();
        // A cheap hash at the minimum cost, relabelled with the real cost: verifying against
        // it runs the full `cost` rounds, without paying them once at start-up.
        let cheap = bcrypt::hash("flowrex-dummy-password", MIN_COST).map_err(HasherStartError)?;
        let dummy = cheap.replacen(&format!("${MIN_COST:02}$"), &format!("${cost:02}$"), 1);
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            cost,
            dummy: dummy.into(),
            pool: HashingPool::new(workers),
        })
    }

    /// The configured cost.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// How many hashes and verifications the pool has run to the end.
    pub fn jobs_done(&self) -> u64 {
        self.pool.done.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let span = tracing::Span::current();
        let finished = Arc::clone(&self.pool.done);
        let job: Job = Box::new(move || {
            if done.is_closed() {
                return; // the request was dropped while queued: no work for nobody
            }
            let started = std::time::Instant::now();
            let outcome = span.in_scope(work);
            metrics::histogram!("flowrex_bcrypt_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            finished.fetch_add(1, Ordering::Relaxed);
            let _ = done.send(outcome);
        });
        self.pool
            .jobs
            .send(job)
            .map_err(|_| HashError(anyhow!("the hashing pool is gone")))?;
        result
            .await
            .context("bcrypt worker failed")
            .map_err(HashError)?
            .map_err(|e| HashError(anyhow!(e)))
    }
}

/// The cost of a modular-crypt bcrypt hash (`$2b$12$…`, also `$2a$`/`$2y$`), if it is one.
fn stored_cost(hash: &str) -> Option<u32> {
    let mut fields = hash.split('$');
    let (empty, version, cost) = (fields.next()?, fields.next()?, fields.next()?);
    let is_bcrypt = empty.is_empty() && matches!(version, "2a" | "2b" | "2x" | "2y");
    is_bcrypt.then(|| cost.parse().ok()).flatten()
}

impl std::fmt::Debug for BcryptHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcryptHasher")
            .field("cost", &self.cost)
            .finish()
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, secret: &str) -> Result<PasswordHash, HashError> {
        let secret = secret.to_owned();
        let cost = self.cost;
        self.run(move || bcrypt::hash(secret, cost))
            .await
            .map(PasswordHash::new)
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        stored_cost(hash.as_str()) != Some(self.cost)
    }

    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, HashError> {
        let secret = attempt.expose().to_owned();
        let known = hash.is_some();
        let stored: Arc<str> = match hash {
            Some(hash) => hash.as_str().into(),
            None => self.dummy.clone(),
        };
        let matches = self.run(move || bcrypt::verify(secret, &stored)).await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> BcryptHasher {
        BcryptHasher::new(BcryptCost::new(4).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = hasher();
        let hash = hasher.hash("Test1234").await;
        let hash = hash.unwrap();
        assert!(hash.as_str().starts_with("$2b$04$"));
        let right = hasher
            .verify(&PasswordAttempt::new("Test1234".into()), Some(&hash))
            .await;
        let wrong = hasher
            .verify(&PasswordAttempt::new("Test12345".into()), Some(&hash))
            .await;
        assert_matches!(right, Ok(true));
        assert_matches!(wrong, Ok(false));
    }

    /// Made by the original service's stack: Python 3.11, passlib 1.7.4 with bcrypt 4.0.1,
    /// `CryptContext(schemes=["bcrypt"]).hash(...)` (cost 12, passlib's default).
    const PASSLIB_TEST1234: &str = "$2b$12$53bKYujvn6hfO17ca2dZAOfSyt0zPJ8hr3gcAZm.R/Na0v9r5ca82";
    const PASSLIB_UNICODE: &str = "$2b$12$7mmTNdXMFnlx6SiHYikFEuGbURMFQMYVVOsudYSaYV2S2UFN/Z5yO";

    #[tokio::test]
    async fn hashes_made_by_the_original_passlib_service_verify() {
        let hasher = BcryptHasher::new(BcryptCost::new(12).unwrap()).unwrap();
        for (password, stored) in [
            ("Test1234", PASSLIB_TEST1234),
            ("Pässwörd1€", PASSLIB_UNICODE),
        ] {
            let stored = PasswordHash::new(stored.to_owned());
            let right = hasher
                .verify(&PasswordAttempt::new(password.into()), Some(&stored))
                .await;
            assert_matches!(
                right,
                Ok(true),
                "{password} verifies against passlib's hash"
            );
            let wrong = hasher
                .verify(&PasswordAttempt::new("Test12345".into()), Some(&stored))
                .await;
            assert_matches!(wrong, Ok(false));
            assert!(!hasher.needs_rehash(&stored), "same cost: kept");
        }
    }

    #[test]
    fn hashes_of_another_cost_need_a_rehash() {
        let hasher = hasher();
        assert!(hasher.needs_rehash(&PasswordHash::new(PASSLIB_TEST1234.to_owned())));
        assert!(hasher.needs_rehash(&PasswordHash::new("plaintext".to_owned())));
        assert!(!hasher.needs_rehash(&PasswordHash::new(format!("$2b$04${}", "x".repeat(53)))));
        assert_eq!(stored_cost("$2y$10$abc"), Some(10));
        assert_eq!(stored_cost("$argon2id$v=19$m=65536"), None);
    }

    #[tokio::test]
    async fn an_unknown_user_never_matches_but_costs_a_full_verify() {
        let hasher = BcryptHasher::new(BcryptCost::new(6).unwrap()).unwrap();
        // The dummy is a well-formed hash at the configured cost (bcrypt runs its 2^6 rounds
        // on it and finds no match; a malformed one would be an error, not `false`)...
        assert!(
            hasher.dummy.starts_with("$2b$06$"),
            "dummy at the configured cost"
        );
        assert_eq!(
            bcrypt::verify("flowrex-dummy-password", &hasher.dummy).ok(),
            Some(false)
        );
        // ...and an unknown user's verification really runs on the pool against it.
        let before = hasher.jobs_done();
        let result = hasher
            .verify(&PasswordAttempt::new("flowrex-dummy-password".into()), None)
            .await;
        assert_matches!(result, Ok(false));
        assert_eq!(
            hasher.jobs_done(),
            before + 1,
            "one bcrypt verification ran"
        );
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_match() {
        let result = hasher()
            .verify(
                &PasswordAttempt::new("x".into()),
                Some(&PasswordHash::new("nope".into())),
            )
            .await;
        assert!(result.is_err());
    }

    #[test]
    fn costs_outside_bcrypts_range_are_refused() {
        assert_eq!(BcryptCost::new(3), Err(InvalidCost(3)));
        assert_eq!(BcryptCost::new(32), Err(InvalidCost(32)));
        assert_eq!(BcryptCost::new(4).map(BcryptCost::get), Ok(4));
    }
}
