//! Flowrex's use cases embedded in another program, over in-memory adapters: an
//! `AuthService` wired from its ports, then register → login → the current user → logout.
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
use flowrex_domain::test_support::{InMemoryStore, PlainHasher, PlainTokens, SettableClock};
use flowrex_domain::{
    AuthPolicy, AuthPorts, AuthService, AuthenticateError, ClientInfo, EmailAddress, LoginAttempt,
    LogoutRequest, NewPassword, PasswordAttempt, Registration,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    // One store plays the database (users, sessions, one-time tokens and the mail
    // outbox); the fakes stand in for bcrypt and JWT. Each is an `Arc<dyn Port>`, chosen at run time.
    let store = Arc::new(InMemoryStore::default());
    let tokens = Arc::new(PlainTokens::default());
    let auth = AuthService::new(
        AuthPorts {
            users: store.clone(),
            sessions: store.clone(),
            accounts: store.clone(),
            hasher: Arc::new(PlainHasher),
            issuer: tokens.clone(),
            verifier: tokens,
            clock: Arc::new(SettableClock::new(chrono::Utc::now())),
        },
        AuthPolicy::default(),
    );

    // Values are parsed before they reach the service: a bad one never gets this far.
    let email = EmailAddress::parse("Ada@Example.com").context("an address")?;
    let user = auth
        .register(Registration {
            email: email.clone(),
            password: NewPassword::parse("Analytical1".to_owned()).context("a password")?,
            full_name: None,
        })
        .await?;
    println!("registered user {} <{}>", user.id(), user.email());

    let pair = auth
        .login(LoginAttempt {
            email: EmailAddress::parse("ada@example.com")?,
            password: PasswordAttempt::new("Analytical1".to_owned()),
            client: ClientInfo::new(None, Some("in_memory example".to_owned())),
        })
        .await?;
    println!("logged in: access token for {} s", pair.expires_in);

    let caller = auth.authenticate(&pair.access_token).await?;
    ensure!(caller.user.id() == user.id(), "the token is the user's");
    println!("current user: {}", caller.user.email());

    auth.logout(LogoutRequest {
        access_token: Some(&pair.access_token),
        ..LogoutRequest::default()
    })
    .await?;
    let after = auth.authenticate(&pair.access_token).await;
    ensure!(
        matches!(after, Err(AuthenticateError::InvalidCredentials)),
        "a logged-out session's token is refused: {after:?}"
    );
    println!("logged out: the token is refused");
    Ok(())
}
