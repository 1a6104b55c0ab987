//! Passkey ceremonies' state, kept server-side between a ceremony's start and its finish:
//! single use, for [`CEREMONY_TTL`]; the client holds only an opaque id. And the user
//! handle both ceremonies name an account by.

use chrono::Duration;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Core;
use crate::ports::{CeremonyKind, CeremonyStart, CeremonyState, PasskeyStoreError};
use crate::{IssuedUnder, OneTimeToken, UserId};

/// How long a ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// A ceremony begun: its id (for the finish) and the options for the browser.
#[derive(Debug)]
pub struct PasskeyCeremony {
    /// Opaque, single use; only its hash is stored.
    pub ceremony_id: OneTimeToken,
    /// What `navigator.credentials.create()` or `.get()` takes (`{"publicKey": …}`).
    pub options: Value,
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

impl Core {
    /// Keeps a ceremony begun (for `user`, under their stamp, when it registers a passkey):
    /// its id and the options for the browser.
    pub(in crate::auth) async fn keep_ceremony(
        &self,
        kind: CeremonyKind,
        user: Option<IssuedUnder>,
        start: CeremonyStart,
    ) -> Result<PasskeyCeremony, PasskeyStoreError> {
        let now = self.now();
        let ceremony_id = OneTimeToken::generate();
        self.passkeys
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

    /// Takes the state of the ceremony `ceremony_id` of `kind` back, once, if it is unexpired.
    pub(in crate::auth) async fn take_ceremony(
        &self,
        ceremony_id: &str,
        kind: CeremonyKind,
    ) -> Result<Option<CeremonyState>, PasskeyStoreError> {
        let Some(id) = OneTimeToken::parse(ceremony_id) else {
            return Ok(None);
        };
        self.passkeys
            .take_ceremony(&id.fingerprint(), kind, self.now())
            .await
    }
}
