//! Small hand-written fakes of the ports, for tests and examples of this and other crates
//! (feature `test-support`): [`InMemoryStore`] (users, sessions, one-time tokens and the
//! mail outbox, as one database holds them all), [`FixedClock`] and [`SettableClock`],
//! [`PlainTokens`], [`PlainHasher`], [`CountingFailureCounter`], [`RecordingTransport`],
//! and for second factors [`PlainSealer`] and [`StepCodes`] (the store keeps factors too).
//! They keep the ports' contracts (a taken email, a single winner among concurrent
//! rotations) but nothing survives the process.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    AccountStore, AccountStoreError, Applied, Changes, Clock, CounterError, DeliveryError,
    FailureCounter, HashError, IssueError, MailTransport, MfaChallenge, MfaStore, MfaStoreError,
    OneTimePasswords, OtpError, OutboxError, OutboxStats, OutboxStore, PasswordHasher, QueuedMail,
    RecoveryCodesChange, RepositoryError, Reservation, Sealer, SessionStore, SessionStoreError,
    TokenError, TokenIssuer, TokenVerifier, TotpChange, TotpFactor, UnsealError, UserRepository,
};
use crate::{
    Assurance, AuditEvent, AuditFilter, AuditUser, EmailAddress, FullName, Mail, PasswordAttempt,
    PasswordHash, RecordedEvent, RevokeReason, SealedSecret, Session, SessionId, StoredToken,
    TokenFingerprint, TokenKind, TokenOwner, TokenPurpose, TokenRequest, TotpProvisioning,
    TotpSecret, User, UserId, UserParts, VerifiedToken,
};

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Users and sessions in memory, with the real stores' rules: one database, so that
/// [`SessionStore::find_active_user`] sees the users as the real join does.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    users: Mutex<Vec<User>>,
    sessions: Mutex<Vec<Session>>,
    tokens: Mutex<Vec<TokenRow>>,
    outbox: Mutex<Vec<OutboxRow>>,
    events: Mutex<Vec<RecordedEvent>>,
    factors: Mutex<Factors>,
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

impl InMemoryStore {
    /// Every message queued so far, delivered or not, in order.
    pub fn queued_mails(&self) -> Vec<Mail> {
        self.lock_outbox()
            .iter()
            .map(|row| row.queued.mail.clone())
            .collect()
    }

    fn lock_tokens(&self) -> std::sync::MutexGuard<'_, Vec<TokenRow>> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_outbox(&self) -> std::sync::MutexGuard<'_, Vec<OutboxRow>> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies `changes` to copies, so that a failing step leaves nothing changed.
    fn apply_now(&self, changes: Changes, at: DateTime<Utc>) -> Result<Applied, AccountStoreError> {
        let mut users = self.lock().clone();
        let mut tokens = self.lock_tokens().clone();
        let mut sessions = self.lock_sessions().clone();
        let mut outbox = self.lock_outbox().clone();
        let mut factors = self.lock_factors().clone();
        if let Some(id) = changes.consume_token {
            let row = tokens
                .iter_mut()
                .find(|row| row.token.id == id && row.token.used_at.is_none())
                .ok_or(AccountStoreError::TokenUsed)?;
            row.token.used_at = Some(at);
        }
        if let Some(change) = changes.totp {
            apply_totp(&mut factors, change)?;
        }
        match changes.recovery_codes {
            Some(RecoveryCodesChange::Replace { user, codes }) => {
                factors.recovery.retain(|(owner, _, _)| *owner != user);
                factors
                    .recovery
                    .extend(codes.into_iter().map(|code| (user, code, false)));
            }
            Some(RecoveryCodesChange::Consume { user, code }) => {
                let row = factors
                    .recovery
                    .iter_mut()
                    .find(|(owner, stored, used)| *owner == user && *stored == code && !used)
                    .ok_or(AccountStoreError::TokenUsed)?;
                row.2 = true;
            }
            None => {}
        }
        if let Some(id) = changes.complete_challenge {
            let row = factors
                .challenges
                .iter_mut()
                .find(|c| c.id == id && !c.used)
                .ok_or(AccountStoreError::TokenUsed)?;
            row.used = true;
        }
        let mut touched = None;
        let mut inserted_id = None;
        if let Some(new) = changes.insert_user {
            if users.iter().any(|u| u.email() == &new.email) {
                return Err(AccountStoreError::EmailTaken);
            }
            let id = UserId::new(i64::try_from(users.len()).unwrap_or(i64::MAX) + 1);
            users.push(
                UserParts {
                    id,
                    email: new.email,
                    password_hash: new.password_hash,
                    full_name: new.full_name.map(FullName::into_inner),
                    is_active: true,
                    is_verified: new.is_verified,
                    is_superuser: new.is_superuser,
                    created_at: new.created_at,
                    updated_at: new.created_at,
                    last_login_at: None,
                }
                .into(),
            );
            touched = Some(id);
            inserted_id = Some(id);
        }
        let password_changed = changes
            .update_user
            .as_ref()
            .filter(|u| u.password_hash.is_some())
            .map(|u| u.id);
        if let Some(update) = changes.update_user {
            if let Some(email) = &update.email
                && users
                    .iter()
                    .any(|u| u.email() == email && u.id() != update.id)
            {
                return Err(AccountStoreError::EmailTaken);
            }
            for user in users.iter_mut().filter(|u| u.id() == update.id) {
                let mut parts = user.to_parts();
                if let Some(hash) = update.password_hash.clone() {
                    parts.password_hash = hash;
                }
                if let Some(email) = update.email.clone() {
                    parts.email = email;
                }
                if let Some(name) = update.full_name.clone() {
                    parts.full_name = name.map(FullName::into_inner);
                }
                if let Some(verified) = update.is_verified {
                    parts.is_verified = verified;
                }
                if let Some(active) = update.is_active {
                    parts.is_active = active;
                }
                if let Some(superuser) = update.is_superuser {
                    parts.is_superuser = superuser;
                }
                parts.updated_at = at;
                *user = parts.into();
            }
            touched = Some(update.id);
        }
        for new in changes.issue_tokens {
            let user = match new.owner {
                TokenOwner::User(id) => id,
                TokenOwner::Inserted => touched.ok_or_else(|| {
                    AccountStoreError::Unexpected(anyhow::anyhow!("no inserted user"))
                })?,
            };
            for row in tokens.iter_mut().filter(|row| {
                row.token.user == user
                    && row.token.purpose == new.purpose
                    && row.token.used_at.is_none()
            }) {
                row.token.used_at = Some(at);
            }
            let id = i64::try_from(tokens.len()).unwrap_or(i64::MAX) + 1;
            tokens.push(TokenRow {
                token: StoredToken {
                    id,
                    user,
                    purpose: new.purpose,
                    expires_at: new.expires_at,
                    used_at: None,
                    new_email: new.new_email,
                },
                fingerprint: new.fingerprint,
            });
        }
        let mut revoked = 0;
        if let Some(user) = changes
            .revoke_sessions
            .as_ref()
            .map(|r| r.user)
            .or(password_changed)
        {
            factors.challenges.retain(|c| c.user != user);
        }
        if let Some(revocation) = changes.revoke_sessions {
            for session in sessions.iter_mut().filter(|s| {
                s.user_id == revocation.user
                    && s.revoked_at.is_none()
                    && revocation.keep.as_ref() != Some(&s.id)
            }) {
                session.revoked_at = Some(at);
                session.revoked_reason = Some(revocation.reason.as_str().to_owned());
                revoked += 1;
            }
        }
        for mail in changes.mails {
            let id = i64::try_from(outbox.len()).unwrap_or(i64::MAX) + 1;
            outbox.push(OutboxRow {
                queued: QueuedMail {
                    id,
                    mail,
                    attempts: 0,
                    queued_at: at,
                },
                due: at,
                leased_until: None,
                sent: false,
                given_up: false,
            });
        }
        if let Some(id) = changes.delete_user {
            users.retain(|u| u.id() != id);
            sessions.retain(|s| s.user_id != id);
            tokens.retain(|row| row.token.user != id);
        }
        if changes.keep_a_superuser && !users.iter().any(|u| u.is_superuser() && u.is_active()) {
            return Err(AccountStoreError::LastSuperuser);
        }
        let user = touched.and_then(|id| users.iter().find(|u| u.id() == id).cloned());
        let inserted = inserted_id;
        *self.lock() = users;
        *self.lock_tokens() = tokens;
        *self.lock_sessions() = sessions;
        *self.lock_outbox() = outbox;
        *self.lock_factors() = factors;
        self.append(changes.audit, inserted, at);
        Ok(Applied { user, revoked })
    }
}

fn apply_totp(factors: &mut Factors, change: TotpChange) -> Result<(), AccountStoreError> {
    match change {
        TotpChange::Enroll { user, secret } => {
            factors.totp.retain(|f| f.user != user || f.active);
            factors.next_id += 1;
            factors.totp.push(TotpFactor {
                id: factors.next_id,
                user,
                secret,
                active: false,
                last_used_step: None,
            });
        }
        TotpChange::Activate { user, factor, step } => {
            if !factors
                .totp
                .iter()
                .any(|f| f.id == factor && f.user == user && !f.active)
            {
                return Err(AccountStoreError::TokenUsed);
            }
            factors.totp.retain(|f| f.user != user || f.id == factor);
            for f in factors.totp.iter_mut().filter(|f| f.id == factor) {
                f.active = true;
                f.last_used_step = Some(step);
            }
        }
        TotpChange::Remove { user } => {
            factors.totp.retain(|f| f.user != user);
            factors.recovery.retain(|(owner, _, _)| *owner != user);
        }
    }
    Ok(())
}

#[async_trait]
impl MfaStore for InMemoryStore {
    async fn totp_factors(&self, user: UserId) -> Result<Vec<TotpFactor>, MfaStoreError> {
        Ok(self
            .lock_factors()
            .totp
            .iter()
            .filter(|f| f.user == user)
            .cloned()
            .collect())
    }

    async fn accept_totp_step(&self, factor: i64, step: u64) -> Result<bool, MfaStoreError> {
        let mut factors = self.lock_factors();
        let Some(row) = factors.totp.iter_mut().find(|f| {
            f.id == factor && f.active && f.last_used_step.is_none_or(|last| last < step)
        }) else {
            return Ok(false);
        };
        row.last_used_step = Some(step);
        Ok(true)
    }

    async fn create_challenge(
        &self,
        user: UserId,
        fingerprint: &TokenFingerprint,
        expires_at: DateTime<Utc>,
        _at: DateTime<Utc>,
    ) -> Result<(), MfaStoreError> {
        let mut factors = self.lock_factors();
        factors.next_id += 1;
        let id = factors.next_id;
        factors.challenges.push(ChallengeRow {
            id,
            user,
            fingerprint: fingerprint.clone(),
            expires_at,
            tries: 0,
            used: false,
        });
        Ok(())
    }

    async fn try_challenge(
        &self,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
        max_tries: u32,
    ) -> Result<Option<MfaChallenge>, MfaStoreError> {
        let mut factors = self.lock_factors();
        let Some(row) = factors.challenges.iter_mut().find(|c| {
            &c.fingerprint == fingerprint && !c.used && c.expires_at > now && c.tries < max_tries
        }) else {
            return Ok(None);
        };
        row.tries += 1;
        Ok(Some(MfaChallenge {
            id: row.id,
            user: row.user,
        }))
    }

    async fn complete_challenge(
        &self,
        id: i64,
        _now: DateTime<Utc>,
    ) -> Result<bool, MfaStoreError> {
        let mut factors = self.lock_factors();
        let Some(row) = factors
            .challenges
            .iter_mut()
            .find(|c| c.id == id && !c.used)
        else {
            return Ok(false);
        };
        row.used = true;
        Ok(true)
    }

    async fn delete_expired_challenges(&self, before: DateTime<Utc>) -> Result<u64, MfaStoreError> {
        let mut factors = self.lock_factors();
        let count = factors.challenges.len();
        factors.challenges.retain(|c| c.expires_at >= before);
        Ok(u64::try_from(count - factors.challenges.len()).unwrap_or(0))
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

#[async_trait]
impl AccountStore for InMemoryStore {
    async fn find_token(
        &self,
        fingerprint: &TokenFingerprint,
        purpose: TokenPurpose,
    ) -> Result<Option<StoredToken>, AccountStoreError> {
        Ok(self
            .lock_tokens()
            .iter()
            .find(|row| &row.fingerprint == fingerprint && row.token.purpose == purpose)
            .map(|row| row.token.clone()))
    }

    async fn apply(
        &self,
        changes: Changes,
        at: DateTime<Utc>,
    ) -> Result<Applied, AccountStoreError> {
        self.apply_now(changes, at)
    }
}

#[async_trait]
impl OutboxStore for InMemoryStore {
    async fn claim(
        &self,
        limit: u64,
        lease: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, OutboxError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut claimed = Vec::new();
        for row in self.lock_outbox().iter_mut().filter(|row| {
            !row.sent
                && !row.given_up
                && row.due <= now
                && row.leased_until.is_none_or(|t| t <= now)
        }) {
            if claimed.len() as u64 >= limit {
                break;
            }
            row.leased_until = Some(until);
            claimed.push(row.queued.clone());
        }
        Ok(claimed)
    }

    async fn delivered(&self, id: i64, _at: DateTime<Utc>) -> Result<(), OutboxError> {
        for row in self
            .lock_outbox()
            .iter_mut()
            .filter(|row| row.queued.id == id)
        {
            row.sent = true;
            row.leased_until = None;
        }
        Ok(())
    }

    async fn failed(
        &self,
        id: i64,
        retry_at: Option<DateTime<Utc>>,
        _error: &str,
    ) -> Result<(), OutboxError> {
        for row in self
            .lock_outbox()
            .iter_mut()
            .filter(|row| row.queued.id == id)
        {
            row.queued.attempts += 1;
            row.leased_until = None;
            match retry_at {
                Some(at) => row.due = at,
                None => row.given_up = true,
            }
        }
        Ok(())
    }

    async fn stats(&self) -> Result<OutboxStats, OutboxError> {
        let outbox = self.lock_outbox();
        let pending: Vec<&OutboxRow> = outbox.iter().filter(|r| !r.sent && !r.given_up).collect();
        Ok(OutboxStats {
            pending: pending.len() as u64,
            oldest_pending: pending.iter().map(|r| r.queued.queued_at).min(),
        })
    }

    async fn purge_finished(&self, before: DateTime<Utc>, batch: u64) -> Result<u64, OutboxError> {
        let mut outbox = self.lock_outbox();
        let mut purged = 0;
        outbox.retain(|row| {
            let finished = (row.sent || row.given_up) && row.queued.queued_at < before;
            if finished && purged < batch {
                purged += 1;
                false
            } else {
                true
            }
        });
        Ok(purged)
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

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn create(
        &self,
        session: Session,
        audit: Option<AuditEvent>,
    ) -> Result<(), SessionStoreError> {
        self.append(audit.into_iter().collect(), None, session.created_at);
        let mut users = self.lock();
        if let Some(user) = users.iter_mut().find(|u| u.id() == session.user_id) {
            let mut parts = user.to_parts();
            parts.last_login_at = Some(session.created_at);
            *user = parts.into();
        }
        drop(users);
        self.lock_sessions().push(session);
        Ok(())
    }

    async fn find(&self, id: &SessionId) -> Result<Option<Session>, SessionStoreError> {
        Ok(self.lock_sessions().iter().find(|s| &s.id == id).cloned())
    }

    async fn find_active_user(
        &self,
        id: &SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, SessionStoreError> {
        let live = self
            .lock_sessions()
            .iter()
            .any(|s| &s.id == id && s.user_id == user && s.is_active(now));
        if !live {
            return Ok(None);
        }
        Ok(self
            .lock()
            .iter()
            .find(|u| u.id() == user && u.is_active())
            .cloned())
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected: &TokenFingerprint,
        next: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<bool, SessionStoreError> {
        let mut sessions = self.lock_sessions();
        let Some(session) = sessions
            .iter_mut()
            .find(|s| &s.id == id && &s.refresh_token_hash == expected && s.is_active(now))
        else {
            return Ok(false);
        };
        session.previous_refresh_token_hash = Some(expected.clone());
        session.refresh_token_hash = next.clone();
        session.rotated_at = Some(now);
        session.last_used_at = now;
        Ok(true)
    }

    async fn revoke(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<bool, SessionStoreError> {
        let mut sessions = self.lock_sessions();
        let Some(session) = sessions
            .iter_mut()
            .find(|s| &s.id == id && s.revoked_at.is_none())
        else {
            return Ok(false);
        };
        session.revoked_at = Some(now);
        session.revoked_reason = Some(reason.as_str().to_owned());
        drop(sessions);
        self.append(audit.into_iter().collect(), None, now);
        Ok(true)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        reason: RevokeReason,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<u64, SessionStoreError> {
        let mut count = 0;
        for session in self
            .lock_sessions()
            .iter_mut()
            .filter(|s| s.user_id == user && s.revoked_at.is_none())
        {
            session.revoked_at = Some(now);
            session.revoked_reason = Some(reason.as_str().to_owned());
            count += 1;
        }
        self.append(audit.into_iter().collect(), None, now);
        Ok(count)
    }

    async fn list_active(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, SessionStoreError> {
        Ok(self
            .lock_sessions()
            .iter()
            .filter(|s| s.user_id == user && s.is_active(now))
            .cloned()
            .collect())
    }

    async fn delete_expired(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, SessionStoreError> {
        let mut sessions = self.lock_sessions();
        let expired: Vec<SessionId> = sessions
            .iter()
            .filter(|s| s.expires_at < before)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|s| s.id.clone())
            .collect();
        sessions.retain(|s| !expired.contains(&s.id));
        Ok(expired.len() as u64)
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
