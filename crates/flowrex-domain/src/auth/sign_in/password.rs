//! A password login: throttled by reservations, the password checked (an unknown address
//! costs the same verification), the hash upgraded, and half a login where the account has
//! a second factor.

use tracing::{Span, instrument};

use super::{LoginAttempt, LoginOutcome, SignIn};
use crate::auth::LoginError;
use crate::auth::core::SignInRefusal;
use crate::auth::core::throttle::ThrottleKeys;
use crate::ports::{Changes, UserUpdate};
use crate::{Assurance, AuditUser, AuthMethod, EmailAddress, IssuedUnder, PasswordAttempt, User};

impl SignIn {
    /// Logs a user in: a session and its first pair, or a second-factor challenge for the
    /// right password of an account with a second factor (no session yet).
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown email, a wrong password or an
    /// inactive user alike; an unknown email still costs one password verification.
    /// [`LoginError::Throttled`] once the client (or the client for this account) has too
    /// many recent failures; then no password is checked at all.
    /// [`LoginError::EmailNotVerified`] for the right password of an unverified account
    /// while verification is required.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn login(&self, attempt: LoginAttempt) -> Result<LoginOutcome, LoginError> {
        let core = &self.core;
        let throttled = match core
            .begin_attempt(ThrottleKeys::of(&attempt.client, &attempt.email))
            .await
        {
            Ok(throttled) => throttled,
            Err(full) => {
                tracing::info!("login throttled");
                core.count_throttled(&full, &attempt.email).await;
                return Err(LoginError::Throttled {
                    retry_after: full.retry_after,
                });
            }
        };
        let user = match self.check_password(&attempt).await {
            Ok(user) => user,
            // A failure keeps its reservation: it is one of the window's failures.
            Err(LoginError::InvalidCredentials) => {
                throttled.failed();
                return Err(LoginError::InvalidCredentials);
            }
            Err(error) => {
                throttled.inconclusive().await;
                return Err(error);
            }
        };
        Span::current().record("user_id", user.id().get());
        match core.may_sign_in(&user) {
            Ok(()) => {}
            Err(refusal @ SignInRefusal::Inactive) => {
                tracing::info!("login refused");
                core.record_failure(AuditUser::User(user.id()), refusal.reason())
                    .await;
                throttled.failed();
                return Err(LoginError::InvalidCredentials);
            }
            Err(refusal @ SignInRefusal::Unverified) => {
                tracing::info!("login refused: address not verified");
                core.record_failure(AuditUser::User(user.id()), refusal.reason())
                    .await;
                // The right password: the account's failures are forgotten.
                throttled.succeeded().await;
                return Err(LoginError::EmailNotVerified);
            }
        }
        // The right password: a hash of an older cost is upgraded (the same password, so
        // no credential event: the stamp stays, and with it the challenge below).
        self.upgrade_hash(&user, &attempt.password).await;
        match self
            .open_challenge(&user, IssuedUnder::now(&user), AuthMethod::Password)
            .await
        {
            Ok(None) => {}
            // Half a login gives its attempt back but clears nothing: the failed codes that
            // follow count until a second factor succeeds, however often the password is
            // given again.
            Ok(Some(challenge)) => {
                throttled.inconclusive().await;
                tracing::info!("password accepted: second factor required");
                return Ok(LoginOutcome::SecondFactorRequired(challenge));
            }
            Err(error) => {
                throttled.inconclusive().await;
                return Err(error);
            }
        }
        throttled.succeeded().await;
        let pair = core
            .start_session(
                &user,
                user.security_stamp(),
                attempt.client,
                Assurance::PASSWORD,
            )
            .await?;
        tracing::info!("login succeeded");
        Ok(LoginOutcome::SignedIn(pair))
    }

    /// Whether passwords are checked against known breaches (`PASSWORD_BREACH_CHECK`).
    pub fn checks_breaches(&self) -> bool {
        self.core.breaches.source.is_some()
    }

    /// After `password` signed `email`'s account in (or passed to its second factor):
    /// when it is a known breached password, records `password_breached_at_login` and
    /// mails the owner, once per credential state. Never refuses anything, and may run
    /// after the answer (the login route spawns it): the range source's time is not the
    /// login's.
    pub async fn note_breached_password(&self, email: &EmailAddress, password: &PasswordAttempt) {
        if !self.checks_breaches() {
            return;
        }
        match self.core.users.find_by_email(email).await {
            Ok(Some(user)) => self.core.note_breached_login(&user, password).await,
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "breached password at login not checked"),
        }
    }

    /// The user whose password `attempt` holds (whether or not it may sign in).
    async fn check_password(&self, attempt: &LoginAttempt) -> Result<User, LoginError> {
        let core = &self.core;
        let user = core.users.find_by_email(&attempt.email).await?;
        // A password bcrypt cannot check in full was refused at registration: it can never
        // be right, but it costs the same verification as any wrong one.
        let verifiable = attempt.password.is_verifiable();
        // An account with no password (made by an outside provider) is checked like an
        // unknown address: the same verification, never a match.
        let hash = user
            .as_ref()
            .filter(|_| verifiable)
            .map(User::password_hash)
            .filter(|hash| hash.is_usable());
        let matches = core.hasher.verify(&attempt.password, hash).await?;
        match user {
            Some(user) if matches => Ok(user),
            Some(user) => {
                tracing::info!("login refused");
                core.record_failure(AuditUser::User(user.id()), "wrong_password")
                    .await;
                Err(LoginError::InvalidCredentials)
            }
            None => {
                tracing::info!("login refused");
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// Re-hashes at the configured cost when the stored hash was made differently, under
    /// the stamp the password was checked under (a reset that commits meanwhile is not
    /// overwritten with a hash of the old password). A failure is logged and the login
    /// still succeeds.
    async fn upgrade_hash(&self, user: &User, password: &PasswordAttempt) {
        let core = &self.core;
        if !user.password_hash().is_usable() || !core.hasher.needs_rehash(user.password_hash()) {
            return;
        }
        let hash = match core.hasher.hash(password.expose()).await {
            Ok(hash) => hash,
            Err(error) => {
                tracing::warn!(%error, "password hash not upgraded");
                return;
            }
        };
        let changes = Changes {
            issued_under: Some(IssuedUnder::now(user)),
            update_user: Some(UserUpdate {
                rehashed: Some(hash),
                ..UserUpdate::of(user.id())
            }),
            ..Changes::default()
        };
        match core.accounts.apply(changes, core.now()).await {
            Ok(_) => tracing::info!("password hash upgraded to the configured cost"),
            Err(error) => tracing::warn!(%error, "password hash not upgraded"),
        }
    }
}
