//! Linked identities and flows in [`InMemoryStore`] (identities linked and unlinked by the
//! account changes, `accounts.rs`), and [`ScriptedProviders`]: outside providers whose
//! answers a test sets, for the use cases' tests (the real providers are the adapters').

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    AccountStoreError, AuthorizationRequest, FederationStore, FederationStoreError, IdentityChange,
    IdentityProviders, NewFlow, ProviderAnswer, ProviderError, ProviderInfo, RedeemedCode,
    ReturnedFlow,
};
use crate::{
    Identity, IdentityOwner, IssuedUnder, ProvenIdentity, ProviderId, TokenFingerprint, User,
    UserId,
};

use super::{InMemoryStore, Passkeys};

/// Identities and flows as the store keeps them.
#[derive(Debug, Default, Clone)]
pub(super) struct Federated {
    identities: Vec<Identity>,
    flows: Vec<FlowRow>,
    next_id: i64,
}

#[derive(Debug, Clone)]
struct FlowRow {
    id: i64,
    flow: NewFlow,
    state_used: bool,
    code: Option<(TokenFingerprint, IssuedUnder, DateTime<Utc>)>,
    code_used: bool,
}

/// Applies `change` to `federated`, for `inserted` (the user the same set inserts).
pub(super) fn apply_identity(
    federated: &mut Federated,
    change: IdentityChange,
    inserted: Option<UserId>,
    users: &[User],
    passkeys: &Passkeys,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    match change {
        IdentityChange::Link(new) => {
            if federated
                .identities
                .iter()
                .any(|i| i.provider == new.provider && i.subject == new.subject)
            {
                return Err(AccountStoreError::IdentityTaken);
            }
            let user = match new.owner {
                IdentityOwner::User(user) => user,
                IdentityOwner::Inserted => inserted.ok_or_else(|| {
                    AccountStoreError::Unexpected(anyhow::anyhow!("no inserted user"))
                })?,
            };
            federated.next_id += 1;
            federated.identities.push(Identity {
                id: federated.next_id,
                user,
                provider: new.provider,
                subject: new.subject,
                email: new.email,
                created_at: at,
                last_login_at: Some(at),
            });
            Ok(())
        }
        IdentityChange::Unlink { user, id } => {
            let before = federated.identities.len();
            federated
                .identities
                .retain(|i| !(i.id == id && i.user == user));
            if federated.identities.len() == before {
                return Err(AccountStoreError::IdentityGone);
            }
            let password = users
                .iter()
                .find(|u| u.id() == user)
                .is_some_and(|u| u.password_hash().is_usable());
            let passkey = passkeys.stored.iter().any(|p| p.user == user);
            let identity = federated.identities.iter().any(|i| i.user == user);
            if !(password || passkey || identity) {
                return Err(AccountStoreError::LastWayIn);
            }
            Ok(())
        }
    }
}

/// Removes every identity of `user` (and the flows of theirs).
pub(super) fn remove_identities(federated: &mut Federated, user: UserId) {
    federated.identities.retain(|i| i.user != user);
}

/// Removes a deleted user's identities and flows.
pub(super) fn forget_user(federated: &mut Federated, user: UserId) {
    remove_identities(federated, user);
    federated.flows.retain(|row| {
        row.flow.link.is_none_or(|link| link.user != user)
            && row
                .code
                .as_ref()
                .is_none_or(|(_, issued, _)| issued.user != user)
    });
}

impl InMemoryStore {
    pub(super) fn lock_federated(&self) -> std::sync::MutexGuard<'_, Federated> {
        self.federated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl FederationStore for InMemoryStore {
    async fn find_identity(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Identity>, FederationStoreError> {
        Ok(self
            .lock_federated()
            .identities
            .iter()
            .find(|i| &i.provider == provider && i.subject == subject)
            .cloned())
    }

    async fn identities(&self, user: UserId) -> Result<Vec<Identity>, FederationStoreError> {
        Ok(self
            .lock_federated()
            .identities
            .iter()
            .filter(|i| i.user == user)
            .cloned()
            .collect())
    }

    async fn record_login(
        &self,
        id: i64,
        email: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), FederationStoreError> {
        for identity in self
            .lock_federated()
            .identities
            .iter_mut()
            .filter(|i| i.id == id)
        {
            identity.last_login_at = Some(at);
            if email.is_some() {
                identity.email.clone_from(&email);
            }
        }
        Ok(())
    }

    async fn start_flow(&self, flow: NewFlow) -> Result<(), FederationStoreError> {
        let mut federated = self.lock_federated();
        federated.next_id += 1;
        let id = federated.next_id;
        federated.flows.push(FlowRow {
            id,
            flow,
            state_used: false,
            code: None,
            code_used: false,
        });
        Ok(())
    }

    async fn take_flow(
        &self,
        state: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<ReturnedFlow>, FederationStoreError> {
        let mut federated = self.lock_federated();
        let Some(row) = federated
            .flows
            .iter_mut()
            .find(|row| &row.flow.state == state && !row.state_used && row.flow.expires_at > at)
        else {
            return Ok(None);
        };
        row.state_used = true;
        Ok(Some(ReturnedFlow {
            id: row.id,
            browser: row.flow.browser.clone(),
            provider: row.flow.provider.clone(),
            return_to: row.flow.return_to.clone(),
            client_challenge: row.flow.client_challenge.clone(),
            link: row.flow.link,
        }))
    }

    async fn issue_code(
        &self,
        id: i64,
        code: &TokenFingerprint,
        user: IssuedUnder,
        expires_at: DateTime<Utc>,
    ) -> Result<(), FederationStoreError> {
        for row in self
            .lock_federated()
            .flows
            .iter_mut()
            .filter(|row| row.id == id)
        {
            row.code = Some((code.clone(), user, expires_at));
        }
        Ok(())
    }

    async fn take_code(
        &self,
        code: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<RedeemedCode>, FederationStoreError> {
        let mut federated = self.lock_federated();
        let Some(row) = federated.flows.iter_mut().find(|row| {
            !row.code_used
                && row
                    .code
                    .as_ref()
                    .is_some_and(|(stored, _, expires)| stored == code && *expires > at)
        }) else {
            return Ok(None);
        };
        row.code_used = true;
        let Some((_, user, _)) = row.code else {
            return Ok(None);
        };
        Ok(Some(RedeemedCode {
            user,
            provider: row.flow.provider.clone(),
            client_challenge: row.flow.client_challenge.clone(),
            browser: row.flow.browser.clone(),
        }))
    }

    async fn purge_flows(&self, before: DateTime<Utc>) -> Result<u64, FederationStoreError> {
        let mut federated = self.lock_federated();
        let count = federated.flows.len();
        federated.flows.retain(|row| {
            row.flow.expires_at >= before
                || row
                    .code
                    .as_ref()
                    .is_some_and(|(_, _, expires)| *expires >= before)
        });
        Ok((count - federated.flows.len()) as u64)
    }
}

/// Outside providers whose answers a test sets: each provider of the list answers a code
/// with the identity [`Self::answer`] set for it, once the flow's nonce and verifier are
/// the ones its authorization address carried — as a real provider binds them.
#[derive(Debug, Default)]
pub struct ScriptedProviders {
    providers: Vec<ProviderInfo>,
    /// Per code: the identity it proves, or the failure it causes.
    answers: Mutex<HashMap<String, Result<ProvenIdentity, &'static str>>>,
    /// Per state: the nonce and PKCE challenge the authorization address carried.
    authorized: Mutex<HashMap<String, AuthorizationRequest>>,
}

impl ScriptedProviders {
    /// The providers `providers`.
    pub fn new(providers: Vec<ProviderInfo>) -> Self {
        Self {
            providers,
            ..Self::default()
        }
    }

    /// The provider answers `code` with `identity`.
    pub fn answer(&self, code: &str, identity: ProvenIdentity) {
        self.lock_answers().insert(code.to_owned(), Ok(identity));
    }

    /// The provider's ID token for `code` fails its checks.
    pub fn refuse(&self, code: &str) {
        self.lock_answers()
            .insert(code.to_owned(), Err("invalid ID token"));
    }

    /// The `state` of the last authorization address built.
    pub fn last_state(&self) -> Option<String> {
        self.authorized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .next()
            .cloned()
    }

    fn lock_answers(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Result<ProvenIdentity, &'static str>>> {
        self.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl IdentityProviders for ScriptedProviders {
    fn list(&self) -> Vec<ProviderInfo> {
        self.providers.clone()
    }

    async fn authorization_url(
        &self,
        provider: &ProviderId,
        request: &AuthorizationRequest,
    ) -> Result<String, ProviderError> {
        self.get(provider).ok_or(ProviderError::Unknown)?;
        let mut authorized = self
            .authorized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        authorized.clear();
        authorized.insert(request.state.clone(), request.clone());
        Ok(format!(
            "https://{provider}.example/authorize?state={}",
            request.state
        ))
    }

    async fn redeem(
        &self,
        provider: &ProviderId,
        answer: &ProviderAnswer,
    ) -> Result<ProvenIdentity, ProviderError> {
        self.get(provider).ok_or(ProviderError::Unknown)?;
        let bound = self
            .authorized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .any(|request| {
                request.nonce == answer.nonce
                    && request.pkce_challenge == crate::identity::pkce_s256(&answer.pkce_verifier)
            });
        if !bound {
            return Err(ProviderError::InvalidIdToken(anyhow::anyhow!(
                "nonce or verifier not the flow's"
            )));
        }
        match self.lock_answers().get(&answer.code) {
            Some(Ok(identity)) => Ok(identity.clone()),
            Some(Err(why)) => Err(ProviderError::InvalidIdToken(anyhow::anyhow!(*why))),
            None => Err(ProviderError::Failed(anyhow::anyhow!("unknown code"))),
        }
    }
}
