//! Signing in and linking with an outside provider over the in-memory store and scripted
//! providers: whom a callback signs in, the takeover cases, the flow's single-use parts,
//! and the rules of a password login at the exchange.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::*;
use crate::ports::{
    AccountStore, Changes, FederationStore, MfaStore, ProviderInfo, Revocation, TotpChange,
    UserRepository,
};
use crate::test_support::{InMemoryStore, ScriptedProviders, SettableClock, in_memory_ports};
use crate::{
    Aal, AuthMethod, ClientInfo, EmailAddress, FederationRefusal, NewPassword, PasswordAttempt,
    ProvenIdentity, ProviderId, ProviderKind, ProviderRules, ReturnUrls, RevokeReason,
    SealedSecret, User,
};

const RETURN: &str = "http://localhost:3000/auth/callback";

struct World {
    store: Arc<InMemoryStore>,
    providers: Arc<ScriptedProviders>,
    services: Services,
    /// The browser cookie of the last flow started.
    browser: std::sync::Mutex<String>,
}

fn world(rules: ProviderRules) -> World {
    let store = Arc::new(InMemoryStore::default());
    let clock = Arc::new(SettableClock::new(
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
    ));
    let providers = Arc::new(ScriptedProviders::new(vec![ProviderInfo {
        id: ProviderId::parse("idp").unwrap(),
        name: "Test IdP".to_owned(),
        kind: ProviderKind::Oidc,
        rules,
    }]));
    let ports = ServicePorts {
        providers: providers.clone(),
        ..in_memory_ports(&store, clock)
    };
    let services = Services::new(
        ports,
        Policies {
            return_urls: ReturnUrls::new(vec![RETURN.to_owned()]),
            ..Policies::default()
        },
    );
    World {
        store,
        providers,
        services,
        browser: std::sync::Mutex::default(),
    }
}

fn client() -> ClientInfo {
    ClientInfo::new(Some(IpAddr::from([198, 51, 100, 9])), None)
}

fn proven(subject: &str, email: &str, verified: bool) -> ProvenIdentity {
    ProvenIdentity {
        provider: ProviderId::parse("idp").unwrap(),
        subject: subject.to_owned(),
        email: EmailAddress::parse(email).ok(),
        email_verified: verified,
        name: Some("Ada".to_owned()),
    }
}

/// A started flow's state and browser secret.
struct Started {
    state: String,
    browser: String,
}

impl World {
    async fn start(&self) -> Started {
        let start = self
            .services
            .sign_in
            .start_federated("idp", RETURN, None)
            .await
            .unwrap();
        let browser = start.browser.expose().to_owned();
        browser.clone_into(&mut self.browser.lock().unwrap());
        Started {
            state: self.providers.last_state().unwrap(),
            browser,
        }
    }

    async fn callback(&self, started: &Started, code: &str) -> Landing {
        self.services
            .sign_in
            .finish_federated(
                ProviderCallback {
                    provider: "idp".to_owned(),
                    state: Some(started.state.clone()),
                    browser: Some(started.browser.clone()),
                    code: Some(code.to_owned()),
                    ..ProviderCallback::default()
                },
                client(),
            )
            .await
    }

    /// A whole sign-in as `identity`: the callback's outcome.
    async fn sign_in_as(&self, identity: ProvenIdentity) -> Result<Landed, FederationRefusal> {
        let code = format!("code-{}", identity.subject);
        self.providers.answer(&code, identity);
        let started = self.start().await;
        self.callback(&started, &code).await.outcome
    }

    async fn exchange(&self, landed: Landed) -> Result<LoginOutcome, FederationError> {
        let Landed::SignedIn(code) = landed else {
            panic!("not a sign-in: {landed:?}")
        };
        let browser = self.browser.lock().unwrap().clone();
        self.services
            .sign_in
            .exchange_code(code.expose(), None, Some(&browser), client())
            .await
    }

    async fn register(&self, email: &str) -> User {
        self.services
            .accounts
            .register(Registration {
                email: EmailAddress::parse(email).unwrap(),
                password: NewPassword::parse("Secret123".to_owned()).unwrap(),
                full_name: None,
            })
            .await
            .unwrap()
    }

    async fn verify(&self, user: &User) {
        let token = self
            .store
            .last_link_token(crate::MailPurpose::VerifyEmail)
            .unwrap();
        self.services
            .accounts
            .confirm_verification(&token)
            .await
            .unwrap();
        assert!(
            self.user(user.email().as_str())
                .await
                .unwrap()
                .is_verified()
        );
    }

    async fn user(&self, email: &str) -> Option<User> {
        self.store
            .find_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
    }

    async fn identities_of(&self, email: &str) -> usize {
        match self.user(email).await {
            Some(user) => self.store.identities(user.id()).await.unwrap().len(),
            None => 0,
        }
    }

    async fn signed_in(&self, email: &str) -> Authenticated {
        let pair = self
            .services
            .sign_in
            .login(LoginAttempt {
                email: EmailAddress::parse(email).unwrap(),
                password: PasswordAttempt::new("Secret123".to_owned()),
                client: client(),
            })
            .await
            .unwrap()
            .into_pair()
            .unwrap();
        self.services
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_new_user_signs_up_then_signs_in_again_into_the_same_account() {
    let world = world(ProviderRules::default());
    let landed = world
        .sign_in_as(proven("sub-1", "ada@example.com", true))
        .await
        .unwrap();
    let outcome = world.exchange(landed).await.unwrap();
    let pair = outcome.into_pair().expect("no second factor");
    let caller = world
        .services
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(
        caller.assurance.methods().collect::<Vec<_>>(),
        [AuthMethod::Federated]
    );
    assert_eq!(caller.assurance.aal(), Aal::Aal1);
    let user = world.user("ada@example.com").await.unwrap();
    assert!(user.is_verified(), "the provider vouched for the address");
    assert!(!user.password_hash().is_usable());
    // Again, with the address changed at the provider: the subject is the key.
    let again = world
        .sign_in_as(proven("sub-1", "ada.new@example.com", true))
        .await
        .unwrap();
    let pair = world.exchange(again).await.unwrap().into_pair().unwrap();
    let again = world
        .services
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(again.user.id(), user.id());
    assert_eq!(world.identities_of("ada@example.com").await, 1);
    assert!(world.user("ada.new@example.com").await.is_none());
}

#[tokio::test]
async fn a_password_never_signs_in_to_an_account_without_one() {
    let world = world(ProviderRules::default());
    world
        .sign_in_as(proven("sub-1", "ada@example.com", true))
        .await
        .unwrap();
    for password in ["!", "", "Secret123"] {
        let refused = world
            .services
            .sign_in
            .login(LoginAttempt {
                email: EmailAddress::parse("ada@example.com").unwrap(),
                password: PasswordAttempt::new(password.to_owned()),
                client: client(),
            })
            .await;
        assert_matches!(refused, Err(LoginError::InvalidCredentials), "{password:?}");
    }
}

#[tokio::test]
async fn an_unverified_local_account_with_the_address_is_never_linked_or_signed_into() {
    let world = world(ProviderRules {
        create_accounts: true,
        link_by_verified_email: true,
    });
    world.register("victim@example.com").await;
    let refused = world
        .sign_in_as(proven("sub-v", "victim@example.com", true))
        .await;
    assert_matches!(refused, Err(FederationRefusal::AccountExists));
    assert_eq!(world.identities_of("victim@example.com").await, 0);
}

#[tokio::test]
async fn a_providers_unverified_address_never_links_nor_makes_a_verified_account() {
    let world = world(ProviderRules {
        create_accounts: true,
        link_by_verified_email: true,
    });
    let owner = world.register("owner@example.com").await;
    world.verify(&owner).await;
    let refused = world
        .sign_in_as(proven("sub-o", "owner@example.com", false))
        .await;
    assert_matches!(refused, Err(FederationRefusal::AccountExists));
    assert_eq!(world.identities_of("owner@example.com").await, 0);
    world
        .sign_in_as(proven("sub-n", "new@example.com", false))
        .await
        .unwrap();
    let made = world.user("new@example.com").await.unwrap();
    assert!(!made.is_verified(), "only the provider's word for it");
}

#[tokio::test]
async fn with_linking_on_only_both_sides_verified_link_and_without_it_nothing_links() {
    let on = world(ProviderRules {
        create_accounts: true,
        link_by_verified_email: true,
    });
    let owner = on.register("owner@example.com").await;
    on.verify(&owner).await;
    let landed = on
        .sign_in_as(proven("sub-o", "owner@example.com", true))
        .await
        .unwrap();
    let pair = on.exchange(landed).await.unwrap().into_pair().unwrap();
    let caller = on
        .services
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(caller.user.id(), owner.id());
    assert_eq!(on.identities_of("owner@example.com").await, 1);

    let off = world(ProviderRules::default());
    let owner = off.register("owner@example.com").await;
    off.verify(&owner).await;
    let refused = off
        .sign_in_as(proven("sub-o", "owner@example.com", true))
        .await;
    assert_matches!(refused, Err(FederationRefusal::AccountExists));
    assert_eq!(off.identities_of("owner@example.com").await, 0);
}

#[tokio::test]
async fn a_signed_in_user_links_lists_and_unlinks_but_not_anothers_identity() {
    let world = world(ProviderRules::default());
    world
        .sign_in_as(proven("sub-other", "other@example.com", true))
        .await
        .unwrap();
    let ada = world.register("ada@example.com").await;
    world.verify(&ada).await;
    let caller = world.signed_in("ada@example.com").await;
    let password = PasswordAttempt::new("Secret123".to_owned());
    // Fresh proof: no password from an aal1 session is refused, a wrong one too.
    assert_matches!(
        world
            .services
            .accounts
            .start_link(&caller, "idp", RETURN, None, &client())
            .await,
        Err(FederationError::PasswordRequired)
    );
    assert_matches!(
        world
            .services
            .accounts
            .start_link(
                &caller,
                "idp",
                RETURN,
                Some(&PasswordAttempt::new("wrong".to_owned())),
                &client()
            )
            .await,
        Err(FederationError::WrongPassword)
    );
    let link = |subject: &'static str| {
        let world = &world;
        let caller = &caller;
        let password = &password;
        async move {
            let start = world
                .services
                .accounts
                .start_link(caller, "idp", RETURN, Some(password), &client())
                .await
                .unwrap();
            let started = Started {
                state: world.providers.last_state().unwrap(),
                browser: start.browser.expose().to_owned(),
            };
            let code = format!("link-{subject}");
            world
                .providers
                .answer(&code, proven(subject, "x@example.com", true));
            world.callback(&started, &code).await.outcome
        }
    };
    assert_matches!(
        link("sub-other").await,
        Err(FederationRefusal::IdentityInUse)
    );
    assert_matches!(link("sub-ada").await, Ok(Landed::Linked(provider)) if provider == "idp");
    let listed = world.services.accounts.identities(&caller).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subject, "sub-ada");
    let caller = world.signed_in("ada@example.com").await;
    world
        .services
        .accounts
        .unlink(&caller, listed[0].id)
        .await
        .unwrap();
    assert_eq!(world.identities_of("ada@example.com").await, 0);
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let world = world(ProviderRules::default());
    let landed = world
        .sign_in_as(proven("sub-1", "ada@example.com", true))
        .await
        .unwrap();
    let pair = world.exchange(landed).await.unwrap().into_pair().unwrap();
    let caller = world
        .services
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .unwrap();
    let identity = world.services.accounts.identities(&caller).await.unwrap()[0].id;
    assert_matches!(
        world.services.accounts.unlink(&caller, identity).await,
        Err(FederationError::LastWayIn)
    );
    assert_eq!(world.identities_of("ada@example.com").await, 1);
}

#[tokio::test]
async fn a_second_factor_is_asked_after_the_provider_and_records_fed_first() {
    let world = world(ProviderRules::default());
    world
        .sign_in_as(proven("sub-1", "ada@example.com", true))
        .await
        .unwrap();
    let user = world.user("ada@example.com").await.unwrap();
    let at = Utc::now();
    world
        .store
        .apply(
            Changes {
                totp: Some(TotpChange::Enroll {
                    user: user.id(),
                    secret: SealedSecret::new("s".to_owned()),
                }),
                ..Changes::default()
            },
            at,
        )
        .await
        .unwrap();
    let factor = world.store.totp_factors(user.id()).await.unwrap()[0].id;
    world
        .store
        .apply(
            Changes {
                totp: Some(TotpChange::Activate {
                    user: user.id(),
                    factor,
                    step: 0,
                }),
                ..Changes::default()
            },
            at,
        )
        .await
        .unwrap();
    let landed = world
        .sign_in_as(proven("sub-1", "ada@example.com", true))
        .await
        .unwrap();
    let LoginOutcome::SecondFactorRequired(challenge) = world.exchange(landed).await.unwrap()
    else {
        panic!("signed in without the second factor");
    };
    let found = world
        .store
        .try_challenge(
            &challenge.token.fingerprint(),
            Utc.with_ymd_and_hms(2026, 12, 7, 9, 1, 0).unwrap(),
            5,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.first, AuthMethod::Federated);
}

#[tokio::test]
async fn a_state_is_spent_once_bound_to_its_browser_and_a_code_to_its_verifier() {
    let world = world(ProviderRules::default());
    world
        .providers
        .answer("c1", proven("sub-1", "ada@example.com", true));
    let started = world.start().await;
    let stranger = Started {
        state: started.state.clone(),
        browser: crate::OneTimeToken::generate().expose().to_owned(),
    };
    let landing = world.callback(&stranger, "c1").await;
    assert_matches!(landing.outcome, Err(FederationRefusal::InvalidState));
    assert_eq!(landing.return_to.as_deref(), Some(RETURN));
    // Spent by the stranger's try: the state is single use.
    let replay = world.callback(&started, "c1").await;
    assert_matches!(replay.outcome, Err(FederationRefusal::InvalidState));
    assert_eq!(replay.return_to, None);
    assert!(
        world.user("ada@example.com").await.is_none(),
        "nothing written"
    );

    // The front end's own PKCE: only its verifier redeems the code, once.
    let verifier = "a front end's verifier, long enough to be one: 0123456789";
    let start = world
        .services
        .sign_in
        .start_federated("idp", RETURN, Some(crate::identity::pkce_s256(verifier)))
        .await
        .unwrap();
    let started = Started {
        state: world.providers.last_state().unwrap(),
        browser: start.browser.expose().to_owned(),
    };
    let Ok(Landed::SignedIn(code)) = world.callback(&started, "c1").await.outcome else {
        panic!("no code");
    };
    let exchange = |verifier: Option<&'static str>| {
        let code = code.expose().to_owned();
        let world = &world;
        async move {
            world
                .services
                .sign_in
                .exchange_code(&code, verifier, None, client())
                .await
        }
    };
    assert_matches!(
        exchange(Some("the wrong verifier")).await,
        Err(FederationError::InvalidCode)
    );
    assert_matches!(
        exchange(Some(verifier)).await,
        Err(FederationError::InvalidCode)
    );
}

#[tokio::test]
async fn a_refused_id_token_writes_nothing_and_a_flow_dies_with_the_credentials() {
    let world = world(ProviderRules::default());
    world.providers.refuse("bad");
    let started = world.start().await;
    assert_matches!(
        world.callback(&started, "bad").await.outcome,
        Err(FederationRefusal::InvalidIdToken)
    );
    assert!(world.user("ada@example.com").await.is_none());

    // A code issued, then every session ended (a credential event): the code is dead.
    let landed = world
        .sign_in_as(proven("sub-1", "ada@example.com", true))
        .await
        .unwrap();
    let user = world.user("ada@example.com").await.unwrap();
    world
        .store
        .apply(
            Changes {
                revoke_sessions: Some(Revocation {
                    user: user.id(),
                    keep: None,
                    reason: RevokeReason::LogoutAll,
                }),
                ..Changes::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_matches!(
        world.exchange(landed).await,
        Err(FederationError::InvalidCode)
    );
}

#[tokio::test]
async fn the_first_proof_of_the_mailbox_takes_a_squatted_account_back_with_its_identities() {
    let world = world(ProviderRules::default());
    // The squatter's provider account claims the victim's address, unverified.
    world
        .sign_in_as(proven("squatter", "victim@example.com", false))
        .await
        .unwrap();
    assert_eq!(world.identities_of("victim@example.com").await, 1);
    // The owner proves the mailbox (the verification link mailed at sign-up).
    let victim = world.user("victim@example.com").await.unwrap();
    world.verify(&victim).await;
    assert_eq!(world.identities_of("victim@example.com").await, 0);
    let again = world
        .sign_in_as(proven("squatter", "victim@example.com", false))
        .await;
    assert_matches!(again, Err(FederationRefusal::AccountExists));
}

#[tokio::test]
async fn unknown_providers_and_return_addresses_are_refused_before_anything_is_stored() {
    let world = world(ProviderRules::default());
    assert_matches!(
        world
            .services
            .sign_in
            .start_federated("nope", RETURN, None)
            .await,
        Err(FederationError::NotFound)
    );
    for url in [
        "http://localhost:3000/auth/callback/x",
        "http://localhost:3000/auth/callbac",
        "https://evil.example/",
    ] {
        assert_matches!(
            world
                .services
                .sign_in
                .start_federated("idp", url, None)
                .await,
            Err(FederationError::ReturnUrlNotAllowed),
            "{url}"
        );
    }
    assert_eq!(world.providers.last_state(), None);
}

#[tokio::test]
async fn a_code_is_exchanged_only_by_the_browser_that_began_its_flow() {
    let world = world(ProviderRules::default());
    // The attacker finishes a flow in their own browser, and hands its code to a victim's
    // front end (login CSRF), or the code leaks: without the flow's cookie it is nothing.
    let Landed::SignedIn(code) = world
        .sign_in_as(proven("attacker", "attacker@example.com", true))
        .await
        .unwrap()
    else {
        panic!("no code");
    };
    let victims = crate::OneTimeToken::generate();
    for browser in [Some(victims.expose()), None] {
        assert_matches!(
            world
                .services
                .sign_in
                .exchange_code(code.expose(), None, browser, client())
                .await,
            Err(FederationError::InvalidCode)
        );
    }
}

#[tokio::test]
async fn linking_needs_a_verified_address_mails_a_notice_and_dies_with_the_credentials() {
    let world = world(ProviderRules::default());
    let password = PasswordAttempt::new("Secret123".to_owned());
    let ada = world.register("ada@example.com").await;
    let caller = world.signed_in("ada@example.com").await;
    assert_matches!(
        world
            .services
            .accounts
            .start_link(&caller, "idp", RETURN, Some(&password), &client())
            .await,
        Err(FederationError::EmailNotVerified)
    );
    world.verify(&ada).await;
    let caller = world.signed_in("ada@example.com").await;
    let link = |subject: &'static str| {
        let world = &world;
        let caller = &caller;
        let password = &password;
        async move {
            let start = world
                .services
                .accounts
                .start_link(caller, "idp", RETURN, Some(password), &client())
                .await
                .unwrap();
            let started = Started {
                state: world.providers.last_state().unwrap(),
                browser: start.browser.expose().to_owned(),
            };
            let code = format!("link-{subject}");
            world
                .providers
                .answer(&code, proven(subject, "x@example.com", true));
            (started, code)
        }
    };
    // A credential event between the start and the provider's answer ends the link.
    let (started, code) = link("late").await;
    world
        .store
        .apply(
            Changes {
                revoke_sessions: Some(Revocation {
                    user: ada.id(),
                    keep: None,
                    reason: RevokeReason::LogoutAll,
                }),
                ..Changes::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_matches!(
        world.callback(&started, &code).await.outcome,
        Err(FederationRefusal::LinkExpired)
    );
    assert_eq!(world.identities_of("ada@example.com").await, 0);
    // Linked in time: a notice to the address.
    let caller_after = world.signed_in("ada@example.com").await;
    let start = world
        .services
        .accounts
        .start_link(&caller_after, "idp", RETURN, Some(&password), &client())
        .await
        .unwrap();
    let started = Started {
        state: world.providers.last_state().unwrap(),
        browser: start.browser.expose().to_owned(),
    };
    world
        .providers
        .answer("in-time", proven("in-time", "x@example.com", true));
    assert_matches!(
        world.callback(&started, "in-time").await.outcome,
        Ok(Landed::Linked(_))
    );
    assert!(
        world
            .store
            .queued_mails()
            .iter()
            .any(|mail| mail.purpose == crate::MailPurpose::IdentityLinked
                && mail.to.as_str() == "ada@example.com"),
        "a notice of the link"
    );
}
