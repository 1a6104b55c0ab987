//! Passkeys: the WebAuthn relying party (its ceremonies, whose messages and states the
//! domain carries without reading them) and the store of credentials and of ceremony state
//! between a ceremony's start and its finish — server-side, single use, with an expiry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{IssuedUnder, TokenFingerprint, UserId};

/// Why a relying-party step failed.
#[derive(Debug, thiserror::Error)]
pub enum WebauthnError {
    /// The client's response does not verify (wrong challenge, origin, signature, user
    /// verification, a counter that went backwards, a malformed credential).
    #[error("passkey response rejected")]
    Rejected(#[source] anyhow::Error),
    /// Anything else (a stored state or credential that cannot be read).
    #[error("passkey ceremony failed")]
    Unexpected(#[source] anyhow::Error),
}

/// A ceremony begun: the options for the browser, and the state to keep server-side.
#[derive(Debug)]
pub struct CeremonyStart {
    /// `PublicKeyCredentialCreationOptions` or `…RequestOptions`, as
    /// `{"publicKey": {…}}`: what `navigator.credentials.create()` or `.get()` takes.
    pub options: Value,
    /// The relying party's state, to hand back at the finish (it holds the challenge).
    pub state: String,
}

/// A credential just registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCredential {
    /// Its credential id (base64url).
    pub credential_id: String,
    /// The relying party's record of it (public key, counter, flags), to store.
    pub credential: String,
}

/// Who an assertion says it is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCredential {
    /// The credential id (base64url).
    pub credential_id: String,
    /// The user handle, when the authenticator sent one (discoverable credentials do).
    pub user_handle: Option<Vec<u8>>,
}

/// The WebAuthn relying party: registration and discoverable sign-in, with user
/// verification required.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait RelyingParty: Send + Sync {
    /// Begins registering a passkey for the user of `handle` (named `name` in the
    /// authenticator), excluding the credentials it has.
    ///
    /// # Errors
    /// [`WebauthnError::Unexpected`].
    fn start_registration(
        &self,
        handle: [u8; 16],
        name: &str,
        exclude: &[String],
    ) -> Result<CeremonyStart, WebauthnError>;

    /// Checks the browser's `response` to a registration against its `state`.
    ///
    /// # Errors
    /// [`WebauthnError::Rejected`] for a response that does not verify.
    fn finish_registration(
        &self,
        response: &Value,
        state: &str,
    ) -> Result<RegisteredCredential, WebauthnError>;

    /// Begins a sign-in with any discoverable credential (no user named).
    ///
    /// # Errors
    /// [`WebauthnError::Unexpected`].
    fn start_login(&self) -> Result<CeremonyStart, WebauthnError>;

    /// The credential an assertion names, before it is checked.
    ///
    /// # Errors
    /// [`WebauthnError::Rejected`] for a response that is not an assertion.
    fn presented(&self, response: &Value) -> Result<PresentedCredential, WebauthnError>;

    /// Checks an assertion against its `state` and the stored `credential`: the new
    /// record to store when it changed (the signature counter), else `None`.
    ///
    /// # Errors
    /// [`WebauthnError::Rejected`] for an assertion that does not verify, also a counter
    /// that did not increase (a cloned authenticator).
    fn finish_login(
        &self,
        response: &Value,
        state: &str,
        credential: &str,
    ) -> Result<Option<String>, WebauthnError>;
}

failure_enum! {
    /// Why a passkey store call failed.
    pub enum PasskeyStoreError {}
    /// The store cannot be reached.
    unavailable: "passkey store unavailable";
    failed: "passkey store failed";
}

/// A stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Its id.
    pub id: i64,
    /// Whose.
    pub user: UserId,
    /// The name its owner gave it.
    pub name: String,
    /// The credential id (base64url).
    pub credential_id: String,
    /// The relying party's record.
    pub credential: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A passkey to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    /// Whose.
    pub user: UserId,
    /// Its name.
    pub name: String,
    /// What registration produced.
    pub registered: RegisteredCredential,
}

/// Which ceremony a state belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a passkey (for a signed-in user).
    Registration,
    /// Signing in with one.
    Login,
}

impl CeremonyKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Login => "login",
        }
    }
}

/// A ceremony's state, taken back at its finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyState {
    /// The user it was begun for, under their stamp then (registrations).
    pub user: Option<IssuedUnder>,
    /// The relying party's state.
    pub state: String,
}

/// Passkeys and ceremony states (a passkey is added and removed with its mail and audit
/// event by [`crate::ports::Changes::passkey`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// The user's passkeys, oldest first.
    ///
    /// # Errors
    /// [`PasskeyStoreError`].
    async fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, PasskeyStoreError>;

    /// The passkey with this credential id.
    ///
    /// # Errors
    /// [`PasskeyStoreError`].
    async fn find_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, PasskeyStoreError>;

    /// Records a sign-in with passkey `id`, checked against the record `checked`, and its
    /// new record when it changed — if the stored record is still `checked`: `false` when
    /// it is not (a concurrent sign-in moved the counter on, or the passkey is gone), and
    /// then nothing changed.
    ///
    /// # Errors
    /// [`PasskeyStoreError`].
    async fn record_use(
        &self,
        id: i64,
        checked: &str,
        updated: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool, PasskeyStoreError>;

    /// Deletes ceremony states that expired before `before`; how many.
    ///
    /// # Errors
    /// [`PasskeyStoreError`].
    async fn delete_expired_ceremonies(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, PasskeyStoreError>;

    /// Keeps a ceremony's state under `fingerprint` until `expires_at`.
    ///
    /// # Errors
    /// [`PasskeyStoreError`].
    async fn save_ceremony(
        &self,
        fingerprint: &TokenFingerprint,
        kind: CeremonyKind,
        state: CeremonyState,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), PasskeyStoreError>;

    /// Takes the state of an unexpired ceremony of `kind` back, once: of two finishes of
    /// one ceremony at most one gets it.
    ///
    /// # Errors
    /// [`PasskeyStoreError`].
    async fn take_ceremony(
        &self,
        fingerprint: &TokenFingerprint,
        kind: CeremonyKind,
        now: DateTime<Utc>,
    ) -> Result<Option<CeremonyState>, PasskeyStoreError>;
}
