//! Sign-in with an outside provider, as the domain sees it: which provider
//! ([`ProviderId`]), what it vouched for once every check of its answer passed
//! ([`ProvenIdentity`]), the link between a provider's account and a user ([`Identity`],
//! keyed by provider and subject, never by address), the rules of each provider
//! ([`ProviderRules`]), the front end's allowed return addresses ([`ReturnUrls`]), and the
//! fixed error codes a refused flow reports ([`FederationRefusal`]).
//!
//! A flow's secrets — the `state` in the provider's URL and the browser's cookie — are
//! [`OneTimeToken`]s; only their fingerprints are stored. The `nonce` and the PKCE verifier
//! are derived from the two ([`FlowSecrets`]), so that nothing the store holds lets anyone
//! finish a flow.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::{EmailAddress, OneTimeToken, UserId};

/// How long a started flow (the `state`) can be finished.
pub const FLOW_TTL: Duration = Duration::minutes(10);

/// How long the one-time exchange code a finished flow hands the front end works.
pub const EXCHANGE_CODE_TTL: Duration = Duration::seconds(60);

/// The longest provider id, in characters.
const MAX_PROVIDER_ID: usize = 32;

/// The longest subject kept, in characters (OpenID Connect allows 255 ASCII characters).
pub const MAX_SUBJECT: usize = 255;

/// Whether `raw` can key an identity: 1 to [`MAX_SUBJECT`] printable ASCII characters
/// (OpenID Connect's `sub`), without surrounding spaces — never cut short, and never two
/// subjects a database collation could take for one.
pub fn is_subject(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= MAX_SUBJECT
        && raw.bytes().all(|b| (0x20..0x7f).contains(&b))
        && raw.trim() == raw
}

/// A configured provider's id (`google`, `corp-sso`): lower-case letters, digits and `-`,
/// at most 32 characters, starting with a letter or a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(String);

impl ProviderId {
    /// `raw` if it has the shape of a provider id.
    pub fn parse(raw: &str) -> Option<Self> {
        let shaped = !raw.is_empty()
            && raw.len() <= MAX_PROVIDER_ID
            && !raw.starts_with('-')
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        shaped.then(|| Self(raw.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How Flowrex talks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// OpenID Connect: discovery, an ID token checked against the provider's keys.
    Oidc,
    /// GitHub's OAuth apps: no ID token; the user and their addresses from its API.
    Github,
}

impl ProviderKind {
    /// As configured and listed (`oidc`, `github`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Github => "github",
        }
    }

    /// The kind configured as [`Self::as_str`], if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Oidc, Self::Github]
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }
}

/// What one provider may do, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderRules {
    /// An unknown identity with an address no account holds makes a new account.
    pub create_accounts: bool,
    /// An unknown identity whose address an account holds is linked to it — only when the
    /// provider says the address is verified and the account's address is verified too.
    pub link_by_verified_email: bool,
}

impl Default for ProviderRules {
    /// New accounts yes, linking by address no.
    fn default() -> Self {
        Self {
            create_accounts: true,
            link_by_verified_email: false,
        }
    }
}

/// What a provider vouched for, once every check of its answer passed (the state, the
/// code exchange, the ID token's signature, issuer, audience, expiry and nonce; or
/// GitHub's API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenIdentity {
    /// Which provider.
    pub provider: ProviderId,
    /// The provider's stable key of the account: the ID token's `sub` (for Microsoft's
    /// multi-tenant endpoint `tid` and `oid`), GitHub's numeric id. Never the address.
    pub subject: String,
    /// The address the provider reports, if any and well-formed.
    pub email: Option<EmailAddress>,
    /// Whether the provider says it verified that address (GitHub: the `verified` flag of
    /// that very address).
    pub email_verified: bool,
    /// A display name, if the provider gave one.
    pub name: Option<String>,
}

impl ProvenIdentity {
    /// The address, if the provider vouches that its holder proved it.
    pub fn verified_email(&self) -> Option<&EmailAddress> {
        self.email.as_ref().filter(|_| self.email_verified)
    }
}

/// A provider's account linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Its id.
    pub id: i64,
    /// Whose.
    pub user: UserId,
    /// Which provider.
    pub provider: ProviderId,
    /// The provider's key of the account.
    pub subject: String,
    /// The address the provider reported when it was linked or last signed in with.
    pub email: Option<String>,
    /// When it was linked.
    pub created_at: DateTime<Utc>,
    /// When it was last signed in with.
    pub last_login_at: Option<DateTime<Utc>>,
}

/// The user a new identity is linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityOwner {
    /// An existing user.
    User(UserId),
    /// The user the same change set inserts (an account made by signing in).
    Inserted,
}

/// An identity about to be linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentity {
    /// Whose.
    pub owner: IdentityOwner,
    /// Which provider.
    pub provider: ProviderId,
    /// The provider's key of the account.
    pub subject: String,
    /// The address the provider reported.
    pub email: Option<String>,
}

impl NewIdentity {
    /// The identity `proven` for `owner`.
    pub fn of(proven: &ProvenIdentity, owner: IdentityOwner) -> Self {
        Self {
            owner,
            provider: proven.provider.clone(),
            subject: proven.subject.clone(),
            email: proven.email.as_ref().map(|email| email.as_str().to_owned()),
        }
    }
}

/// The front end's addresses a flow may return to: compared whole, never by prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnUrls(Vec<String>);

impl ReturnUrls {
    /// The allow-list.
    pub fn new(urls: Vec<String>) -> Self {
        Self(urls)
    }

    /// `raw`, if it is on the list, exactly.
    pub fn allow(&self, raw: &str) -> Option<String> {
        self.0.iter().find(|url| url.as_str() == raw).cloned()
    }

    /// The first allowed address: where a flow that named none returns to.
    pub fn first(&self) -> Option<String> {
        self.0.first().cloned()
    }
}

/// A flow's secrets: the `state` sent through the provider and back, and the secret the
/// browser keeps in a cookie. The `nonce` and the PKCE verifier are derived from both, so
/// that only the browser that started the flow, with the provider's answer, can finish it.
pub struct FlowSecrets {
    /// The `state` parameter.
    pub state: OneTimeToken,
    /// The browser's cookie.
    pub browser: OneTimeToken,
}

impl FlowSecrets {
    /// New random secrets.
    pub fn generate() -> Self {
        Self {
            state: OneTimeToken::generate(),
            browser: OneTimeToken::generate(),
        }
    }

    /// The ID token's expected `nonce`: 64 hex digits.
    pub fn nonce(&self) -> String {
        self.derive("flowrex nonce")
    }

    /// The PKCE code verifier sent with the code exchange: 64 hex digits (RFC 7636 asks for
    /// 43 to 128 unreserved characters).
    pub fn pkce_verifier(&self) -> String {
        self.derive("flowrex pkce")
    }

    fn derive(&self, label: &str) -> String {
        let digest = Sha256::new()
            .chain_update(label.as_bytes())
            .chain_update([0])
            .chain_update(self.browser.expose().as_bytes())
            .chain_update([0])
            .chain_update(self.state.expose().as_bytes())
            .finalize();
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for FlowSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowSecrets(***)")
    }
}

/// The S256 PKCE challenge of `verifier` (RFC 7636): base64url without padding of its
/// SHA-256.
pub fn pkce_s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Why a flow was refused: a fixed lower-case code, the only thing the front end learns
/// (`return_to?error=CODE`), never the provider's own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FederationRefusal {
    /// An account holds the provider's address, and no link is allowed: sign in the usual
    /// way and link from there.
    AccountExists,
    /// The identity is linked to another user.
    IdentityInUse,
    /// The `state` is unknown, used, expired, or from another browser.
    InvalidState,
    /// The provider refused or failed (its error, a failed code exchange, an unreachable
    /// provider).
    ProviderError,
    /// The ID token failed a check (signature, key, algorithm, `iss`, `aud`, `azp`, `exp`,
    /// `iat`, `nonce`), or the callback's `iss` is not the provider's.
    InvalidIdToken,
    /// No account holds the identity and this provider makes none.
    SignupDisabled,
    /// A new account needs an address, and the provider gave none.
    EmailRequired,
    /// The account may not sign in (deactivated).
    AccountDisabled,
    /// The account's address must be verified first (`REQUIRE_VERIFIED_EMAIL`).
    EmailNotVerified,
    /// Too many failed sign-ins from this client.
    Throttled,
    /// Linking needs a verified address on the account (as adding any way to sign in).
    VerificationRequired,
    /// The linking user's credentials changed since the flow began.
    LinkExpired,
    /// The provider is configured but cannot be used now (its discovery not read yet).
    ProviderUnavailable,
}

impl FederationRefusal {
    /// Every code, as documented.
    pub const ALL: [Self; 13] = [
        Self::AccountExists,
        Self::IdentityInUse,
        Self::InvalidState,
        Self::ProviderError,
        Self::InvalidIdToken,
        Self::SignupDisabled,
        Self::EmailRequired,
        Self::AccountDisabled,
        Self::EmailNotVerified,
        Self::Throttled,
        Self::VerificationRequired,
        Self::LinkExpired,
        Self::ProviderUnavailable,
    ];

    /// The code.
    pub fn code(self) -> &'static str {
        match self {
            Self::AccountExists => "account_exists",
            Self::IdentityInUse => "identity_in_use",
            Self::InvalidState => "invalid_state",
            Self::ProviderError => "provider_error",
            Self::InvalidIdToken => "invalid_id_token",
            Self::SignupDisabled => "signup_disabled",
            Self::EmailRequired => "email_required",
            Self::AccountDisabled => "account_disabled",
            Self::EmailNotVerified => "email_not_verified",
            Self::Throttled => "throttled",
            Self::VerificationRequired => "verification_required",
            Self::LinkExpired => "link_expired",
            Self::ProviderUnavailable => "provider_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_are_lower_case_letters_digits_and_dashes() {
        for good in ["google", "corp-sso", "a", "x1", &"a".repeat(32)] {
            assert!(ProviderId::parse(good).is_some(), "{good}");
        }
        for bad in ["", "Google", "corp_sso", "-x", "a b", "é", &"a".repeat(33)] {
            assert!(ProviderId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_subject_is_printable_ascii_up_to_255_characters_without_surrounding_spaces() {
        for good in ["1", "248289761001", "tid:oid", "a b", &"x".repeat(255)] {
            assert!(is_subject(good), "{good}");
        }
        for bad in ["", " a", "a ", "süb", "a\u{0}b", "a\nb", &"x".repeat(256)] {
            assert!(!is_subject(bad), "{bad:?}");
        }
    }

    #[test]
    fn return_urls_are_compared_whole() {
        let urls = ReturnUrls::new(vec!["http://localhost:3000/auth/callback".to_owned()]);
        assert!(urls.allow("http://localhost:3000/auth/callback").is_some());
        for bad in [
            "http://localhost:3000/auth/callback/",
            "http://localhost:3000/auth/callbackx",
            "http://localhost:3000/auth/callback?x=1",
            "http://localhost:3000/auth",
            "HTTP://localhost:3000/auth/callback",
            "",
        ] {
            assert!(urls.allow(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_nonce_and_verifier_need_both_secrets_and_differ() {
        let one = FlowSecrets::generate();
        let other = FlowSecrets {
            state: one.state.clone(),
            browser: OneTimeToken::generate(),
        };
        assert_ne!(one.nonce(), one.pkce_verifier());
        assert_ne!(one.nonce(), other.nonce());
        assert_ne!(one.pkce_verifier(), other.pkce_verifier());
        assert_eq!(one.pkce_verifier().len(), 64);
    }

    #[test]
    fn the_s256_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn every_refusal_has_its_own_lower_case_code() {
        let codes: std::collections::HashSet<_> =
            FederationRefusal::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), FederationRefusal::ALL.len());
        assert!(
            codes
                .iter()
                .all(|code| code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
