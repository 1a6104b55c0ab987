//! Second factors: their stored state, the sign-in challenges between a password and a
//! code, one-time passwords, and sealing secrets at rest. Changes that go with mail, audit
//! events or revoked sessions (enrolling, activating, removing a factor; recovery codes)
//! are [`crate::ports::Changes`] of the account store, in its one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AuthMethod, IssuedUnder, SealedSecret, SecurityStamp, TokenFingerprint, TotpProvisioning,
    TotpSecret, UserId,
};

failure_enum! {
    /// Why a second-factor store call failed.
    pub enum MfaStoreError {}
    /// The store cannot be reached.
    unavailable: "factor store unavailable";
    failed: "factor store failed";
}

/// A stored TOTP factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// Its id.
    pub id: i64,
    /// Whose.
    pub user: UserId,
    /// The secret, sealed.
    pub secret: SealedSecret,
    /// Activated (else pending: enrolled, no code confirmed yet).
    pub active: bool,
    /// The last time step a code was accepted for: no code of this step or an earlier one
    /// is accepted again.
    pub last_used_step: Option<u64>,
}

/// A login that passed its password and awaits its second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaChallenge {
    /// Its id.
    pub id: i64,
    /// Whose login.
    pub user: UserId,
    /// The user's stamp its password was checked under.
    pub stamp: SecurityStamp,
    /// How the first half was proven: a password, or an outside provider.
    pub first: AuthMethod,
}

impl MfaChallenge {
    /// Whom it was issued to, under which stamp.
    pub fn issued_under(&self) -> IssuedUnder {
        IssuedUnder {
            user: self.user,
            stamp: self.stamp,
        }
    }
}

/// Second factors and sign-in challenges.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's TOTP factors, oldest first: at most one active and one pending.
    ///
    /// # Errors
    /// [`MfaStoreError`].
    async fn totp_factors(&self, user: UserId) -> Result<Vec<TotpFactor>, MfaStoreError>;

    /// Records that a code of `step` was accepted for the active factor `factor`, if no
    /// code of `step` or a later step was before: `true` when it did. One conditional
    /// statement, so that of two requests with the same code — on any instances — exactly
    /// one gets `true`.
    ///
    /// # Errors
    /// [`MfaStoreError`].
    async fn accept_totp_step(&self, factor: i64, step: u64) -> Result<bool, MfaStoreError>;

    /// Stores a challenge for the login of `issued.user`, whose first half (`first`: the
    /// password, or an outside provider) was proven under `issued.stamp`, found again by
    /// `fingerprint` until `expires_at`.
    ///
    /// # Errors
    /// [`MfaStoreError`].
    async fn create_challenge(
        &self,
        issued: IssuedUnder,
        first: AuthMethod,
        fingerprint: &TokenFingerprint,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), MfaStoreError>;

    /// Counts one try against the challenge of `fingerprint`, if it is unused, unexpired
    /// at `now` and has had fewer than `max_tries`: the challenge when it did (atomically:
    /// concurrent tries never exceed `max_tries`), else `None`.
    ///
    /// # Errors
    /// [`MfaStoreError`].
    async fn try_challenge(
        &self,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
        max_tries: u32,
    ) -> Result<Option<MfaChallenge>, MfaStoreError>;

    /// Uses the challenge up, if it is still unused: `true` when it did (of two
    /// completions exactly one succeeds).
    ///
    /// # Errors
    /// [`MfaStoreError`].
    async fn complete_challenge(&self, id: i64, now: DateTime<Utc>) -> Result<bool, MfaStoreError>;

    /// Deletes challenges that expired before `before`; how many.
    ///
    /// # Errors
    /// [`MfaStoreError`].
    async fn delete_expired_challenges(&self, before: DateTime<Utc>) -> Result<u64, MfaStoreError>;
}

/// A sealed value that cannot be opened (another key, or corrupted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed secret cannot be opened")]
pub struct UnsealError;

/// Authenticated encryption of secrets at rest (`APP_SECRET_KEY`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Sealer: Send + Sync {
    /// `plaintext`, sealed.
    fn seal(&self, plaintext: &[u8]) -> SealedSecret;

    /// The plaintext of a value [`Self::seal`] made.
    ///
    /// # Errors
    /// [`UnsealError`] for anything else.
    fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, UnsealError>;
}

/// The provisioning data could not be made (an account name the URI cannot hold).
#[derive(Debug, thiserror::Error)]
#[error("TOTP provisioning failed")]
pub struct OtpError(#[source] pub anyhow::Error);

/// RFC 6238 one-time passwords: SHA-1, 6 digits, 30-second steps, one step of skew either
/// way.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OneTimePasswords: Send + Sync {
    /// What an authenticator app needs to add `secret` for `account` (the user's address).
    ///
    /// # Errors
    /// [`OtpError`].
    fn provisioning(
        &self,
        secret: &TotpSecret,
        account: &str,
    ) -> Result<TotpProvisioning, OtpError>;

    /// The latest time step within the skew window around `now` whose code is `code`, and
    /// that is later than `after` (the last step accepted): `None` when there is none.
    /// Compared in constant time.
    fn matching_step(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: DateTime<Utc>,
        after: Option<u64>,
    ) -> Option<u64>;
}
