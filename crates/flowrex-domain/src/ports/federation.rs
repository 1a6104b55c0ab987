//! Sign-in with an outside provider: the providers themselves (building the authorization
//! address, redeeming the provider's answer into a checked identity) and the store of
//! linked identities and of flows between their start and their exchange — server-side,
//! single use, with an expiry, so that any instance can finish a flow another began.
//! Identities are linked and unlinked through [`super::AccountStore::apply`], with the
//! account changes they come with.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    Identity, IssuedUnder, ProvenIdentity, ProviderId, ProviderKind, ProviderRules,
    TokenFingerprint, UserId,
};

/// A configured provider, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its id.
    pub id: ProviderId,
    /// Its display name.
    pub name: String,
    /// How Flowrex talks to it.
    pub kind: ProviderKind,
    /// What it may do.
    pub rules: ProviderRules,
}

/// What the authorization address carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The `state` parameter.
    pub state: String,
    /// The `nonce` the ID token must carry (OpenID Connect).
    pub nonce: String,
    /// The PKCE S256 challenge of the verifier the exchange will send.
    pub pkce_challenge: String,
}

/// What the provider's callback brought, with the flow's derived secrets.
pub struct ProviderAnswer {
    /// The authorization code.
    pub code: String,
    /// The `iss` response parameter (RFC 9207), when sent.
    pub iss: Option<String>,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier to send with the code.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for ProviderAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderAnswer")
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

/// Why a provider step failed. No variant carries the provider's own text to a client.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No provider has this id.
    #[error("unknown provider")]
    Unknown,
    /// The provider is configured but cannot be used now (its discovery document was not
    /// read yet).
    #[error("provider unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The provider refused or failed: the code exchange, its API, a transport error.
    #[error("provider error")]
    Failed(#[source] anyhow::Error),
    /// The ID token (or the callback's `iss`) failed a check.
    #[error("invalid ID token")]
    InvalidIdToken(#[source] anyhow::Error),
}

/// The outside providers, as configured.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityProviders: Send + Sync {
    /// The configured providers, in their configured order.
    fn list(&self) -> Vec<ProviderInfo>;

    /// The provider `id`, if configured.
    fn get(&self, id: &ProviderId) -> Option<ProviderInfo> {
        self.list().into_iter().find(|info| &info.id == id)
    }

    /// The address to send the browser to, at the provider.
    ///
    /// # Errors
    /// [`ProviderError::Unknown`], [`ProviderError::Unavailable`].
    async fn authorization_url(
        &self,
        provider: &ProviderId,
        request: &AuthorizationRequest,
    ) -> Result<String, ProviderError>;

    /// Redeems the provider's answer: the code exchanged with the PKCE verifier, the ID
    /// token checked (signature by the provider's asymmetric keys, `iss`, `aud`, `azp`,
    /// `exp`, `iat`, `nonce`) — or, for GitHub, the user and their addresses read from its
    /// API — into the identity it proves.
    ///
    /// # Errors
    /// [`ProviderError::Unknown`], [`ProviderError::Unavailable`],
    /// [`ProviderError::Failed`], [`ProviderError::InvalidIdToken`].
    async fn redeem(
        &self,
        provider: &ProviderId,
        answer: &ProviderAnswer,
    ) -> Result<ProvenIdentity, ProviderError>;
}

failure_enum! {
    /// Why a federation store call failed.
    pub enum FederationStoreError {}
    /// The store cannot be reached.
    unavailable: "federation store unavailable";
    failed: "federation store failed";
}

/// A flow about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    /// The `state`'s fingerprint.
    pub state: TokenFingerprint,
    /// The browser cookie's fingerprint.
    pub browser: TokenFingerprint,
    /// Which provider.
    pub provider: ProviderId,
    /// Where the front end is sent back to (on the allow-list).
    pub return_to: String,
    /// The front end's own PKCE S256 challenge for the exchange, if it sent one.
    pub client_challenge: Option<String>,
    /// The signed-in user who links the provider, under their stamp; `None` signs in.
    pub link: Option<IssuedUnder>,
    /// When the flow stops working.
    pub expires_at: DateTime<Utc>,
}

/// A flow whose `state` came back (and is spent now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedFlow {
    /// Its id.
    pub id: i64,
    /// The browser cookie's fingerprint it is bound to.
    pub browser: TokenFingerprint,
    /// Which provider it was started for.
    pub provider: ProviderId,
    /// Where the front end is sent back to.
    pub return_to: String,
    /// The front end's own PKCE challenge, if any.
    pub client_challenge: Option<String>,
    /// The user linking, under their stamp then; `None` signs in.
    pub link: Option<IssuedUnder>,
}

/// A finished flow's exchange code, taken (and spent now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCode {
    /// The user it signs in, under the stamp the sign-in was proven under.
    pub user: IssuedUnder,
    /// The provider signed in with.
    pub provider: ProviderId,
    /// The front end's own PKCE challenge the exchange must answer, if it sent one.
    pub client_challenge: Option<String>,
    /// The browser cookie's fingerprint the flow is bound to: without the front end's own
    /// challenge, only that browser exchanges the code.
    pub browser: TokenFingerprint,
}

/// Linked identities, and flows between their start and their exchange.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// The identity of `provider` with `subject`, if linked.
    ///
    /// # Errors
    /// [`FederationStoreError::Unavailable`] or [`FederationStoreError::Unexpected`].
    async fn find_identity(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Identity>, FederationStoreError>;

    /// The user's identities, oldest first.
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn identities(&self, user: UserId) -> Result<Vec<Identity>, FederationStoreError>;

    /// Records a sign-in with identity `id` at `at`, with the address the provider reports
    /// now (the profile kept current).
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn record_login(
        &self,
        id: i64,
        email: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), FederationStoreError>;

    /// Stores a started flow.
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn start_flow(&self, flow: NewFlow) -> Result<(), FederationStoreError>;

    /// Takes the flow of `state` if it is unspent and not expired at `at`, spending its
    /// state: of two concurrent takes at most one gets it.
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn take_flow(
        &self,
        state: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<ReturnedFlow>, FederationStoreError>;

    /// Gives the returned flow `id` its exchange code, for `user`, working until
    /// `expires_at`.
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn issue_code(
        &self,
        id: i64,
        code: &TokenFingerprint,
        user: IssuedUnder,
        expires_at: DateTime<Utc>,
    ) -> Result<(), FederationStoreError>;

    /// Takes the flow of exchange code `code` if it is unspent and not expired at `at`,
    /// spending it: of two concurrent takes at most one gets it.
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn take_code(
        &self,
        code: &TokenFingerprint,
        at: DateTime<Utc>,
    ) -> Result<Option<RedeemedCode>, FederationStoreError>;

    /// Deletes flows that expired before `before`; how many.
    ///
    /// # Errors
    /// As [`Self::find_identity`].
    async fn purge_flows(&self, before: DateTime<Utc>) -> Result<u64, FederationStoreError>;
}
