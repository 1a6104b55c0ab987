//! Passkeys: registering one for a signed-in user, listing and removing them (signing in
//! with one is `auth/passkey_login.rs`). Each ceremony's state waits server-side, single use, for 5 minutes;
//! the client holds only an opaque ceremony id.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::instrument;

use super::{AccountError, AuthService, Authenticated};
use crate::ports::{
    AccountStoreError, CeremonyKind, CeremonyState, Changes, MfaStoreError, NewPasskey,
    PasskeyChange, PasskeyStore, PasskeyStoreError, RelyingParty, RepositoryError, StoredPasskey,
    WebauthnError,
};
use crate::{
    Aal, AuditAction, AuditEvent, ClientInfo, IssuedUnder, MailPurpose, OneTimeToken,
    PasswordAttempt, UserId,
};

/// How long a ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The longest passkey name kept, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The ports passkeys need.
pub struct PasskeyPorts {
    /// The WebAuthn relying party.
    pub relying_party: Arc<dyn RelyingParty>,
    /// Passkeys and ceremony states.
    pub store: Arc<dyn PasskeyStore>,
}

/// A ceremony begun: its id (for the finish) and the options for the browser.
#[derive(Debug)]
pub struct PasskeyCeremony {
    /// Opaque, single use; only its hash is stored.
    pub ceremony_id: OneTimeToken,
    /// What `navigator.credentials.create()` or `.get()` takes (`{"publicKey": …}`).
    pub options: Value,
}

failure_enum! {
    /// Why a passkey step failed.
    pub enum PasskeyError {
        /// The ceremony id is unknown, used, expired or of the other ceremony.
        #[error("invalid or expired ceremony")]
        InvalidCeremony,
        /// The registration response does not verify.
        #[error("passkey registration rejected")]
        RegistrationRejected,
        /// The passkey is registered already.
        #[error("passkey already registered")]
        AlreadyRegistered,
        /// The assertion does not verify, or names no passkey of an active user.
        #[error("passkey not accepted")]
        LoginRejected,
        /// No such passkey of the caller's.
        #[error("passkey not found")]
        NotFound,
        /// The account has a second factor and the session was not signed in with one.
        #[error("a session at aal2 is required")]
        Aal2Required,
        /// A verified passkey of an account whose address is not verified, while
        /// `REQUIRE_VERIFIED_EMAIL` is on: the same answer as for the right password; or a
        /// passkey to add to such an account (a way to sign in is added only to a verified
        /// address).
        #[error("email not verified")]
        EmailNotVerified,
        /// Adding a passkey from a session below `aal2` needs the current password.
        #[error("current password required")]
        PasswordRequired,
        /// The current password given is wrong (counted like a failed login).
        #[error("current password is incorrect")]
        WrongPassword,
        /// Too many failures from this client.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

super::errors::from_store_errors! { PasskeyError: RepositoryError, MfaStoreError, PasskeyStoreError; }

/// The password check of the lifecycle, as a passkey step sees it.
impl From<AccountError> for PasskeyError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::WrongPassword => Self::WrongPassword,
            AccountError::Aal2Required => Self::Aal2Required,
            AccountError::Throttled { retry_after } => Self::Throttled { retry_after },
            AccountError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

impl From<AccountStoreError> for PasskeyError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::PasskeyTaken => Self::AlreadyRegistered,
            AccountStoreError::PasskeyGone => Self::NotFound,
            // The ceremony's credentials changed before its finish was stored.
            AccountStoreError::StampMoved => Self::InvalidCeremony,
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            AccountStoreError::Unexpected(source) => Self::Unexpected(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

/// The WebAuthn user handle of `user`: 16 bytes derived from its id, stable across its
/// passkeys (authenticators group credentials by it), holding neither its address nor its
/// name.
pub fn user_handle(user: UserId) -> [u8; 16] {
    let digest = Sha256::digest(format!("flowrex webauthn user {}", user.get()).as_bytes());
    let mut handle = [0u8; 16];
    handle.copy_from_slice(&digest[..16]);
    handle
}

impl AuthService {
    /// Turns on passkeys.
    #[must_use]
    pub fn with_passkeys(mut self, ports: PasskeyPorts) -> Self {
        self.passkeys = Some(ports);
        self
    }

    pub(super) fn passkey_ports(&self) -> Result<&PasskeyPorts, PasskeyError> {
        self.passkeys
            .as_ref()
            .ok_or_else(|| PasskeyError::Unexpected(anyhow::anyhow!("passkeys are not configured")))
    }

    /// Begins registering a passkey for the caller. A way to sign in is added only to an
    /// account whose address is verified, and only with fresh proof: the current password
    /// (checked and counted like a login whenever it is given), or else a session at
    /// `aal2`; an account with a second factor needs an `aal2` session in any case. The
    /// ceremony is bound to the caller's stamp: a credential event before its finish ends
    /// it.
    ///
    /// # Errors
    /// [`PasskeyError::EmailNotVerified`], [`PasskeyError::Aal2Required`],
    /// [`PasskeyError::PasswordRequired`], [`PasskeyError::WrongPassword`],
    /// [`PasskeyError::Throttled`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn start_passkey_registration(
        &self,
        caller: &Authenticated,
        current: Option<&PasswordAttempt>,
        client: &ClientInfo,
    ) -> Result<PasskeyCeremony, PasskeyError> {
        let ports = self.passkey_ports()?;
        if !caller.user.is_verified() {
            return Err(PasskeyError::EmailNotVerified);
        }
        self.require_aal2(caller, PasskeyError::Aal2Required)
            .await?;
        match current {
            Some(current) => {
                self.check_current_password(&caller.user, current, client)
                    .await?;
            }
            None if caller.assurance.aal() >= Aal::Aal2 => {}
            None => return Err(PasskeyError::PasswordRequired),
        }
        let exclude: Vec<String> = ports
            .store
            .list(caller.user.id())
            .await?
            .into_iter()
            .map(|p| p.credential_id)
            .collect();
        let start = ports
            .relying_party
            .start_registration(
                user_handle(caller.user.id()),
                caller.user.email().as_str(),
                &exclude,
            )
            .map_err(|error| PasskeyError::Unexpected(error.into()))?;
        self.keep_ceremony(
            ports,
            CeremonyKind::Registration,
            Some(IssuedUnder::now(&caller.user)),
            start,
        )
        .await
    }

    /// Finishes a registration begun by the same user, if no credential event happened
    /// since: the passkey, stored under `name` (or a default one), with a notice mailed.
    ///
    /// # Errors
    /// [`PasskeyError::InvalidCeremony`], [`PasskeyError::RegistrationRejected`],
    /// [`PasskeyError::AlreadyRegistered`]; store failures.
    #[instrument(skip_all, fields(user_id = caller.user.id().get()))]
    pub async fn finish_passkey_registration(
        &self,
        caller: &Authenticated,
        ceremony_id: &str,
        response: &Value,
        name: Option<String>,
    ) -> Result<StoredPasskey, PasskeyError> {
        let ports = self.passkey_ports()?;
        let (state, issued) = self
            .take_ceremony(ports, ceremony_id, CeremonyKind::Registration)
            .await?
            .and_then(|state| {
                let issued = state
                    .user
                    .filter(|issued| caller.user.still_holds(*issued))?;
                Some((state, issued))
            })
            .ok_or(PasskeyError::InvalidCeremony)?;
        let registered = ports
            .relying_party
            .finish_registration(response, &state.state)
            .map_err(|error| match error {
                WebauthnError::Rejected(cause) => {
                    tracing::info!(error = %cause, "passkey registration rejected");
                    PasskeyError::RegistrationRejected
                }
                WebauthnError::Unexpected(cause) => PasskeyError::Unexpected(cause),
            })?;
        let name = name
            .map(|n| n.trim().chars().take(MAX_NAME_CHARS).collect::<String>())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Passkey".to_owned());
        let changes = Changes {
            issued_under: Some(issued),
            audit: vec![
                AuditEvent::own(AuditAction::PasskeyAdded, caller.user.id())
                    .in_session(&caller.session)
                    .with("name", name.as_str()),
            ],
            passkey: Some(PasskeyChange::Add(NewPasskey {
                user: caller.user.id(),
                name,
                registered,
            })),
            ..Changes::default()
        };
        let stored = self
            .apply_with_notice(changes, caller.user.email(), MailPurpose::PasskeyAdded)
            .await?
            .passkey
            .ok_or_else(|| PasskeyError::Unexpected(anyhow::anyhow!("no passkey stored")))?;
        tracing::info!(passkey = stored.id, "passkey registered");
        Ok(stored)
    }

    /// The caller's passkeys.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list_passkeys(
        &self,
        caller: &Authenticated,
    ) -> Result<Vec<StoredPasskey>, PasskeyError> {
        Ok(self.passkey_ports()?.store.list(caller.user.id()).await?)
    }

    /// Removes one of the caller's passkeys (at `aal2` when the account has a second
    /// factor, as for adding one): a credential event, announced by a notice.
    ///
    /// # Errors
    /// [`PasskeyError::NotFound`], [`PasskeyError::Aal2Required`]; store failures.
    pub async fn delete_passkey(
        &self,
        caller: &Authenticated,
        id: i64,
    ) -> Result<(), PasskeyError> {
        self.passkey_ports()?;
        self.require_aal2(caller, PasskeyError::Aal2Required)
            .await?;
        let changes = Changes {
            passkey: Some(PasskeyChange::Remove {
                user: caller.user.id(),
                id,
            }),
            audit: vec![
                AuditEvent::own(AuditAction::PasskeyRemoved, caller.user.id())
                    .in_session(&caller.session)
                    .with("passkey", id),
            ],
            ..Changes::default()
        };
        self.apply_with_notice(changes, caller.user.email(), MailPurpose::PasskeyRemoved)
            .await?;
        Ok(())
    }

    /// Deletes the ceremony states that expired before `before` (run by the session
    /// cleanup).
    pub(super) async fn delete_expired_ceremonies(&self, before: DateTime<Utc>) {
        let Some(ports) = &self.passkeys else {
            return;
        };
        match ports.store.delete_expired_ceremonies(before).await {
            Ok(deleted) => tracing::debug!(deleted, "expired passkey ceremonies deleted"),
            Err(error) => tracing::warn!(%error, "expired passkey ceremonies not deleted"),
        }
    }

    pub(super) async fn keep_ceremony(
        &self,
        ports: &PasskeyPorts,
        kind: CeremonyKind,
        user: Option<IssuedUnder>,
        start: crate::ports::CeremonyStart,
    ) -> Result<PasskeyCeremony, PasskeyError> {
        let now = self.now();
        let ceremony_id = OneTimeToken::generate();
        ports
            .store
            .save_ceremony(
                &ceremony_id.fingerprint(),
                kind,
                CeremonyState {
                    user,
                    state: start.state,
                },
                now + CEREMONY_TTL,
                now,
            )
            .await?;
        Ok(PasskeyCeremony {
            ceremony_id,
            options: start.options,
        })
    }

    pub(super) async fn take_ceremony(
        &self,
        ports: &PasskeyPorts,
        ceremony_id: &str,
        kind: CeremonyKind,
    ) -> Result<Option<CeremonyState>, PasskeyError> {
        let Some(id) = OneTimeToken::parse(ceremony_id) else {
            return Ok(None);
        };
        Ok(ports
            .store
            .take_ceremony(&id.fingerprint(), kind, self.now())
            .await?)
    }
}
