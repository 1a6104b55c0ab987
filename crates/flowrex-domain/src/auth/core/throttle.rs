//! The login throttle as values that must end: beginning an attempt reserves it with every
//! counter, before any password or code is checked (so that parallel attempts cannot
//! outrun the count), and returns an [`Attempt`] that ends as failed, succeeded or
//! inconclusive — never forgotten; the same for a try of an account's second-factor
//! budget ([`CodeTry`]).

use std::sync::Arc;

use super::Core;
use crate::ports::{FailureCounter, Reservation};
use crate::{ClientInfo, EmailAddress, ThrottleScope, ThrottledLogin, UserId};

/// The throttling keys of one attempt: the client's key, and that key with the account's
/// (or with `passkey`, for a sign-in that names no account).
pub(in crate::auth) struct ThrottleKeys {
    client: String,
    account: String,
}

impl ThrottleKeys {
    /// The keys of `client` acting on the account of `email`.
    pub(in crate::auth) fn of(client: &ClientInfo, email: &EmailAddress) -> Self {
        let client = client.key.as_str().to_owned();
        let account = format!("{client}|{}", email.key());
        Self { client, account }
    }

    /// The keys of `client` signing in with a passkey (no address typed): the client's,
    /// and the client's passkey attempts.
    pub(in crate::auth) fn of_client(client: &ClientInfo) -> Self {
        let client = client.key.as_str().to_owned();
        let account = format!("{client}|passkey");
        Self { client, account }
    }
}

impl ThrottleKeys {
    /// The keys of `client` signing in with the outside provider `provider` (whose account
    /// is not known before its answer is checked): the client's, and the client's attempts
    /// with that provider.
    pub(in crate::auth) fn of_provider(client: &ClientInfo, provider: &crate::ProviderId) -> Self {
        let client = client.key.as_str().to_owned();
        let account = format!("{client}|provider:{provider}");
        Self { client, account }
    }
}

/// The full window that refused an attempt.
pub(in crate::auth) struct Full {
    /// Time until it ends.
    pub(in crate::auth) retry_after: std::time::Duration,
    key: String,
    scope: ThrottleScope,
}

/// One attempt reserved with the throttle's counters. It must end: [`Self::failed`] (it
/// stays one of the window's failures), [`Self::succeeded`] (the account's failures are
/// forgotten and the client's attempt given back) or [`Self::inconclusive`] (nothing was
/// proven either way: given back).
#[must_use = "an attempt ends as failed(), succeeded() or inconclusive()"]
pub(in crate::auth) struct Attempt<'a> {
    core: &'a Core,
    keys: ThrottleKeys,
    reserved: Vec<(&'a Arc<dyn FailureCounter>, ThrottleScope)>,
}

impl Core {
    fn counters(&self) -> impl Iterator<Item = (&Arc<dyn FailureCounter>, ThrottleScope)> {
        let per_client = self
            .throttle
            .per_client
            .iter()
            .map(|counter| (counter, ThrottleScope::Client));
        let per_account = self
            .throttle
            .per_account
            .iter()
            .map(|counter| (counter, ThrottleScope::Account));
        per_client.chain(per_account)
    }

    /// Reserves an attempt of `keys` with every counter, before anything is checked; the
    /// first full window refuses it (then nothing stays reserved). A counter store that
    /// cannot be reached does not block logins (its adapter has already fallen back where
    /// it can).
    pub(in crate::auth) async fn begin_attempt(
        &self,
        keys: ThrottleKeys,
    ) -> Result<Attempt<'_>, Full> {
        let mut attempt = Attempt {
            core: self,
            keys,
            reserved: Vec::with_capacity(2),
        };
        for (counter, scope) in self.counters() {
            let key = attempt.key(scope).to_owned();
            match counter.reserve(&key).await {
                Ok(Reservation::Reserved) => attempt.reserved.push((counter, scope)),
                Ok(Reservation::Full { retry_after }) => {
                    attempt.give_back(|_| true).await;
                    return Err(Full {
                        retry_after,
                        key,
                        scope,
                    });
                }
                Err(error) => tracing::warn!(%error, "login throttle not checked"),
            }
        }
        Ok(attempt)
    }

    /// Counts a login refused unchecked by `full`, of the account of `email` (one audit
    /// event per key and window, not one each).
    pub(in crate::auth) async fn count_throttled(&self, full: &Full, email: &EmailAddress) {
        let now = self.now();
        let window =
            chrono::Duration::from_std(full.retry_after).unwrap_or(chrono::Duration::zero());
        self.audit
            .count_throttled(ThrottledLogin {
                key: full.key.clone(),
                scope: full.scope,
                email: email.clone(),
                at: now,
                window_ends: now + window,
            })
            .await;
    }

    /// Reserves one try of the account's second-factor budget — whatever the client, so
    /// that rotating addresses buys no more guesses — with the per-account limit of
    /// logins (`LOGIN_MAX_FAILURES_PER_ACCOUNT` per window); the wait when it is full.
    pub(in crate::auth) async fn begin_code_try(
        &self,
        user: UserId,
    ) -> Result<CodeTry<'_>, std::time::Duration> {
        let Some(counter) = &self.throttle.per_account else {
            return Ok(CodeTry { reserved: None });
        };
        let key = code_key(user);
        match counter.reserve(&key).await {
            Ok(Reservation::Reserved) => Ok(CodeTry {
                reserved: Some((counter, key)),
            }),
            Ok(Reservation::Full { retry_after }) => {
                tracing::info!("second factor throttled");
                Err(retry_after)
            }
            Err(error) => {
                tracing::warn!(%error, "second-factor throttle not checked");
                Ok(CodeTry { reserved: None })
            }
        }
    }
}

impl Attempt<'_> {
    fn key(&self, scope: ThrottleScope) -> &str {
        match scope {
            ThrottleScope::Client => &self.keys.client,
            ThrottleScope::Account => &self.keys.account,
        }
    }

    /// A failed guess: it keeps its reservation, one of the window's failures.
    pub(in crate::auth) fn failed(self) {}

    /// A success: the account's failures are forgotten and the client's attempt is given
    /// back, but the client's earlier failures stay (an attacker must not be able to reset
    /// an address's budget with an account of their own).
    pub(in crate::auth) async fn succeeded(self) {
        self.give_back(|scope| scope == ThrottleScope::Client).await;
        if let Some(counter) = &self.core.throttle.per_account
            && let Err(error) = counter.reset(&self.keys.account).await
        {
            tracing::warn!(%error, "failed logins not reset");
        }
    }

    /// Proved nothing either way (the store failed, half a login, a right proof that lost
    /// a race): every reservation is given back.
    pub(in crate::auth) async fn inconclusive(self) {
        self.give_back(|_| true).await;
    }

    async fn give_back(&self, which: impl Fn(ThrottleScope) -> bool) {
        for (counter, scope) in &self.reserved {
            if which(*scope)
                && let Err(error) = counter.release(self.key(*scope)).await
            {
                tracing::warn!(%error, "login attempt not given back");
            }
        }
    }
}

/// The key of an account's second-factor budget.
fn code_key(user: UserId) -> String {
    format!("second-factor|{}", user.get())
}

/// One try of an account's second-factor budget. It must end: [`Self::failed`] (a wrong
/// code keeps it), [`Self::succeeded`] (a right code clears the budget) or
/// [`Self::inconclusive`] (given back).
#[must_use = "a code try ends as failed(), succeeded() or inconclusive()"]
pub(in crate::auth) struct CodeTry<'a> {
    reserved: Option<(&'a Arc<dyn FailureCounter>, String)>,
}

impl CodeTry<'_> {
    /// A try of no account's budget (a code that would create the account): it holds
    /// nothing, and ending it does nothing.
    pub(in crate::auth) fn of_no_account() -> Self {
        Self { reserved: None }
    }

    /// A wrong code: it stays one of the budget's failures.
    pub(in crate::auth) fn failed(self) {}

    /// A right code: the budget's failures are forgotten.
    pub(in crate::auth) async fn succeeded(self) {
        if let Some((counter, key)) = &self.reserved
            && let Err(error) = counter.reset(key).await
        {
            tracing::warn!(%error, "second-factor throttle not updated");
        }
    }

    /// Proved nothing either way: given back.
    pub(in crate::auth) async fn inconclusive(self) {
        if let Some((counter, key)) = &self.reserved
            && let Err(error) = counter.release(key).await
        {
            tracing::warn!(%error, "second-factor throttle not updated");
        }
    }
}
