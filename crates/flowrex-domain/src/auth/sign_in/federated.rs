//! Signing in with an outside provider: the flow started (`auth/federation.rs`), the
//! provider's callback finished into a one-time exchange code for the front end (or a
//! fixed error code), and the exchange into a session — or a second-factor challenge,
//! exactly as a password login answers.

use tracing::{Span, instrument};

use super::{LoginOutcome, SignIn};
use crate::auth::LoginError;
use crate::auth::core::SignInRefusal;
use crate::auth::core::throttle::ThrottleKeys;
use crate::auth::federation::{FederationError, FlowStart};
use crate::identity::pkce_s256;
use crate::ports::{
    AccountStoreError, Changes, IdentityChange, ProviderAnswer, ProviderError, ProviderInfo,
    ReturnedFlow,
};
use crate::{
    Assurance, AuditAction, AuditEvent, AuditUser, AuthMethod, ClientInfo, EXCHANGE_CODE_TTL,
    FederationRefusal, FlowSecrets, FullName, IdentityOwner, IssuedUnder, MailPurpose, NewIdentity,
    NewUser, OneTimeToken, PasswordHash, ProvenIdentity, TokenOwner, TokenPurpose, User,
};

/// What the provider's callback brought.
#[derive(Default)]
pub struct ProviderCallback {
    /// The provider id of the callback's path.
    pub provider: String,
    /// The `state` parameter.
    pub state: Option<String>,
    /// The browser's cookie.
    pub browser: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The provider's `error` parameter, if it refused (its text is never passed on).
    pub error: Option<String>,
    /// The `iss` response parameter (RFC 9207), when sent.
    pub iss: Option<String>,
}

impl std::fmt::Debug for ProviderCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCallback")
            .field("provider", &self.provider)
            .field("error", &self.error.is_some())
            .finish_non_exhaustive()
    }
}

/// Where a callback sends the browser.
#[derive(Debug)]
pub struct Landing {
    /// The flow's return address; `None` when the flow is unknown (no trusted address:
    /// the callback answers with a 4xx of its own).
    pub return_to: Option<String>,
    /// What the front end is told.
    pub outcome: Result<Landed, FederationRefusal>,
    /// How long the provider took to answer (the code exchange and, for GitHub, its API):
    /// the part of the callback's time that is not the service's own.
    pub provider_time: std::time::Duration,
}

/// A callback that succeeded.
#[derive(Debug)]
pub enum Landed {
    /// A sign-in: the one-time exchange code (`return_to?code=…`).
    SignedIn(OneTimeToken),
    /// A link of the signed-in user's: the provider now signs in to their account
    /// (`return_to?linked=PROVIDER`).
    Linked(String),
}

impl SignIn {
    /// The configured providers.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.federation.providers()
    }

    /// Starts signing in with `provider`, returning to `return_to` (on the allow-list),
    /// with the front end's own PKCE S256 challenge for the exchange if it sends one.
    ///
    /// # Errors
    /// [`FederationError::NotFound`], [`FederationError::ReturnUrlNotAllowed`],
    /// [`FederationError::InvalidChallenge`], [`FederationError::ProviderUnavailable`];
    /// store failures.
    pub async fn start_federated(
        &self,
        provider: &str,
        return_to: &str,
        client_challenge: Option<String>,
    ) -> Result<FlowStart, FederationError> {
        let target = self.federation.target(provider, return_to)?;
        self.federation
            .start(&self.core, target, client_challenge, None)
            .await
    }

    /// Finishes a flow at the provider's callback: its state taken (once, bound to the
    /// browser), the provider's answer redeemed into an identity, then whom it signs in
    /// decided (see `auth/federation.rs`), or the link stored. Every refusal is a fixed
    /// code; nothing is written for one.
    #[instrument(skip_all, fields(provider = %callback.provider, user_id = tracing::field::Empty))]
    pub async fn finish_federated(
        &self,
        callback: ProviderCallback,
        client: ClientInfo,
    ) -> Landing {
        let flow = match self.take_flow(&callback).await {
            Ok(flow) => flow,
            Err(landing) => return landing,
        };
        let return_to = Some(flow.return_to.clone());
        let mut provider_time = std::time::Duration::ZERO;
        let outcome = self.land(flow, callback, client, &mut provider_time).await;
        if let Err(refusal) = &outcome {
            tracing::info!(error = refusal.code(), "outside sign-in refused");
        }
        Landing {
            return_to,
            outcome,
            provider_time,
        }
    }

    /// The flow of the callback's state, taken; or where to go without one.
    async fn take_flow(&self, callback: &ProviderCallback) -> Result<ReturnedFlow, Landing> {
        let unknown = |outcome| Landing {
            return_to: None,
            outcome: Err(outcome),
            provider_time: std::time::Duration::ZERO,
        };
        let Some(state) = callback.state.as_deref().and_then(OneTimeToken::parse) else {
            return Err(unknown(FederationRefusal::InvalidState));
        };
        let flow = match self
            .core
            .federation
            .take_flow(&state.fingerprint(), self.core.now())
            .await
        {
            Ok(Some(flow)) => flow,
            Ok(None) => return Err(unknown(FederationRefusal::InvalidState)),
            Err(error) => {
                tracing::warn!(%error, "outside sign-in: flow not read");
                return Err(unknown(FederationRefusal::ProviderUnavailable));
            }
        };
        Ok(flow)
    }

    async fn land(
        &self,
        flow: ReturnedFlow,
        callback: ProviderCallback,
        client: ClientInfo,
        provider_time: &mut std::time::Duration,
    ) -> Result<Landed, FederationRefusal> {
        let core = &self.core;
        // The state is spent whatever follows; a state from another browser, or brought
        // to another provider's callback, proves nothing.
        let browser = callback.browser.as_deref().and_then(OneTimeToken::parse);
        let Some(browser) = browser.filter(|b| b.fingerprint() == flow.browser) else {
            tracing::warn!("outside sign-in: state from another browser");
            return Err(FederationRefusal::InvalidState);
        };
        if flow.provider.as_str() != callback.provider {
            return Err(FederationRefusal::InvalidState);
        }
        if callback.error.is_some() {
            return Err(FederationRefusal::ProviderError);
        }
        let Some(code) = callback.code else {
            return Err(FederationRefusal::ProviderError);
        };
        let Some(state) = callback.state.as_deref().and_then(OneTimeToken::parse) else {
            return Err(FederationRefusal::InvalidState);
        };
        let info = self
            .federation
            .providers
            .get(&flow.provider)
            .ok_or(FederationRefusal::ProviderError)?;
        let attempt = core
            .begin_attempt(ThrottleKeys::of_provider(&client, &flow.provider))
            .await
            .map_err(|_| FederationRefusal::Throttled)?;
        let secrets = FlowSecrets { state, browser };
        let answer = ProviderAnswer {
            code,
            iss: callback.iss,
            nonce: secrets.nonce(),
            pkce_verifier: secrets.pkce_verifier(),
        };
        let asked = std::time::Instant::now();
        let redeemed = self
            .federation
            .providers
            .redeem(&flow.provider, &answer)
            .await;
        *provider_time = asked.elapsed();
        let proven = match redeemed {
            Ok(proven) => proven,
            Err(error) => {
                tracing::info!(%error, cause = ?std::error::Error::source(&error), "provider's answer refused");
                return Err(match error {
                    ProviderError::InvalidIdToken(_) => {
                        attempt.failed();
                        FederationRefusal::InvalidIdToken
                    }
                    ProviderError::Unavailable(_) => {
                        attempt.inconclusive().await;
                        FederationRefusal::ProviderUnavailable
                    }
                    ProviderError::Unknown | ProviderError::Failed(_) => {
                        attempt.inconclusive().await;
                        FederationRefusal::ProviderError
                    }
                });
            }
        };
        if !crate::identity::is_subject(&proven.subject) {
            tracing::warn!("provider's subject is no usable key");
            attempt.failed();
            return Err(FederationRefusal::InvalidIdToken);
        }
        let landed = match flow.link {
            Some(link) => self.link(link, &proven).await,
            None => self.sign_in(&flow, &info, &proven).await,
        };
        // A refusal of the account (an inactive one) counts as a failed login, as for a
        // password; the others (an address taken, sign-up off) prove nothing either way.
        match &landed {
            Ok(_) => attempt.succeeded().await,
            Err(FederationRefusal::AccountDisabled) => attempt.failed(),
            Err(_) => attempt.inconclusive().await,
        }
        landed
    }

    /// Links `proven` to the user who started the flow, if their credentials did not change
    /// since.
    async fn link(
        &self,
        link: IssuedUnder,
        proven: &ProvenIdentity,
    ) -> Result<Landed, FederationRefusal> {
        let core = &self.core;
        let existing = core
            .federation
            .find_identity(&proven.provider, &proven.subject)
            .await
            .map_err(store_failed)?;
        if let Some(identity) = existing {
            return if identity.user == link.user {
                Ok(Landed::Linked(proven.provider.to_string()))
            } else {
                Err(FederationRefusal::IdentityInUse)
            };
        }
        let user = core
            .holder(link)
            .await
            .map_err(store_failed)?
            .ok_or(FederationRefusal::LinkExpired)?;
        if !user.is_verified() {
            return Err(FederationRefusal::VerificationRequired);
        }
        self.link_to(&user, link, proven, "link").await?;
        Ok(Landed::Linked(proven.provider.to_string()))
    }

    /// Links `proven` to `user` under `issued` (the stamp it was decided under), audited
    /// with `via` and said in a notice to the user's address.
    async fn link_to(
        &self,
        user: &User,
        issued: IssuedUnder,
        proven: &ProvenIdentity,
        via: &'static str,
    ) -> Result<(), FederationRefusal> {
        let changes = Changes {
            issued_under: Some(issued),
            identity: Some(IdentityChange::Link(NewIdentity::of(
                proven,
                IdentityOwner::User(user.id()),
            ))),
            audit: vec![linked_event(proven, AuditUser::User(user.id()), via)],
            ..Changes::default()
        };
        self.core
            .apply_with_notice(changes, user.email(), MailPurpose::IdentityLinked)
            .await
            .map_err(link_refusal)?;
        tracing::info!(user_id = user.id().get(), via, "identity linked");
        Ok(())
    }

    /// Whom `proven` signs in: its identity's user, an account linked by verified address,
    /// or a new account; then an exchange code for them.
    async fn sign_in(
        &self,
        flow: &ReturnedFlow,
        info: &ProviderInfo,
        proven: &ProvenIdentity,
    ) -> Result<Landed, FederationRefusal> {
        let core = &self.core;
        let existing = core
            .federation
            .find_identity(&proven.provider, &proven.subject)
            .await
            .map_err(store_failed)?;
        let user = match existing {
            Some(identity) => {
                let user = core
                    .users
                    .find_by_id(identity.user)
                    .await
                    .map_err(store_failed)?
                    .ok_or(FederationRefusal::AccountDisabled)?;
                core.federation
                    .record_login(
                        identity.id,
                        proven.email.as_ref().map(|e| e.as_str().to_owned()),
                        core.now(),
                    )
                    .await
                    .map_err(store_failed)?;
                user
            }
            None => self.first_sign_in(info, proven).await?,
        };
        Span::current().record("user_id", user.id().get());
        match core.may_sign_in(&user) {
            Ok(()) => {}
            Err(refusal) => {
                core.record_failure(AuditUser::User(user.id()), refusal.reason())
                    .await;
                return Err(match refusal {
                    SignInRefusal::Inactive => FederationRefusal::AccountDisabled,
                    SignInRefusal::Unverified => FederationRefusal::EmailNotVerified,
                });
            }
        }
        let code = OneTimeToken::generate();
        core.federation
            .issue_code(
                flow.id,
                &code.fingerprint(),
                IssuedUnder::now(&user),
                core.now() + EXCHANGE_CODE_TTL,
            )
            .await
            .map_err(store_failed)?;
        Ok(Landed::SignedIn(code))
    }

    /// An identity no account holds yet: linked to the account of its address only when
    /// that is allowed and both sides say the address is verified; else a new account,
    /// when allowed.
    async fn first_sign_in(
        &self,
        info: &ProviderInfo,
        proven: &ProvenIdentity,
    ) -> Result<User, FederationRefusal> {
        let core = &self.core;
        let Some(email) = &proven.email else {
            return Err(if info.rules.create_accounts {
                FederationRefusal::EmailRequired
            } else {
                FederationRefusal::SignupDisabled
            });
        };
        let now = core.now();
        if let Some(holder) = core
            .users
            .find_by_email(email)
            .await
            .map_err(store_failed)?
        {
            // Never into an account whose owner did not prove the address, nor on the
            // provider's word alone: the pre-registration takeover.
            if !(info.rules.link_by_verified_email && proven.email_verified && holder.is_verified())
            {
                return Err(FederationRefusal::AccountExists);
            }
            self.link_to(&holder, IssuedUnder::now(&holder), proven, "verified_email")
                .await?;
            return Ok(holder);
        }
        if !info.rules.create_accounts {
            return Err(FederationRefusal::SignupDisabled);
        }
        let verified = proven.email_verified;
        let mut changes = Changes {
            insert_user: Some(NewUser {
                email: email.clone(),
                password_hash: PasswordHash::unusable(),
                full_name: proven
                    .name
                    .clone()
                    .and_then(|name| FullName::parse(name).ok()),
                created_at: now,
                is_superuser: false,
                is_verified: verified,
            }),
            identity: Some(IdentityChange::Link(NewIdentity::of(
                proven,
                IdentityOwner::Inserted,
            ))),
            audit: vec![
                AuditEvent::new(AuditAction::UserRegistered)
                    .by(AuditUser::Inserted)
                    .on(AuditUser::Inserted)
                    .with("provider", proven.provider.as_str()),
                linked_event(proven, AuditUser::Inserted, "sign_up"),
            ],
            ..Changes::default()
        };
        if !verified && core.lifecycle.mail_enabled {
            core.add_link_mail(
                &mut changes,
                TokenOwner::Inserted,
                email,
                TokenPurpose::VerifyEmail,
                now,
            )
            .await;
        }
        let user = core
            .apply_for_user(changes, now)
            .await
            .map_err(link_refusal)?;
        tracing::info!(
            user_id = user.id().get(),
            verified,
            "user registered by an outside provider"
        );
        Ok(user)
    }

    /// Exchanges a finished flow's one-time code: every rule of a password login applies —
    /// the user still active (and verified where required), the credentials unchanged since
    /// the callback, a second factor where the account has one (the challenge then records
    /// `fed` as its first half) — and the session's `amr` is `fed`. The code is bound to the
    /// browser that began the flow: with the front end's own PKCE challenge at the start,
    /// only its verifier redeems it; without, only that browser's cookie (`browser`) — so
    /// that a code of someone else's flow, handed to a victim's front end, signs no one in
    /// (login CSRF), and a leaked code is worth nothing.
    ///
    /// # Errors
    /// [`FederationError::InvalidCode`], [`FederationError::EmailNotVerified`]; store
    /// failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: Option<&str>,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<LoginOutcome, FederationError> {
        let core = &self.core;
        let code = OneTimeToken::parse(code).ok_or(FederationError::InvalidCode)?;
        let redeemed = core
            .federation
            .take_code(&code.fingerprint(), core.now())
            .await?
            .ok_or(FederationError::InvalidCode)?;
        let bound = match &redeemed.client_challenge {
            Some(challenge) => verifier.map(pkce_s256).as_ref() == Some(challenge),
            None => browser
                .and_then(OneTimeToken::parse)
                .is_some_and(|browser| browser.fingerprint() == redeemed.browser),
        };
        if !bound {
            tracing::info!("exchange refused: not the browser (or verifier) of the flow");
            return Err(FederationError::InvalidCode);
        }
        Span::current().record("user_id", redeemed.user.user.get());
        let user = core
            .holder(redeemed.user)
            .await?
            .ok_or(FederationError::InvalidCode)?;
        core.may_sign_in(&user).map_err(|refusal| match refusal {
            SignInRefusal::Inactive => FederationError::InvalidCode,
            SignInRefusal::Unverified => FederationError::EmailNotVerified,
        })?;
        // A sign-in by email's link ends in the same exchange; its method stays `email`.
        let method = if redeemed.provider.as_str() == super::email::EMAIL_PROVIDER {
            AuthMethod::Email
        } else {
            AuthMethod::Federated
        };
        if let Some(challenge) = self
            .open_challenge::<FederationError>(&user, redeemed.user, method)
            .await?
        {
            tracing::info!("outside sign-in: second factor required");
            return Ok(LoginOutcome::SecondFactorRequired(challenge));
        }
        let pair = core
            .start_session(&user, redeemed.user.stamp, client, Assurance::of([method]))
            .await
            .map_err(|error| match error {
                LoginError::InvalidCredentials => FederationError::InvalidCode,
                LoginError::Unavailable(source) => FederationError::Unavailable(source),
                other => FederationError::Unexpected(anyhow::anyhow!(other)),
            })?;
        tracing::info!(provider = %redeemed.provider, "login with an outside provider");
        Ok(LoginOutcome::SignedIn(pair))
    }
}

/// The audit event of a link.
fn linked_event(proven: &ProvenIdentity, user: AuditUser, via: &'static str) -> AuditEvent {
    AuditEvent::new(AuditAction::IdentityLinked)
        .by(user.clone())
        .on(user)
        .with("provider", proven.provider.as_str())
        .with("via", via)
}

/// A store that failed during a callback, as the front end is told.
fn store_failed(error: impl std::fmt::Display) -> FederationRefusal {
    tracing::warn!(%error, "outside sign-in: store failed");
    FederationRefusal::ProviderUnavailable
}

/// A link's store error, as the front end is told.
fn link_refusal(error: AccountStoreError) -> FederationRefusal {
    match error {
        AccountStoreError::IdentityTaken => FederationRefusal::IdentityInUse,
        AccountStoreError::EmailTaken => FederationRefusal::AccountExists,
        AccountStoreError::StampMoved => FederationRefusal::LinkExpired,
        other => store_failed(other),
    }
}
