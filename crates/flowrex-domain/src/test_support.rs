//! Small hand-written fakes of the ports, for tests and examples of this and other crates
//! (feature `test-support`): [`InMemoryStore`] (users, sessions, account changes, one-time
//! tokens, second factors, passkeys, the audit trail and the mail outbox, as one database
//! holds them all), [`FixedClock`] and [`SettableClock`], [`PlainTokens`], [`PlainHasher`],
//! [`CountingFailureCounter`], [`RecordingTransport`], [`PlainSealer`], [`StepCodes`] and
//! [`TrustingRelyingParty`]; [`in_memory_services`] wires the services over them.
//! They keep the ports' contracts (a taken email, a single winner among concurrent
//! rotations) — [`contracts`] checks them, as it checks every real store — but nothing
//! survives the process.

mod accounts;
pub mod contracts;
pub mod credential_events;
mod fakes;
mod federation;
mod mfa;
mod outbox;
mod passkeys;
mod sessions;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{Clock, QueuedMail, RepositoryError, TotpFactor, UserRepository};
use crate::{
    AuditEvent, AuditFilter, AuditUser, CorePorts, EmailAddress, LoginThrottle, Policies,
    RecordedEvent, ServicePorts, Services, Session, StoredToken, TokenFingerprint, User, UserId,
    UserParts,
};

pub use fakes::{
    CountingFailureCounter, FixedClock, PlainHasher, PlainSealer, PlainTokens, RecordingTransport,
    SettableClock, StepCodes, TrustingRelyingParty,
};
pub use federation::ScriptedProviders;

/// The ports of the [`Services`] over `store` (users, sessions, account changes, factors,
/// passkeys, the audit trail and the directory, as one database holds them), [`PlainHasher`],
/// [`PlainTokens`], [`StepCodes`], [`PlainSealer`], [`TrustingRelyingParty`] and `clock`: the
/// in-memory wiring that tests of the use cases start from.
pub fn in_memory_ports(store: &Arc<InMemoryStore>, clock: Arc<dyn Clock>) -> ServicePorts {
    let tokens = Arc::new(PlainTokens::default());
    ServicePorts {
        core: CorePorts {
            users: store.clone(),
            sessions: store.clone(),
            accounts: store.clone(),
            factors: store.clone(),
            passkeys: store.clone(),
            federation: store.clone(),
            hasher: Arc::new(PlainHasher),
            issuer: tokens.clone(),
            verifier: tokens,
            clock,
            audit: store.clone(),
        },
        otp: Arc::new(StepCodes),
        sealer: Arc::new(PlainSealer),
        relying_party: Arc::new(TrustingRelyingParty),
        directory: store.clone(),
        providers: Arc::new(ScriptedProviders::default()),
    }
}

/// The four services over [`in_memory_ports`], following `policies`.
pub fn in_memory_services(
    store: &Arc<InMemoryStore>,
    clock: Arc<dyn Clock>,
    policies: Policies,
) -> Services {
    Services::new(in_memory_ports(store, clock), policies)
}

/// A login throttle of two [`CountingFailureCounter`]s: `per_client` failures per client and
/// account, `per_account` per account.
pub fn counting_throttle(per_client: u32, per_account: u32) -> LoginThrottle {
    LoginThrottle {
        per_client: Some(Arc::new(CountingFailureCounter::new(per_client))),
        per_account: Some(Arc::new(CountingFailureCounter::new(per_account))),
    }
}

/// Users and sessions in memory, with the real stores' rules: one database, so that
/// [`SessionStore::find_active_user`](crate::ports::SessionStore::find_active_user) sees the users as the real join does.
#[derive(Debug)]
pub struct InMemoryStore {
    users: Mutex<Vec<User>>,
    sessions: Mutex<Vec<Session>>,
    tokens: Mutex<Vec<TokenRow>>,
    outbox: Mutex<Vec<OutboxRow>>,
    events: Mutex<Vec<RecordedEvent>>,
    factors: Mutex<Factors>,
    passkeys: Mutex<Passkeys>,
    federated: Mutex<federation::Federated>,
    throttled: Mutex<crate::ThrottleTally<()>>,
    announced: Mutex<Vec<crate::AccountEvent>>,
    email_logins: Mutex<Vec<crate::StoredEmailLogin>>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self {
            users: Mutex::default(),
            sessions: Mutex::default(),
            tokens: Mutex::default(),
            outbox: Mutex::default(),
            events: Mutex::default(),
            factors: Mutex::default(),
            passkeys: Mutex::default(),
            federated: Mutex::default(),
            throttled: Mutex::new(crate::ThrottleTally::new(1000)),
            announced: Mutex::default(),
            email_logins: Mutex::default(),
        }
    }
}

/// Passkeys and ceremony states as the store keeps them.
#[derive(Debug, Default, Clone)]
struct Passkeys {
    stored: Vec<crate::ports::StoredPasskey>,
    /// (fingerprint, kind, state, expires at)
    ceremonies: Vec<(
        TokenFingerprint,
        crate::ports::CeremonyKind,
        crate::ports::CeremonyState,
        DateTime<Utc>,
    )>,
    next_id: i64,
}

/// Second factors as the store keeps them.
#[derive(Debug, Default, Clone)]
struct Factors {
    totp: Vec<TotpFactor>,
    /// (user, fingerprint, used)
    recovery: Vec<(UserId, TokenFingerprint, bool)>,
    challenges: Vec<ChallengeRow>,
    next_id: i64,
}

#[derive(Debug, Clone)]
struct ChallengeRow {
    id: i64,
    user: UserId,
    stamp: crate::SecurityStamp,
    first: crate::AuthMethod,
    fingerprint: TokenFingerprint,
    expires_at: DateTime<Utc>,
    tries: u32,
    used: bool,
}

impl InMemoryStore {
    /// Adds a user as stored, bypassing the service (to set flags such as `is_active`).
    pub fn push(&self, parts: UserParts) {
        self.lock().push(parts.into());
    }

    /// Activates or deactivates a stored user.
    pub fn set_active(&self, id: UserId, active: bool) {
        for user in self.lock().iter_mut().filter(|u| u.id() == id) {
            let mut parts = user.to_parts();
            parts.is_active = active;
            *user = parts.into();
        }
    }

    /// Every session, in creation order.
    pub fn sessions(&self) -> Vec<Session> {
        self.lock_sessions().clone()
    }

    /// Writes the counted throttled logins, one event per key and window, as an adapter
    /// does when their windows end or the service stops.
    pub fn flush_throttled(&self) {
        let ended = self.lock_throttled().take_ended(None);
        let at = Utc::now();
        self.append(
            ended.into_iter().map(|(event, ())| event).collect(),
            None,
            at,
        );
    }

    fn lock_throttled(&self) -> std::sync::MutexGuard<'_, crate::ThrottleTally<()>> {
        self.throttled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every audit event's action, oldest first.
    pub fn actions(&self) -> Vec<String> {
        self.lock_events()
            .iter()
            .map(|e| e.action.clone())
            .collect()
    }

    fn lock_events(&self) -> std::sync::MutexGuard<'_, Vec<RecordedEvent>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `events`, `inserted` standing for [`AuditUser::Inserted`].
    fn append(&self, events: Vec<AuditEvent>, inserted: Option<UserId>, at: DateTime<Utc>) {
        let users = self.lock().clone();
        let who = |user: Option<AuditUser>| match user? {
            AuditUser::User(id) => Some(id),
            AuditUser::Inserted => inserted,
            AuditUser::Address(email) => users.iter().find(|u| u.email() == &email).map(User::id),
        };
        let mut stored = self.lock_events();
        for event in events {
            if matches!(&event.subject, Some(AuditUser::Address(_)))
                && who(event.subject.clone()).is_none()
            {
                continue;
            }
            let id = i64::try_from(stored.len()).unwrap_or(i64::MAX) + 1;
            stored.push(RecordedEvent {
                id,
                action: event.action.as_str().to_owned(),
                created_at: at,
                actor: who(event.actor.clone()),
                subject: who(event.subject.clone()),
                session: event.session.map(|s| s.as_str().to_owned()),
                ip: None,
                user_agent: None,
                request_id: None,
                details: serde_json::Value::Object(event.details),
            });
        }
    }

    fn lock_factors(&self) -> std::sync::MutexGuard<'_, Factors> {
        self.factors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fingerprints of the user's unused recovery codes.
    pub fn unused_recovery_codes(&self, user: UserId) -> usize {
        self.lock_factors()
            .recovery
            .iter()
            .filter(|(owner, _, used)| *owner == user && !used)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<User>> {
        // A poisoned lock only means another test thread panicked; the data is still usable.
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl UserRepository for InMemoryStore {
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, RepositoryError> {
        Ok(self.lock().iter().find(|u| u.email() == email).cloned())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.lock().iter().find(|u| u.id() == id).cloned())
    }
}

#[async_trait]
impl crate::ports::UserDirectory for InMemoryStore {
    async fn list(
        &self,
        filter: &crate::ports::UserFilter,
        before: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<User>, RepositoryError> {
        let needle = filter.email_contains.as_deref().map(str::to_lowercase);
        let mut users: Vec<User> = self
            .lock()
            .iter()
            .filter(|u| before.is_none_or(|before| u.id().get() < before.get()))
            .filter(|u| {
                needle
                    .as_deref()
                    .is_none_or(|n| u.email().as_str().to_lowercase().contains(n))
            })
            .filter(|u| filter.is_active.is_none_or(|v| u.is_active() == v))
            .filter(|u| filter.is_verified.is_none_or(|v| u.is_verified() == v))
            .filter(|u| filter.is_superuser.is_none_or(|v| u.is_superuser() == v))
            .cloned()
            .collect();
        users.sort_by_key(|u| std::cmp::Reverse(u.id().get()));
        users.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(users)
    }
}

#[async_trait]
impl crate::ports::AuditLog for InMemoryStore {
    async fn record(&self, event: AuditEvent) {
        self.append(vec![event], None, Utc::now());
    }

    /// Counted until [`InMemoryStore::flush_throttled`] (the windows' end, or the
    /// service stopping): then one event per key and window.
    async fn count_throttled(&self, refused: crate::ThrottledLogin) {
        self.lock_throttled().count(refused, || ());
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, RepositoryError> {
        let mut events: Vec<RecordedEvent> = self
            .lock_events()
            .iter()
            .filter(|e| before.is_none_or(|before| e.id < before))
            .filter(|e| {
                filter
                    .user
                    .is_none_or(|u| e.actor == Some(u) || e.subject == Some(u))
            })
            .filter(|e| filter.subject.is_none_or(|u| e.subject == Some(u)))
            .filter(|e| filter.action.is_none_or(|a| e.action == a.as_str()))
            .filter(|e| filter.since.is_none_or(|t| e.created_at >= t))
            .filter(|e| filter.until.is_none_or(|t| e.created_at < t))
            .cloned()
            .collect();
        events.reverse();
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(events)
    }

    async fn purge_before(
        &self,
        before: DateTime<Utc>,
        batch: u64,
    ) -> Result<u64, RepositoryError> {
        let mut events = self.lock_events();
        let old = events
            .iter()
            .filter(|e| e.created_at < before)
            .count()
            .min(usize::try_from(batch).unwrap_or(usize::MAX));
        events.drain(..old);
        Ok(old as u64)
    }
}

/// A stored one-time token and its fingerprint.
#[derive(Debug, Clone)]
struct TokenRow {
    token: StoredToken,
    fingerprint: TokenFingerprint,
}

/// A queued message and its delivery state.
#[derive(Debug, Clone)]
struct OutboxRow {
    queued: QueuedMail,
    due: DateTime<Utc>,
    leased_until: Option<DateTime<Utc>>,
    sent: bool,
    given_up: bool,
}
