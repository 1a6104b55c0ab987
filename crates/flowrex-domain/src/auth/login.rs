//! Login: the password check, brute-force throttling by reservations, hash upgrades.

use std::sync::Arc;

use tracing::{Span, instrument};

use super::{AuthService, LoginError};
use crate::ports::{Changes, FailureCounter, Reservation, UserUpdate};
use crate::{
    AuditAction, AuditEvent, AuditUser, ClientInfo, EmailAddress, PasswordAttempt, ThrottleScope,
    ThrottledLogin, TokenPair, User,
};

/// A login attempt: what was typed, and who typed it.
#[derive(Debug)]
pub struct LoginAttempt {
    /// The address typed.
    pub email: EmailAddress,
    /// The password typed.
    pub password: PasswordAttempt,
    /// The client: its key for throttling, its address and `User-Agent` for the session.
    pub client: ClientInfo,
}

impl AuthService {
    /// Logs a user in and issues a token pair.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown email, a wrong password or an
    /// inactive user alike; an unknown email still costs one password verification.
    /// [`LoginError::Throttled`] once the client (or the client for this account) has too
    /// many recent failures; then no password is checked at all.
    /// [`LoginError::MfaRequired`] for the right password of an account with a second
    /// factor: no session yet.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(&self, attempt: LoginAttempt) -> Result<TokenPair, LoginError> {
        let keys = ThrottleKeys::new(&attempt);
        let reserved = match self.reserve_attempt(&keys).await {
            Ok(reserved) => reserved,
            Err(full) => {
                tracing::info!("login throttled");
                self.count_throttled(&full, &attempt.email).await;
                return Err(LoginError::Throttled {
                    retry_after: full.retry_after,
                });
            }
        };
        let mut unverified = None;
        let result = self.check_password(&attempt).await.and_then(|user| {
            if self.accounts_policy.require_verified_email && !user.is_verified() {
                tracing::info!("login refused: address not verified");
                unverified = Some(user.id());
                return Err(LoginError::EmailNotVerified);
            }
            Ok(user)
        });
        if let Some(user) = unverified {
            self.record_failure(AuditUser::User(user), "unverified")
                .await;
        }
        // The right password: a hash of an older cost is upgraded (the same password, so
        // no credential event: the stamp stays, and with it the challenge below).
        if let Ok(user) = &result {
            self.upgrade_hash(user, &attempt.password).await;
        }
        // The right password of an account with a second factor is only half a login.
        let result = match result {
            Ok(user) => match self.second_factor_challenge(&user).await {
                Ok(Some(challenge)) => Err(LoginError::MfaRequired(challenge)),
                Ok(None) => Ok(user),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        match &result {
            // A failure keeps its reservation: it is one of the window's failures.
            Err(LoginError::InvalidCredentials) => {}
            // A success (or the right password of an unverified account) clears the
            // account's failures and gives the client's attempt back.
            Ok(_) | Err(LoginError::EmailNotVerified) => {
                self.forget_failures(&keys, &reserved).await;
            }
            // Half a login gives its attempt back but clears nothing: the failed codes
            // that follow count until a second factor succeeds, however often the
            // password is given again. Any other error is no failed guess either.
            Err(_) => self.release(&reserved).await,
        }
        if let Err(LoginError::MfaRequired(_)) = &result {
            tracing::info!("password accepted: second factor required");
        }
        let user = result?;
        Span::current().record("user_id", user.id().get());
        let pair = self
            .start_session(
                &user,
                user.security_stamp(),
                attempt.client,
                crate::Assurance::PASSWORD,
            )
            .await?;
        tracing::info!("login succeeded");
        Ok(pair)
    }

    /// The active user whose password `attempt` holds.
    async fn check_password(&self, attempt: &LoginAttempt) -> Result<User, LoginError> {
        let user = self.users.find_by_email(&attempt.email).await?;
        // A password bcrypt cannot check in full was refused at registration: it can never
        // be right, but it costs the same verification as any wrong one.
        let verifiable = attempt.password.is_verifiable();
        let hash = user
            .as_ref()
            .filter(|_| verifiable)
            .map(User::password_hash);
        let matches = self.hasher.verify(&attempt.password, hash).await?;
        match user {
            Some(user) if matches && user.is_active() => Ok(user),
            Some(user) => {
                tracing::info!("login refused");
                let reason = if matches {
                    "inactive"
                } else {
                    "wrong_password"
                };
                self.record_failure(AuditUser::User(user.id()), reason)
                    .await;
                Err(LoginError::InvalidCredentials)
            }
            None => {
                tracing::info!("login refused");
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// Records a failed login of an existing account (never the password tried).
    pub(super) async fn record_failure(&self, user: AuditUser, reason: &'static str) {
        if let Some(audit) = &self.audit {
            audit
                .record(
                    AuditEvent::new(AuditAction::LoginFailed)
                        .on(user)
                        .with("reason", reason),
                )
                .await;
        }
    }

    /// Counts a login refused unchecked by `full` (one audit event per key and window, not
    /// one each).
    async fn count_throttled(&self, full: &Full<'_>, email: &EmailAddress) {
        if let Some(audit) = &self.audit {
            let now = self.now();
            let window =
                chrono::Duration::from_std(full.retry_after).unwrap_or(chrono::Duration::zero());
            audit
                .count_throttled(ThrottledLogin {
                    key: full.key.to_owned(),
                    scope: full.scope,
                    email: email.clone(),
                    at: now,
                    window_ends: now + window,
                })
                .await;
        }
    }

    /// Reserves this attempt with every counter, before any password is checked; the
    /// reservations made, or the first full window (then nothing stays reserved). A
    /// counter store that cannot be reached does not block logins (its adapter has already
    /// fallen back where it can).
    pub(super) async fn reserve_attempt<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
    ) -> Result<Reserved<'a>, Full<'a>> {
        let mut reserved = Vec::with_capacity(2);
        for (counter, key, scope) in self.counters(keys) {
            match counter.reserve(key).await {
                Ok(Reservation::Reserved) => reserved.push((counter, key)),
                Ok(Reservation::Full { retry_after }) => {
                    self.release(&reserved).await;
                    return Err(Full {
                        retry_after,
                        key,
                        scope,
                    });
                }
                Err(error) => tracing::warn!(%error, "login throttle not checked"),
            }
        }
        Ok(reserved)
    }

    pub(super) async fn release(&self, reserved: &Reserved<'_>) {
        for (counter, key) in reserved {
            if let Err(error) = counter.release(key).await {
                tracing::warn!(%error, "login attempt not given back");
            }
        }
    }

    /// After a success: the account's failures are forgotten, the client's attempt is
    /// given back, but the client's earlier failures stay (an attacker must not be able to
    /// reset an address's budget with an account of their own).
    pub(super) async fn forget_failures(&self, keys: &ThrottleKeys, reserved: &Reserved<'_>) {
        let client: Reserved<'_> = reserved
            .iter()
            .filter(|(_, key)| *key == keys.client)
            .copied()
            .collect();
        self.release(&client).await;
        if let Some(counter) = &self.throttle.per_account
            && let Err(error) = counter.reset(&keys.account).await
        {
            tracing::warn!(%error, "failed logins not reset");
        }
    }

    fn counters<'a>(
        &'a self,
        keys: &'a ThrottleKeys,
    ) -> impl Iterator<Item = (&'a Arc<dyn FailureCounter>, &'a str, ThrottleScope)> {
        let per_client = self
            .throttle
            .per_client
            .iter()
            .map(|c| (c, keys.client.as_str(), ThrottleScope::Client));
        let per_account = self
            .throttle
            .per_account
            .iter()
            .map(|c| (c, keys.account.as_str(), ThrottleScope::Account));
        per_client.chain(per_account)
    }

    /// Re-hashes at the configured cost when the stored hash was made differently, under
    /// the stamp the password was checked under (a reset that commits meanwhile is not
    /// overwritten with a hash of the old password). A failure is logged and the login
    /// still succeeds.
    async fn upgrade_hash(&self, user: &User, password: &PasswordAttempt) {
        if !self.hasher.needs_rehash(user.password_hash()) {
            return;
        }
        let hash = match self.hasher.hash(password.expose()).await {
            Ok(hash) => hash,
            Err(error) => {
                tracing::warn!(%error, "password hash not upgraded");
                return;
            }
        };
        let changes = Changes {
            issued_under: Some(crate::IssuedUnder::now(user)),
            update_user: Some(UserUpdate {
                rehashed: Some(hash),
                ..UserUpdate::of(user.id())
            }),
            ..Changes::default()
        };
        match self.accounts.apply(changes, self.now()).await {
            Ok(_) => tracing::info!("password hash upgraded to the configured cost"),
            Err(error) => tracing::warn!(%error, "password hash not upgraded"),
        }
    }
}

/// The counters (and keys) an attempt is reserved with.
pub(super) type Reserved<'a> = Vec<(&'a Arc<dyn FailureCounter>, &'a str)>;

/// The full window that refused an attempt.
pub(super) struct Full<'a> {
    /// Time until it ends.
    pub(super) retry_after: std::time::Duration,
    /// Its key.
    key: &'a str,
    /// Its limit.
    scope: ThrottleScope,
}

/// The throttling keys of one attempt: the client's key, and that key with the account's
/// email key.
pub(super) struct ThrottleKeys {
    client: String,
    account: String,
}

impl ThrottleKeys {
    fn new(attempt: &LoginAttempt) -> Self {
        Self::of(&attempt.client, &attempt.email)
    }

    /// The keys of `client` signing in with a passkey (no address typed): the client's,
    /// and the client's passkey attempts.
    pub(super) fn of_client(client: &ClientInfo) -> Self {
        let client = client.key.as_str().to_owned();
        let account = format!("{client}|passkey");
        Self { client, account }
    }

    /// The keys of `client` acting on the account of `email`.
    pub(super) fn of(client: &ClientInfo, email: &EmailAddress) -> Self {
        let client = client.key.as_str().to_owned();
        let account = format!("{client}|{}", email.key());
        Self { client, account }
    }
}
