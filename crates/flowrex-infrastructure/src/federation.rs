//! Outside identity providers: OpenID Connect issuers (with the `openidconnect` crate) and
//! GitHub's OAuth apps (with `oauth2` and GitHub's API).
//!
//! An OpenID Connect provider's discovery document and key set are read once and kept;
//! the key set is read again when an ID token names a key it does not hold (a rotation), at
//! most once every [`KEY_REFRESH_INTERVAL`]. A provider whose discovery cannot be read does
//! not stop the service: it answers [`ProviderError::Unavailable`] (503) until a retry —
//! at the next use at least a minute after the last try, and by [`OutsideProviders::retry`]
//! that the service runs every minute — reads it. Per sign-in the provider is asked only
//! for the code exchange (and for GitHub, the user and their addresses).
//!
//! An ID token is accepted only with: a signature by one of the provider's keys, in an
//! asymmetric algorithm it advertises (never `none`, never an HMAC); `iss` the provider's
//! (for Microsoft's multi-tenant endpoint, the user's tenant's); `aud` naming this client,
//! and with several audiences an `azp` naming it (the crate leaves `azp` unchecked); `exp`
//! in the future; `iat` no later than the leeway ahead; the flow's `nonce`. The callback's
//! `iss` parameter (RFC 9207) must be the issuer when the provider advertises it, and is
//! refused when it names another.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use base64::Engine;
use flowrex_domain::ports::{
    AuthorizationRequest, IdentityProviders, ProviderAnswer, ProviderError, ProviderInfo,
};
use flowrex_domain::{EmailAddress, ProvenIdentity, ProviderId, ProviderKind, ProviderRules};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, JsonWebKeySet,
    Nonce, OAuth2TokenResponse, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The shortest time between two reads of a provider's key set for an unknown key.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest time between two tries of a discovery that failed.
pub const DISCOVERY_RETRY: Duration = Duration::from_secs(60);

/// How far in the future an ID token's `iat` may be (clock skew).
const IAT_LEEWAY: chrono::Duration = chrono::Duration::seconds(60);

/// How long a request to a provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// One provider's settings, as the service's configuration gives them.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Its id.
    pub id: ProviderId,
    /// How Flowrex talks to it.
    pub kind: ProviderKind,
    /// Its display name.
    pub name: String,
    /// The OpenID Connect issuer.
    pub issuer: Option<String>,
    /// The callback is a `form_post` (Apple).
    pub form_post: bool,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// What it may do.
    pub rules: ProviderRules,
    /// `github`: the authorization endpoint.
    pub authorize_url: String,
    /// `github`: the token endpoint.
    pub token_url: String,
    /// `github`: the API root.
    pub api_url: String,
}

/// A discovery document read, with its key set.
#[derive(Clone)]
struct Discovered {
    metadata: CoreProviderMetadata,
    /// The asymmetric algorithms it advertises for ID tokens.
    algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// It sends the `iss` response parameter (RFC 9207).
    iss_parameter: bool,
    /// Its issuer is a `{tenantid}` template (Microsoft's multi-tenant endpoints): the key
    /// of an identity is `tid:oid`, and each token's issuer is its tenant's.
    multi_tenant: bool,
}

struct Provider {
    settings: ProviderSettings,
    /// The callback address registered at the provider
    /// (`{PUBLIC_URL}/api/v1/auth/oauth/{id}/callback`).
    redirect_url: String,
    discovered: RwLock<Option<Discovered>>,
    /// Held while a discovery runs: a request that arrives meanwhile waits for it.
    discovering: tokio::sync::Mutex<()>,
    last_try: Mutex<Option<Instant>>,
    last_key_refresh: Mutex<Option<Instant>>,
}

/// The configured providers.
pub struct OutsideProviders {
    providers: Vec<Arc<Provider>>,
    /// Built only when there is a provider: its TLS roots cost memory a service without
    /// providers need not hold.
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for OutsideProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutsideProviders")
            .field("providers", &self.providers.len())
            .finish_non_exhaustive()
    }
}

impl OutsideProviders {
    /// The providers of `settings`, their callbacks under `public_url` (none discovered
    /// yet: see [`Self::retry`]).
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new(settings: Vec<ProviderSettings>, public_url: &str) -> anyhow::Result<Self> {
        let public_url = public_url.trim_end_matches('/');
        let http = if settings.is_empty() {
            None
        } else {
            Some(
                reqwest::Client::builder()
                    // Following redirects would let a provider's answer reach other hosts.
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(PROVIDER_TIMEOUT)
                    .user_agent("flowrex")
                    .build()
                    .context("the HTTP client for outside providers")?,
            )
        };
        Ok(Self {
            providers: settings
                .into_iter()
                .map(|settings| {
                    Arc::new(Provider {
                        redirect_url: format!(
                            "{public_url}/api/v1/auth/oauth/{}/callback",
                            settings.id
                        ),
                        settings,
                        discovered: RwLock::new(None),
                        discovering: tokio::sync::Mutex::new(()),
                        last_try: Mutex::new(None),
                        last_key_refresh: Mutex::new(None),
                    })
                })
                .collect(),
            http,
        })
    }

    /// Reads the discovery document of every OpenID Connect provider not read yet; a
    /// failure is logged, and that provider answers 503 until a later try succeeds. Run at
    /// start-up and then every minute.
    pub async fn retry(&self) {
        for provider in &self.providers {
            if provider.settings.kind == ProviderKind::Oidc
                && !provider.is_discovered()
                && let Err(error) = self.discover(provider).await
            {
                tracing::warn!(
                    provider = %provider.settings.id,
                    error = format!("{error:#}"),
                    "discovery of an outside provider failed: it answers 503 until it is read"
                );
            }
        }
    }

    /// The HTTP client (there is one whenever there is a provider to use it for).
    fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        self.http.as_ref().ok_or(ProviderError::Unknown)
    }

    fn find(&self, id: &ProviderId) -> Result<&Arc<Provider>, ProviderError> {
        self.providers
            .iter()
            .find(|provider| &provider.settings.id == id)
            .ok_or(ProviderError::Unknown)
    }

    /// The provider's discovery, read now if it never was and the last try is a minute old.
    async fn discovered(&self, provider: &Provider) -> Result<Discovered, ProviderError> {
        if let Some(discovered) = provider.current() {
            return Ok(discovered);
        }
        // A discovery under way (the one at start-up) is waited for, not raced.
        let _discovering = provider.discovering.lock().await;
        if let Some(discovered) = provider.current() {
            return Ok(discovered);
        }
        let due = provider
            .last_try
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none_or(|at| at.elapsed() >= DISCOVERY_RETRY);
        if !due {
            return Err(ProviderError::Unavailable(anyhow!(
                "discovery not read yet"
            )));
        }
        self.read_discovery(provider)
            .await
            .map_err(ProviderError::Unavailable)
    }

    /// Reads the discovery, one at a time per provider.
    async fn discover(&self, provider: &Provider) -> anyhow::Result<Discovered> {
        let _discovering = provider.discovering.lock().await;
        match provider.current() {
            Some(discovered) => Ok(discovered),
            None => self.read_discovery(provider).await,
        }
    }

    async fn read_discovery(&self, provider: &Provider) -> anyhow::Result<Discovered> {
        *provider
            .last_try
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        let settings = &provider.settings;
        let issuer = settings.issuer.as_deref().context("no issuer")?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let http = self.http()?;
        let raw: serde_json::Value = http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .with_context(|| format!("{url}: not JSON"))?;
        let iss_parameter = raw
            .get("authorization_response_iss_parameter_supported")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let metadata: CoreProviderMetadata = serde_json::from_value(raw)
            .with_context(|| format!("{url}: not a discovery document"))?;
        let advertised = metadata.issuer().as_str();
        let expected = issuer.trim_end_matches('/');
        // Every issuer must be the one configured, exactly (OpenID Connect Discovery,
        // section 4.3) — but Microsoft's multi-tenant endpoints (`common`, `organizations`)
        // name a template, `https://login.microsoftonline.com/{tenantid}/v2.0`, on the same
        // host: then each ID token's issuer must be its own tenant's.
        let multi_tenant = advertised.contains("{tenantid}");
        let matches = if multi_tenant {
            same_origin(advertised, expected)
        } else {
            advertised.trim_end_matches('/') == expected
        };
        if !matches {
            anyhow::bail!("{url} names the issuer `{advertised}`, not `{expected}`");
        }
        let jwks: CoreJsonWebKeySet = JsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
            .await
            .map_err(|error| anyhow!("{}: {error}", metadata.jwks_uri().as_str()))?;
        let algorithms: Vec<CoreJwsSigningAlgorithm> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|alg| asymmetric(alg))
            .cloned()
            .collect();
        if algorithms.is_empty() {
            anyhow::bail!("{url} advertises no asymmetric ID token algorithm");
        }
        let discovered = Discovered {
            multi_tenant,
            metadata: metadata.set_jwks(jwks),
            algorithms,
            iss_parameter,
        };
        *provider
            .discovered
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(discovered.clone());
        tracing::info!(provider = %settings.id, "outside provider discovered");
        Ok(discovered)
    }

    /// Reads the provider's key set again, unless it was read less than
    /// [`KEY_REFRESH_INTERVAL`] ago: whether it was.
    async fn refresh_keys(&self, provider: &Provider, discovered: &Discovered) -> bool {
        {
            let mut last = provider
                .last_key_refresh
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let uri = discovered.metadata.jwks_uri();
        let Ok(http) = self.http() else {
            return false;
        };
        match JsonWebKeySet::fetch_async(uri, http).await {
            Ok(jwks) => {
                let refreshed = Discovered {
                    metadata: discovered.metadata.clone().set_jwks(jwks),
                    ..discovered.clone()
                };
                *provider
                    .discovered
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(refreshed);
                tracing::info!(provider = %provider.settings.id, "provider's keys read again");
                true
            }
            Err(error) => {
                tracing::warn!(provider = %provider.settings.id, %error, "provider's keys not read");
                false
            }
        }
    }

    fn oidc_client(
        provider: &Provider,
        discovered: &Discovered,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        ProviderError,
    > {
        let settings = &provider.settings;
        let secret = settings.client_secret.expose_secret();
        // The client secret in the token request's body where the provider takes it only
        // there (Apple advertises `client_secret_post` alone); HTTP Basic otherwise.
        let post_only = discovered
            .metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        let client = CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(settings.client_id.clone()),
            (!secret.is_empty()).then(|| ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(
            RedirectUrl::new(provider.redirect_url.clone())
                .map_err(|error| ProviderError::Failed(anyhow!(error)))?,
        );
        Ok(if post_only {
            client.set_auth_type(openidconnect::AuthType::RequestBody)
        } else {
            client
        })
    }

    async fn oidc_redeem(
        &self,
        provider: &Provider,
        answer: &ProviderAnswer,
    ) -> Result<ProvenIdentity, ProviderError> {
        let settings = &provider.settings;
        let discovered = self.discovered(provider).await?;
        let issuer = discovered.metadata.issuer().as_str().to_owned();
        // RFC 9207: a provider that says it sends `iss` must send its own; another
        // issuer's name is refused from any provider (a mix-up).
        match &answer.iss {
            Some(iss)
                if !discovered.multi_tenant
                    && iss.trim_end_matches('/') != issuer.trim_end_matches('/') =>
            {
                return Err(ProviderError::InvalidIdToken(anyhow!(
                    "callback iss is another issuer"
                )));
            }
            None if discovered.iss_parameter => {
                return Err(ProviderError::InvalidIdToken(anyhow!(
                    "callback without iss"
                )));
            }
            _ => {}
        }
        let client = Self::oidc_client(provider, &discovered)?;
        let token = client
            .exchange_code(AuthorizationCode::new(answer.code.clone()))
            .map_err(|error| ProviderError::Failed(anyhow!(error)))?
            .set_pkce_verifier(PkceCodeVerifier::new(answer.pkce_verifier.clone()))
            .request_async(self.http()?)
            .await
            .map_err(|error| ProviderError::Failed(anyhow!("code exchange: {error}")))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| ProviderError::InvalidIdToken(anyhow!("no ID token")))?;
        let nonce = Nonce::new(answer.nonce.clone());
        let verify = |discovered: &Discovered| {
            let client = Self::oidc_client(provider, discovered)?;
            let now = chrono::Utc::now();
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(discovered.algorithms.clone())
                .require_issuer_match(!discovered.multi_tenant)
                .set_issue_time_verifier_fn(move |iat| {
                    if iat > now + IAT_LEEWAY {
                        Err(format!("issued in the future ({iat})"))
                    } else {
                        Ok(())
                    }
                });
            Ok::<_, ProviderError>(id_token.claims(&verifier, &nonce).cloned())
        };
        let claims = match verify(&discovered)? {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.refresh_keys(provider, &discovered).await => {
                let refreshed = provider.current().unwrap_or(discovered.clone());
                verify(&refreshed)?
            }
            other => other,
        }
        .map_err(|error| ProviderError::InvalidIdToken(anyhow!(error)))?;
        // Several audiences: the token must have been issued to this client (`azp`).
        let client_id = settings.client_id.as_str();
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != client_id => {
                return Err(ProviderError::InvalidIdToken(anyhow!(
                    "azp names another client"
                )));
            }
            None if claims.audiences().len() > 1 => {
                return Err(ProviderError::InvalidIdToken(anyhow!(
                    "several audiences and no azp"
                )));
            }
            _ => {}
        }
        let subject = if discovered.multi_tenant {
            let tenant = tenant_claims(&id_token.to_string())?;
            let expected = issuer.replace("{tenantid}", &tenant.tid);
            if claims.issuer().as_str() != expected {
                return Err(ProviderError::InvalidIdToken(anyhow!(
                    "issuer is not the user's tenant's"
                )));
            }
            // RFC 9207 for a tenant template: the callback's `iss` (when sent) must be the
            // token's tenant's issuer too.
            if answer
                .iss
                .as_deref()
                .is_some_and(|iss| iss.trim_end_matches('/') != expected.trim_end_matches('/'))
            {
                return Err(ProviderError::InvalidIdToken(anyhow!(
                    "callback iss is another tenant's"
                )));
            }
            format!("{}:{}", tenant.tid, tenant.oid)
        } else {
            claims.subject().as_str().to_owned()
        };
        let email = claims
            .email()
            .and_then(|email| EmailAddress::parse(email.as_str()).ok());
        Ok(ProvenIdentity {
            provider: settings.id.clone(),
            subject,
            email_verified: email.is_some() && claims.email_verified() == Some(true),
            email,
            name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
        })
    }

    async fn github_redeem(
        &self,
        provider: &Provider,
        answer: &ProviderAnswer,
    ) -> Result<ProvenIdentity, ProviderError> {
        let settings = &provider.settings;
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            ProviderError::Failed(anyhow!("{what}: {error}"))
        };
        let client = oauth2::basic::BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_uri(
                oauth2::AuthUrl::new(settings.authorize_url.clone())
                    .map_err(|e| failed("authorize url", &e))?,
            )
            .set_token_uri(
                oauth2::TokenUrl::new(settings.token_url.clone())
                    .map_err(|e| failed("token url", &e))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(provider.redirect_url.clone())
                    .map_err(|e| failed("redirect url", &e))?,
            );
        let token = client
            .exchange_code(AuthorizationCode::new(answer.code.clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(answer.pkce_verifier.clone()))
            .request_async(self.http()?)
            .await
            .map_err(|e| failed("code exchange", &e))?;
        let bearer = token.access_token().secret().clone();
        let http = self.http()?;
        let get = |path: &str| {
            http.get(format!("{}/{path}", settings.api_url))
                .bearer_auth(&bearer)
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .send()
        };
        let user: GithubUser = get("user")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed("GET /user", &e))?
            .json()
            .await
            .map_err(|e| failed("GET /user", &e))?;
        let emails: Vec<GithubEmail> = get("user/emails")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed("GET /user/emails", &e))?
            .json()
            .await
            .map_err(|e| failed("GET /user/emails", &e))?;
        // The primary address, verified only by that address's own flag.
        let primary = emails.into_iter().find(|email| email.primary);
        let email = primary
            .as_ref()
            .and_then(|p| EmailAddress::parse(&p.email).ok());
        Ok(ProvenIdentity {
            provider: settings.id.clone(),
            subject: user.id.to_string(),
            email_verified: email.is_some() && primary.is_some_and(|p| p.verified),
            email,
            name: user.name.or(user.login),
        })
    }
}

impl Provider {
    fn current(&self) -> Option<Discovered> {
        self.discovered
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn is_discovered(&self) -> bool {
        self.current().is_some()
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            id: self.settings.id.clone(),
            name: self.settings.name.clone(),
            kind: self.settings.kind,
            rules: self.settings.rules,
        }
    }
}

/// Whether two addresses have the same scheme, host and port.
fn same_origin(one: &str, other: &str) -> bool {
    match (url::Url::parse(one), url::Url::parse(other)) {
        (Ok(one), Ok(other)) => one.origin() == other.origin(),
        _ => false,
    }
}

/// An asymmetric signature algorithm: never `none`, never an HMAC (whose key would be the
/// client secret).
fn asymmetric(alg: &CoreJwsSigningAlgorithm) -> bool {
    use CoreJwsSigningAlgorithm as A;
    matches!(
        alg,
        A::RsaSsaPkcs1V15Sha256
            | A::RsaSsaPkcs1V15Sha384
            | A::RsaSsaPkcs1V15Sha512
            | A::RsaSsaPssSha256
            | A::RsaSsaPssSha384
            | A::RsaSsaPssSha512
            | A::EcdsaP256Sha256
            | A::EcdsaP384Sha384
            | A::EcdsaP521Sha512
            | A::EdDsa
    )
}

#[derive(Deserialize)]
struct TenantClaims {
    tid: String,
    oid: String,
}

/// The `tid` and `oid` of an ID token whose signature was checked already.
fn tenant_claims(jwt: &str) -> Result<TenantClaims, ProviderError> {
    let payload = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| ProviderError::InvalidIdToken(anyhow!("not a JWT")))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| ProviderError::InvalidIdToken(anyhow!(e)))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ProviderError::InvalidIdToken(anyhow!("no tid and oid")))
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

#[async_trait]
impl IdentityProviders for OutsideProviders {
    fn list(&self) -> Vec<ProviderInfo> {
        self.providers.iter().map(|p| p.info()).collect()
    }

    async fn authorization_url(
        &self,
        id: &ProviderId,
        request: &AuthorizationRequest,
    ) -> Result<String, ProviderError> {
        let provider = self.find(id)?;
        let settings = &provider.settings;
        let scopes = settings.scopes.iter().map(|s| Scope::new(s.clone()));
        let url = match settings.kind {
            ProviderKind::Oidc => {
                let discovered = self.discovered(provider).await?;
                let client = Self::oidc_client(provider, &discovered)?;
                let state = request.state.clone();
                let nonce = request.nonce.clone();
                let mut authorize = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        move || CsrfToken::new(state),
                        move || Nonce::new(nonce),
                    )
                    .add_scopes(scopes)
                    .add_extra_param("code_challenge", request.pkce_challenge.clone())
                    .add_extra_param("code_challenge_method", "S256");
                if settings.form_post {
                    authorize = authorize.add_extra_param("response_mode", "form_post");
                }
                authorize.url().0
            }
            ProviderKind::Github => {
                let mut url = url::Url::parse(&settings.authorize_url)
                    .map_err(|e| ProviderError::Failed(anyhow!(e)))?;
                url.query_pairs_mut()
                    .append_pair("response_type", "code")
                    .append_pair("client_id", &settings.client_id)
                    .append_pair("redirect_uri", &provider.redirect_url)
                    .append_pair("scope", &settings.scopes.join(" "))
                    .append_pair("state", &request.state)
                    .append_pair("code_challenge", &request.pkce_challenge)
                    .append_pair("code_challenge_method", "S256")
                    .append_pair("allow_signup", "true");
                url
            }
        };
        Ok(url.to_string())
    }

    async fn redeem(
        &self,
        id: &ProviderId,
        answer: &ProviderAnswer,
    ) -> Result<ProvenIdentity, ProviderError> {
        let provider = self.find(id)?;
        match provider.settings.kind {
            ProviderKind::Oidc => self.oidc_redeem(provider, answer).await,
            ProviderKind::Github => self.github_redeem(provider, answer).await,
        }
    }
}
