//! What signing in and linking with an outside provider share: the providers, the
//! front end's allowed return addresses, and starting a flow — the provider and the return
//! address checked, fresh secrets, the flow stored (by fingerprints only) so that any
//! instance can finish it.
//!
//! The callback (`sign_in/federated.rs`) decides whom it signs in, in this order: the
//! identity's user (provider and subject, never the address); the signed-in user who
//! started a link; an account holding the address only when linking by verified address is
//! on and both sides say verified, else `account_exists`; a new account when allowed. Then
//! every rule of a password login applies, at the exchange: active, verified where
//! required, the second factor, a session under the stamp it was proven under.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::identity::pkce_s256;
use crate::ports::{AuthorizationRequest, IdentityProviders, NewFlow, ProviderError, ProviderInfo};
use crate::{FLOW_TTL, FlowSecrets, IssuedUnder, OneTimeToken, ProviderId, ReturnUrls};

use super::core::Core;

failure_enum! {
    /// Why starting a flow, exchanging its code or managing identities failed.
    pub enum FederationError {
        /// No provider has this id (or an identity of the caller's has not this id).
        #[error("not found")]
        NotFound,
        /// The return address is not on the allow-list.
        #[error("return_to is not allowed")]
        ReturnUrlNotAllowed,
        /// The front end's PKCE challenge is not an S256 challenge.
        #[error("invalid code_challenge")]
        InvalidChallenge,
        /// The provider cannot be used now (its discovery not read yet).
        #[error("provider unavailable")]
        ProviderUnavailable,
        /// The exchange code is unknown, used, expired, or its verifier is wrong.
        #[error("invalid code")]
        InvalidCode,
        /// Too many failures from this client.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
        /// The account's address is not verified while that is required (at the exchange),
        /// or a provider is linked to an account whose address is not verified.
        #[error("email not verified")]
        EmailNotVerified,
        /// The account has a second factor and the session was not signed in with one.
        #[error("a session at aal2 is required")]
        Aal2Required,
        /// Linking from a session below `aal2` needs the current password.
        #[error("current password required")]
        PasswordRequired,
        /// The current password given is wrong (counted like a failed login).
        #[error("current password is incorrect")]
        WrongPassword,
        /// Unlinking would leave no way to sign in.
        #[error("the last way to sign in cannot be removed")]
        LastWayIn,
        /// The caller's credentials changed while the request ran: nothing was changed.
        #[error("credentials changed meanwhile")]
        Stale,
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

/// A flow started: where to send the browser, and the secret its cookie keeps.
pub struct FlowStart {
    /// The provider's authorization address.
    pub authorization_url: String,
    /// The browser's secret: set as an HttpOnly cookie, sent back at the callback.
    pub browser: OneTimeToken,
}

impl std::fmt::Debug for FlowStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowStart(***)")
    }
}

/// A checked destination of a flow: a configured provider, an allowed return address.
pub(super) struct FlowTarget {
    provider: ProviderInfo,
    return_to: String,
}

/// The providers and the return addresses, shared by [`super::SignIn`] and
/// [`super::Accounts`].
#[derive(Clone)]
pub struct Federation {
    pub(super) providers: Arc<dyn IdentityProviders>,
    pub(super) return_urls: ReturnUrls,
}

impl Federation {
    /// The providers of `providers`, returning only to `return_urls`.
    pub fn new(providers: Arc<dyn IdentityProviders>, return_urls: ReturnUrls) -> Self {
        Self {
            providers,
            return_urls,
        }
    }

    /// The configured providers.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.providers.list()
    }

    /// The provider named `raw`, if configured.
    pub(super) fn provider(&self, raw: &str) -> Result<ProviderInfo, FederationError> {
        ProviderId::parse(raw)
            .and_then(|id| self.providers.get(&id))
            .ok_or(FederationError::NotFound)
    }

    /// Where a flow goes: the configured provider `provider`, and `return_to` if it is on
    /// the allow-list.
    pub(super) fn target(
        &self,
        provider: &str,
        return_to: &str,
    ) -> Result<FlowTarget, FederationError> {
        Ok(FlowTarget {
            provider: self.provider(provider)?,
            return_to: self
                .return_urls
                .allow(return_to)
                .ok_or(FederationError::ReturnUrlNotAllowed)?,
        })
    }

    /// Starts a flow to `target`: signing in, or linking to `link` (the signed-in user,
    /// under their stamp now).
    pub(super) async fn start(
        &self,
        core: &Core,
        target: FlowTarget,
        client_challenge: Option<String>,
        link: Option<IssuedUnder>,
    ) -> Result<FlowStart, FederationError> {
        let FlowTarget {
            provider,
            return_to,
        } = target;
        if let Some(challenge) = &client_challenge
            && !is_s256_challenge(challenge)
        {
            return Err(FederationError::InvalidChallenge);
        }
        let secrets = FlowSecrets::generate();
        let request = AuthorizationRequest {
            state: secrets.state.expose().to_owned(),
            nonce: secrets.nonce(),
            pkce_challenge: pkce_s256(&secrets.pkce_verifier()),
        };
        let authorization_url = self
            .providers
            .authorization_url(&provider.id, &request)
            .await
            .map_err(provider_error)?;
        let now: DateTime<Utc> = core.now();
        core.federation
            .start_flow(NewFlow {
                state: secrets.state.fingerprint(),
                browser: secrets.browser.fingerprint(),
                provider: provider.id,
                return_to,
                client_challenge,
                link,
                expires_at: now + FLOW_TTL,
            })
            .await?;
        Ok(FlowStart {
            authorization_url,
            browser: secrets.browser,
        })
    }
}

/// An S256 challenge: 43 base64url characters (a SHA-256, unpadded).
fn is_s256_challenge(raw: &str) -> bool {
    raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A provider step's error, where the flow has not reached the provider's answer.
fn provider_error(error: ProviderError) -> FederationError {
    match error {
        ProviderError::Unknown => FederationError::NotFound,
        ProviderError::Unavailable(_) => FederationError::ProviderUnavailable,
        other => FederationError::Unexpected(anyhow::anyhow!(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s256_challenges_are_taken() {
        assert!(is_s256_challenge(&pkce_s256("a verifier")));
        assert!(!is_s256_challenge("plain"));
        assert!(!is_s256_challenge(&"a".repeat(44)));
        assert!(!is_s256_challenge(&format!("{}=", "a".repeat(42))));
    }
}
