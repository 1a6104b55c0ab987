//! Passkeys and ceremony states in [`InMemoryStore`] (added and removed by the account
//! changes, `accounts.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    AccountStoreError, CeremonyKind, CeremonyState, NewPasskey, PasskeyChange, PasskeyStore,
    PasskeyStoreError, StoredPasskey,
};
use crate::{TokenFingerprint, UserId};

use super::{InMemoryStore, Passkeys};

/// Applies `change` to `passkeys`: the stored passkey when one was added.
pub(super) fn apply_passkey(
    passkeys: &mut Passkeys,
    change: PasskeyChange,
    at: DateTime<Utc>,
) -> Result<Option<StoredPasskey>, AccountStoreError> {
    match change {
        PasskeyChange::Add(NewPasskey {
            user,
            name,
            registered,
        }) => {
            if passkeys
                .stored
                .iter()
                .any(|p| p.credential_id == registered.credential_id)
            {
                return Err(AccountStoreError::PasskeyTaken);
            }
            passkeys.next_id += 1;
            let stored = StoredPasskey {
                id: passkeys.next_id,
                user,
                name,
                credential_id: registered.credential_id,
                credential: registered.credential,
                created_at: at,
                last_used_at: None,
            };
            passkeys.stored.push(stored.clone());
            Ok(Some(stored))
        }
        PasskeyChange::Remove { user, id } => {
            let before = passkeys.stored.len();
            passkeys.stored.retain(|p| !(p.id == id && p.user == user));
            if passkeys.stored.len() == before {
                return Err(AccountStoreError::PasskeyGone);
            }
            Ok(None)
        }
    }
}

/// Removes every passkey of `user`.
pub(super) fn remove_passkeys(passkeys: &mut Passkeys, user: UserId) {
    passkeys.stored.retain(|p| p.user != user);
    passkeys
        .ceremonies
        .retain(|(_, _, state, _)| state.user.is_none_or(|issued| issued.user != user));
}

impl InMemoryStore {
    pub(super) fn lock_passkeys(&self) -> std::sync::MutexGuard<'_, Passkeys> {
        self.passkeys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every stored passkey of `user`, oldest first.
    pub fn passkeys_of(&self, user: UserId) -> Vec<StoredPasskey> {
        self.lock_passkeys()
            .stored
            .iter()
            .filter(|p| p.user == user)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl PasskeyStore for InMemoryStore {
    async fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, PasskeyStoreError> {
        Ok(self.passkeys_of(user))
    }

    async fn find_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, PasskeyStoreError> {
        Ok(self
            .lock_passkeys()
            .stored
            .iter()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    async fn record_use(
        &self,
        id: i64,
        checked: &str,
        updated: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool, PasskeyStoreError> {
        let mut passkeys = self.lock_passkeys();
        let Some(passkey) = passkeys
            .stored
            .iter_mut()
            .find(|p| p.id == id && p.credential == checked)
        else {
            return Ok(false);
        };
        passkey.last_used_at = Some(at);
        if let Some(credential) = updated {
            passkey.credential = credential;
        }
        Ok(true)
    }

    async fn delete_expired_ceremonies(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, PasskeyStoreError> {
        let mut passkeys = self.lock_passkeys();
        let count = passkeys.ceremonies.len();
        passkeys
            .ceremonies
            .retain(|(_, _, _, expires_at)| *expires_at >= before);
        Ok(u64::try_from(count - passkeys.ceremonies.len()).unwrap_or(0))
    }

    async fn save_ceremony(
        &self,
        fingerprint: &TokenFingerprint,
        kind: CeremonyKind,
        state: CeremonyState,
        expires_at: DateTime<Utc>,
        _at: DateTime<Utc>,
    ) -> Result<(), PasskeyStoreError> {
        self.lock_passkeys()
            .ceremonies
            .push((fingerprint.clone(), kind, state, expires_at));
        Ok(())
    }

    async fn take_ceremony(
        &self,
        fingerprint: &TokenFingerprint,
        kind: CeremonyKind,
        now: DateTime<Utc>,
    ) -> Result<Option<CeremonyState>, PasskeyStoreError> {
        let mut passkeys = self.lock_passkeys();
        let Some(index) = passkeys
            .ceremonies
            .iter()
            .position(|(stored, stored_kind, _, _)| stored == fingerprint && *stored_kind == kind)
        else {
            return Ok(None);
        };
        let (_, _, state, expires_at) = passkeys.ceremonies.remove(index);
        Ok((expires_at > now).then_some(state))
    }
}
