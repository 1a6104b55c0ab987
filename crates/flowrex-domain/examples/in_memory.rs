//! Flowrex's use cases embedded in another program, over in-memory adapters: the services
//! wired from their ports, then register → login → the current user → logout.
//! It checks each answer and exits 0, so CI runs it:
//!
//! ```sh
//! cargo run -p flowrex-domain --example in_memory --features test-support
//! ```
//!
//! A real embedding passes real adapters instead (`flowrex-infrastructure`: sea-orm stores,
//! bcrypt, JWT); the use cases do not change.

use std::sync::Arc;

use anyhow::{Context, ensure};
use flowrex_domain::test_support::{
    InMemoryStore, PlainHasher, PlainSealer, PlainTokens, ScriptedProviders, SettableClock,
    StepCodes, TrustingRelyingParty,
};
use flowrex_domain::{
    AuthenticateError, ClientInfo, CorePorts, EmailAddress, LoginAttempt, LoginOutcome,
    LogoutRequest, NewPassword, PasswordAttempt, Policies, Registration, ServicePorts, Services,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    // One store plays the database (users, sessions, one-time tokens, factors, passkeys,
    // the audit trail and the mail outbox); the fakes stand in for bcrypt, JWT, TOTP and
    // WebAuthn. Each is an `Arc<dyn Port>`, chosen at run time.
    let store = Arc::new(InMemoryStore::default());
    let tokens = Arc::new(PlainTokens::default());
    let Services {
        sign_in, accounts, ..
    } = Services::new(
        ServicePorts {
            core: CorePorts {
                users: store.clone(),
                sessions: store.clone(),
                accounts: store.clone(),
                factors: store.clone(),
                passkeys: store.clone(),
                federation: store.clone(),
                hasher: Arc::new(PlainHasher),
                issuer: tokens.clone(),
                verifier: tokens,
                clock: Arc::new(SettableClock::new(chrono::Utc::now())),
                audit: store.clone(),
            },
            otp: Arc::new(StepCodes),
            sealer: Arc::new(PlainSealer),
            relying_party: Arc::new(TrustingRelyingParty),
            directory: store.clone(),
            providers: Arc::new(ScriptedProviders::default()),
        },
        Policies::default(),
    );

    // Values are parsed before they reach the service: a bad one never gets this far.
    let email = EmailAddress::parse("Ada@Example.com").context("an address")?;
    let user = accounts
        .register(Registration {
            email: email.clone(),
            password: NewPassword::parse("Analytical1".to_owned()).context("a password")?,
            full_name: None,
        })
        .await?;
    println!("registered user {} <{}>", user.id(), user.email());

    let outcome = sign_in
        .login(LoginAttempt {
            email: EmailAddress::parse("ada@example.com")?,
            password: PasswordAttempt::new("Analytical1".to_owned()),
            client: ClientInfo::new(None, Some("in_memory example".to_owned())),
        })
        .await?;
    let LoginOutcome::SignedIn(pair) = outcome else {
        anyhow::bail!("no second factor was set up: the password signs in");
    };
    println!("logged in: access token for {} s", pair.expires_in);

    let caller = sign_in.authenticate(&pair.access_token).await?;
    ensure!(caller.user.id() == user.id(), "the token is the user's");
    println!("current user: {}", caller.user.email());

    sign_in
        .logout(LogoutRequest {
            access_token: Some(&pair.access_token),
            ..LogoutRequest::default()
        })
        .await?;
    let after = sign_in.authenticate(&pair.access_token).await;
    ensure!(
        matches!(after, Err(AuthenticateError::InvalidCredentials)),
        "a logged-out session's token is refused: {after:?}"
    );
    println!("logged out: the token is refused");
    Ok(())
}
