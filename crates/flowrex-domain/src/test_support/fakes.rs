//! The small fakes beside the store: clocks, tokens, a hasher, a sealer, TOTP codes, a
//! failure counter, a mail transport and a relying party.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    CeremonyStart, Clock, CounterError, DeliveryError, FailureCounter, HashError, IssueError,
    MailTransport, OneTimePasswords, OtpError, PasswordHasher, PresentedCredential,
    RegisteredCredential, RelyingParty, Reservation, Sealer, TokenError, TokenIssuer,
    TokenVerifier, UnsealError, WebauthnError,
};
use crate::{
    Assurance, Mail, PasswordAttempt, PasswordHash, SealedSecret, SessionId, TokenKind,
    TokenRequest, TotpProvisioning, TotpSecret, UserId, VerifiedToken,
};

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// "Sealing" that only hex-encodes: enough to see that what is stored is not the plaintext.
#[derive(Debug, Default)]
pub struct PlainSealer;

impl Sealer for PlainSealer {
    fn seal(&self, plaintext: &[u8]) -> SealedSecret {
        SealedSecret::new(format!(
            "plain:{}",
            plaintext
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }

    fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, UnsealError> {
        let hex = sealed.as_str().strip_prefix("plain:").ok_or(UnsealError)?;
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or(UnsealError)
            })
            .collect()
    }
}

/// One-time passwords with RFC 6238's window (30-second steps, one step either way) but a
/// readable code: the step's number, modulo a million, plus the secret's first byte.
#[derive(Debug, Default)]
pub struct StepCodes;

impl StepCodes {
    /// The code of `step` for `secret`.
    pub fn code(secret: &[u8], step: u64) -> String {
        let salt = u64::from(secret.first().copied().unwrap_or(0));
        format!("{:06}", (step + salt) % 1_000_000)
    }

    /// The code of the step `at` falls in.
    pub fn code_at(secret: &[u8], at: DateTime<Utc>) -> String {
        Self::code(secret, step_of(at))
    }
}

fn step_of(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0) / 30
}

impl OneTimePasswords for StepCodes {
    fn provisioning(
        &self,
        secret: &TotpSecret,
        account: &str,
    ) -> Result<TotpProvisioning, OtpError> {
        let hex: String = secret.expose().iter().map(|b| format!("{b:02x}")).collect();
        Ok(TotpProvisioning {
            secret: hex.clone(),
            uri: format!("otpauth://totp/Flowrex:{account}?secret={hex}"),
            qr_svg: "<svg/>".to_owned(),
        })
    }

    fn matching_step(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: DateTime<Utc>,
        after: Option<u64>,
    ) -> Option<u64> {
        let current = step_of(now);
        [current + 1, current, current.saturating_sub(1)]
            .into_iter()
            .filter(|step| after.is_none_or(|last| *step > last))
            .find(|step| Self::code(secret.expose(), *step) == code)
    }
}

/// A transport that keeps what it delivers (or fails while told to).
#[derive(Debug, Default)]
pub struct RecordingTransport {
    delivered: Mutex<Vec<Mail>>,
    down: std::sync::atomic::AtomicBool,
}

impl RecordingTransport {
    /// Every message delivered, in order.
    pub fn delivered(&self) -> Vec<Mail> {
        self.delivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Makes every delivery fail (transiently) until called with `false`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl MailTransport for RecordingTransport {
    async fn deliver(&self, mail: &Mail) -> Result<(), DeliveryError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DeliveryError::Transient(anyhow::anyhow!(
                "the mail server is down"
            )));
        }
        self.delivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(mail.clone());
        Ok(())
    }
}

/// Attempt counts in a map, allowing `max` per key for a fixed minute; no clock.
#[derive(Debug)]
pub struct CountingFailureCounter {
    max: u32,
    counts: Mutex<std::collections::HashMap<String, u32>>,
}

impl CountingFailureCounter {
    /// Allows `max` attempts per key.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            counts: Mutex::default(),
        }
    }

    /// The attempts counted for `key`.
    pub fn count(&self, key: &str) -> u32 {
        self.lock().get(key).copied().unwrap_or(0)
    }

    /// The attempts counted, over every key.
    pub fn total(&self) -> u32 {
        self.lock().values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u32>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl FailureCounter for CountingFailureCounter {
    async fn reserve(&self, key: &str) -> Result<Reservation, CounterError> {
        let mut counts = self.lock();
        let count = counts.entry(key.to_owned()).or_insert(0);
        if *count >= self.max {
            return Ok(Reservation::Full {
                retry_after: std::time::Duration::from_secs(60),
            });
        }
        *count += 1;
        Ok(Reservation::Reserved)
    }

    async fn release(&self, key: &str) -> Result<(), CounterError> {
        if let Some(count) = self.lock().get_mut(key) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), CounterError> {
        self.lock().remove(key);
        Ok(())
    }
}

/// "Hashes" a password by prefixing it: for tests and examples, where bcrypt's cost would
/// only slow them down. **Never for real passwords.** Keeps the port's contract: an unknown
/// user (`None`) verifies as `false`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainHasher;

const PLAIN: &str = "plain$";

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, secret: &str) -> Result<PasswordHash, HashError> {
        Ok(PasswordHash::new(format!("{PLAIN}{secret}")))
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        !hash.as_str().starts_with(PLAIN)
    }

    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a PasswordHash>,
    ) -> Result<bool, HashError> {
        Ok(hash.is_some_and(|hash| {
            hash.as_str()
                .strip_prefix(PLAIN)
                .is_some_and(|plain| plain == attempt.expose())
        }))
    }
}

/// A clock tests can move forward.
#[derive(Debug)]
pub struct SettableClock(Mutex<DateTime<Utc>>);

impl SettableClock {
    /// A clock at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for SettableClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Unsigned, readable tokens (`kind|sub|sid|exp|n`) for tests of the use cases: issued and
/// checked like real ones, minus the cryptography.
#[derive(Debug, Default)]
pub struct PlainTokens {
    issued: std::sync::atomic::AtomicU64,
}

impl TokenIssuer for PlainTokens {
    fn issue(&self, request: &TokenRequest) -> Result<String, IssueError> {
        let n = self
            .issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(format!(
            "{}|{}|{}|{}|{}|{n}",
            request.kind.as_str(),
            request.subject,
            request.session,
            request.expires_at.timestamp(),
            request.assurance.to_stored().replace(' ', "+"),
        ))
    }
}

impl TokenVerifier for PlainTokens {
    fn verify(
        &self,
        token: &str,
        expected: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError> {
        let parts: Vec<&str> = token.split('|').collect();
        let [kind, subject, session, expires_at, amr, _] = parts.as_slice() else {
            return Err(TokenError::Invalid);
        };
        if *kind != expected.as_str() {
            return Err(TokenError::WrongKind);
        }
        let subject = subject
            .parse()
            .map(UserId::new)
            .map_err(|_| TokenError::Invalid)?;
        let session = SessionId::parse(session).ok_or(TokenError::Invalid)?;
        let expires_at = expires_at
            .parse()
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .ok_or(TokenError::Invalid)?;
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            subject,
            kind: expected,
            session,
            expires_at,
            assurance: Assurance::from_stored(&amr.replace('+', " ")),
        })
    }
}

/// A relying party that checks nothing: a registration's credential is whatever `id` the
/// response names (for tests of the use cases around ceremonies, not of WebAuthn itself).
#[derive(Debug, Default)]
pub struct TrustingRelyingParty;

impl RelyingParty for TrustingRelyingParty {
    fn start_registration(
        &self,
        handle: [u8; 16],
        name: &str,
        exclude: &[String],
    ) -> Result<CeremonyStart, WebauthnError> {
        Ok(CeremonyStart {
            options: serde_json::json!({"publicKey": {"user": {"name": name}, "exclude": exclude}}),
            state: format!("registration:{}", handle.len()),
        })
    }

    fn finish_registration(
        &self,
        response: &serde_json::Value,
        _state: &str,
    ) -> Result<RegisteredCredential, WebauthnError> {
        let id = response["id"]
            .as_str()
            .ok_or_else(|| WebauthnError::Rejected(anyhow::anyhow!("no credential id")))?;
        Ok(RegisteredCredential {
            credential_id: id.to_owned(),
            credential: "{}".to_owned(),
        })
    }

    fn start_login(&self) -> Result<CeremonyStart, WebauthnError> {
        Ok(CeremonyStart {
            options: serde_json::json!({"publicKey": {}}),
            state: "login".to_owned(),
        })
    }

    fn presented(
        &self,
        response: &serde_json::Value,
    ) -> Result<PresentedCredential, WebauthnError> {
        let id = response["id"]
            .as_str()
            .ok_or_else(|| WebauthnError::Rejected(anyhow::anyhow!("no credential id")))?;
        Ok(PresentedCredential {
            credential_id: id.to_owned(),
            user_handle: None,
        })
    }

    fn finish_login(
        &self,
        _response: &serde_json::Value,
        _state: &str,
        _credential: &str,
    ) -> Result<Option<String>, WebauthnError> {
        Ok(None)
    }
}
