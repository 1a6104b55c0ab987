//! Sign-in by email and breached passwords over the in-memory store, with a settable clock:
//! what each step answers, mails, records and spends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::ports::{BreachCheckError, BreachedPasswords, UserRepository};
use crate::test_support::{InMemoryStore, SettableClock, counting_throttle, in_memory_services};
use crate::{ClientInfo, EmailAddress, Mail, MailPurpose, NewPassword, PasswordAttempt, User};

const PASSWORD: &str = "Secret123";
const BREACHED: &str = "Password1";

struct World {
    store: Arc<InMemoryStore>,
    clock: Arc<SettableClock>,
    service: Services,
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

fn client() -> ClientInfo {
    ClientInfo::new(Some(IpAddr::from([198, 51, 100, 7])), None)
}

/// Known breached passwords, or a source that fails.
struct Breaches {
    counts: HashMap<&'static str, u64>,
    down: bool,
}

#[async_trait]
impl BreachedPasswords for Breaches {
    async fn occurrences(&self, password: &str) -> Result<u64, BreachCheckError> {
        if self.down {
            return Err(BreachCheckError(anyhow::anyhow!("range server down")));
        }
        Ok(self.counts.get(password).copied().unwrap_or(0))
    }
}

fn breaches(down: bool, on_error: BreachOnError) -> BreachPolicy {
    BreachPolicy {
        source: Some(Arc::new(Breaches {
            counts: HashMap::from([(BREACHED, 3), ("Rare12345", 1)]),
            down,
        })),
        min_count: 2,
        on_error,
    }
}

fn world_with(email_login: EmailLoginPolicy, breaches: BreachPolicy) -> World {
    let store = Arc::new(InMemoryStore::default());
    let clock = Arc::new(SettableClock::new(
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
    ));
    let service = in_memory_services(
        &store,
        clock.clone(),
        Policies {
            accounts: AccountPolicy {
                email_login,
                ..AccountPolicy::default()
            },
            throttle: counting_throttle(50, 8),
            breaches,
            ..Policies::default()
        },
    );
    World {
        store,
        clock,
        service,
    }
}

fn enabled() -> EmailLoginPolicy {
    EmailLoginPolicy {
        enabled: true,
        ..EmailLoginPolicy::default()
    }
}

fn world() -> World {
    world_with(enabled(), BreachPolicy::default())
}

impl World {
    async fn register(&self, raw: &str, password: &str) -> Result<User, RegisterError> {
        self.service
            .accounts
            .register(Registration {
                email: email(raw),
                password: NewPassword::parse(password.to_owned()).unwrap(),
                full_name: None,
            })
            .await
    }

    async fn ask(&self, raw: &str) {
        self.service
            .sign_in
            .request_email_login(&email(raw), None)
            .await
            .unwrap();
    }

    fn mails(&self, raw: &str, purpose: MailPurpose) -> Vec<Mail> {
        self.store
            .queued_mails()
            .into_iter()
            .filter(|m| m.to == email(raw) && m.purpose == purpose)
            .collect()
    }

    /// The newest sign-in mail's token and code.
    fn sign_in_mail(&self, raw: &str) -> (String, String) {
        let mail = self.mails(raw, MailPurpose::EmailLogin).pop().unwrap();
        let token = mail
            .link
            .unwrap()
            .rsplit_once("token=")
            .unwrap()
            .1
            .to_owned();
        (token, mail.code.unwrap())
    }

    async fn code(&self, raw: &str, code: &str) -> Result<LoginOutcome, EmailLoginError> {
        self.service
            .sign_in
            .verify_email_code(&email(raw), code, client())
            .await
    }

    async fn link(&self, token: &str) -> Result<EmailLinkLanding, EmailLoginError> {
        self.service
            .sign_in
            .finish_email_link(token, client())
            .await
    }

    async fn user(&self, raw: &str) -> Option<User> {
        self.store.find_by_email(&email(raw)).await.unwrap()
    }
}

fn wrong(code: &str) -> String {
    let digit = if code.starts_with('0') { '1' } else { '0' };
    format!("{digit}{}", &code[1..])
}

#[tokio::test]
async fn one_mail_signs_in_once_by_its_code_or_its_link_and_the_session_says_email() {
    let world = world();
    world.register("ada@example.com", PASSWORD).await.unwrap();
    world.ask("ada@example.com").await;
    let (token, code) = world.sign_in_mail("ada@example.com");
    assert_eq!(code.len(), 6);
    // The page's GET only looks, any number of times.
    for _ in 0..3 {
        assert_eq!(
            world
                .service
                .sign_in
                .email_link_address(&token)
                .await
                .unwrap(),
            Some("ada@example.com".to_owned())
        );
    }
    let pair = world
        .code("ada@example.com", &code)
        .await
        .unwrap()
        .into_pair()
        .expect("no second factor");
    let caller = world
        .service
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(
        caller.assurance.methods().collect::<Vec<_>>(),
        [crate::AuthMethod::Email]
    );
    // The code and the link are spent together.
    assert!(matches!(
        world.code("ada@example.com", &code).await,
        Err(EmailLoginError::InvalidCode)
    ));
    assert!(matches!(
        world.link(&token).await,
        Err(EmailLoginError::InvalidLink)
    ));
    assert_eq!(
        world
            .service
            .sign_in
            .email_link_address(&token)
            .await
            .unwrap(),
        None
    );

    // Again, by the link this time: then the code is dead.
    world.ask("ada@example.com").await;
    let (token, code) = world.sign_in_mail("ada@example.com");
    assert!(matches!(
        world.link(&token).await,
        Ok(EmailLinkLanding::SignedIn(LoginOutcome::SignedIn(_)))
    ));
    assert!(matches!(
        world.code("ada@example.com", &code).await,
        Err(EmailLoginError::InvalidCode)
    ));
    let actions = world.store.actions();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "email_login_requested")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_newer_mail_replaces_the_older_and_a_mail_expires() {
    let world = world();
    world.register("bo@example.com", PASSWORD).await.unwrap();
    world.ask("bo@example.com").await;
    let (old_token, old_code) = world.sign_in_mail("bo@example.com");
    world.ask("bo@example.com").await;
    let (token, code) = world.sign_in_mail("bo@example.com");
    assert_ne!(old_token, token);
    assert!(matches!(
        world.link(&old_token).await,
        Err(EmailLoginError::InvalidLink)
    ));
    if old_code != code {
        assert!(matches!(
            world.code("bo@example.com", &old_code).await,
            Err(EmailLoginError::InvalidCode)
        ));
    }
    world.clock.advance(Duration::minutes(10));
    assert!(matches!(
        world.code("bo@example.com", &code).await,
        Err(EmailLoginError::InvalidCode)
    ));
    assert!(matches!(
        world.link(&token).await,
        Err(EmailLoginError::InvalidLink)
    ));
}

#[tokio::test]
async fn five_wrong_codes_end_the_mail() {
    let world = world();
    world.register("cy@example.com", PASSWORD).await.unwrap();
    world.ask("cy@example.com").await;
    let (token, code) = world.sign_in_mail("cy@example.com");
    for _ in 0..crate::MAX_CODE_TRIES {
        assert!(matches!(
            world.code("cy@example.com", &wrong(&code)).await,
            Err(EmailLoginError::InvalidCode)
        ));
    }
    assert!(matches!(
        world.code("cy@example.com", &code).await,
        Err(EmailLoginError::InvalidCode)
    ));
    assert!(matches!(
        world.link(&token).await,
        Err(EmailLoginError::InvalidLink)
    ));
    let failures = world
        .store
        .actions()
        .into_iter()
        .filter(|a| a == "login_failed")
        .count();
    assert_eq!(failures, 5, "each wrong code is a failed login");
}

#[tokio::test]
async fn unknown_and_inactive_addresses_get_the_same_answer_and_no_mail() {
    let world = world();
    let user = world.register("di@example.com", PASSWORD).await.unwrap();
    world.store.set_active(user.id(), false);
    world.ask("di@example.com").await;
    world.ask("nobody@example.com").await;
    assert!(
        world
            .mails("di@example.com", MailPurpose::EmailLogin)
            .is_empty()
    );
    assert!(
        world
            .mails("nobody@example.com", MailPurpose::EmailLogin)
            .is_empty()
    );
    assert!(world.user("nobody@example.com").await.is_none());
    assert!(matches!(
        world.code("nobody@example.com", "123456").await,
        Err(EmailLoginError::InvalidCode)
    ));
}

#[tokio::test]
async fn off_by_default_and_the_return_address_must_be_allowed() {
    let off = world_with(EmailLoginPolicy::default(), BreachPolicy::default());
    assert!(matches!(
        off.service
            .sign_in
            .request_email_login(&email("ed@example.com"), None)
            .await,
        Err(EmailLoginError::Disabled)
    ));
    assert!(matches!(
        off.code("ed@example.com", "123456").await,
        Err(EmailLoginError::Disabled)
    ));
    let world = world();
    assert!(matches!(
        world
            .service
            .sign_in
            .request_email_login(&email("ed@example.com"), Some("https://evil.example/"))
            .await,
        Err(EmailLoginError::ReturnUrlNotAllowed)
    ));
}

#[tokio::test]
async fn a_sign_in_verifies_the_address_and_takes_a_squatted_account_back() {
    let world = world();
    // Someone registered the address with a password of theirs and never verified it.
    world.register("fe@example.com", PASSWORD).await.unwrap();
    world.ask("fe@example.com").await;
    let (_, code) = world.sign_in_mail("fe@example.com");
    world.code("fe@example.com", &code).await.unwrap();
    let user = world.user("fe@example.com").await.unwrap();
    assert!(user.is_verified());
    assert!(
        !user.password_hash().is_usable(),
        "the squatter's password is gone"
    );
    let login = world
        .service
        .sign_in
        .login(LoginAttempt {
            email: email("fe@example.com"),
            password: PasswordAttempt::new(PASSWORD.to_owned()),
            client: client(),
        })
        .await;
    assert!(matches!(login, Err(LoginError::InvalidCredentials)));
    assert!(world.store.actions().contains(&"email_verified".to_owned()));
}

#[tokio::test]
async fn an_unknown_address_registers_only_where_allowed() {
    let world = world_with(
        EmailLoginPolicy {
            creates_accounts: true,
            ..enabled()
        },
        BreachPolicy::default(),
    );
    world.ask("gu@example.com").await;
    assert!(world.user("gu@example.com").await.is_none(), "not before");
    let (token, _) = world.sign_in_mail("gu@example.com");
    assert!(world.link(&token).await.is_ok());
    let user = world.user("gu@example.com").await.unwrap();
    assert!(user.is_verified());
    assert!(!user.password_hash().is_usable());
}

#[tokio::test]
async fn a_credential_change_after_the_mail_ends_it() {
    let world = world();
    world.register("hu@example.com", PASSWORD).await.unwrap();
    world.ask("hu@example.com").await;
    let (token, code) = world.sign_in_mail("hu@example.com");
    world
        .service
        .accounts
        .forgot_password(&email("hu@example.com"))
        .await
        .unwrap();
    let reset = world
        .store
        .last_link_token(MailPurpose::ResetPassword)
        .unwrap();
    world
        .service
        .accounts
        .reset_password(&reset, NewPassword::parse("Another123".to_owned()).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        world.code("hu@example.com", &code).await,
        Err(EmailLoginError::InvalidCode)
    ));
    assert!(matches!(
        world.link(&token).await,
        Err(EmailLoginError::InvalidLink)
    ));
}

#[tokio::test]
async fn breached_passwords_are_refused_where_set_and_noted_once_at_login() {
    let world = world_with(enabled(), breaches(false, BreachOnError::Allow));
    assert!(matches!(
        world.register("io@example.com", BREACHED).await,
        Err(RegisterError::PasswordBreached)
    ));
    // Below PASSWORD_BREACH_MIN_COUNT (2): allowed.
    world.register("io@example.com", "Rare12345").await.unwrap();
    // A password that was set before the check: the login works, and is noted once.
    let old = world_with(enabled(), BreachPolicy::default());
    old.register("ju@example.com", BREACHED).await.unwrap();
    let store = old.store.clone();
    let checked = in_memory_services(
        &store,
        old.clock.clone(),
        Policies {
            breaches: breaches(false, BreachOnError::Allow),
            ..Policies::default()
        },
    );
    for _ in 0..2 {
        let login = checked
            .sign_in
            .login(LoginAttempt {
                email: email("ju@example.com"),
                password: PasswordAttempt::new(BREACHED.to_owned()),
                client: client(),
            })
            .await;
        assert!(matches!(login, Ok(LoginOutcome::SignedIn(_))));
        checked
            .sign_in
            .note_breached_password(
                &email("ju@example.com"),
                &PasswordAttempt::new(BREACHED.to_owned()),
            )
            .await;
    }
    let noted = store
        .actions()
        .into_iter()
        .filter(|a| a == "password_breached_at_login")
        .count();
    assert_eq!(noted, 1);
    assert_eq!(
        old.mails("ju@example.com", MailPurpose::PasswordBreached)
            .len(),
        1
    );
}

#[tokio::test]
async fn a_failing_source_allows_or_refuses_as_configured() {
    let allowing = world_with(enabled(), breaches(true, BreachOnError::Allow));
    allowing.register("ko@example.com", BREACHED).await.unwrap();
    let refusing = world_with(enabled(), breaches(true, BreachOnError::Refuse));
    assert!(matches!(
        refusing.register("ko@example.com", PASSWORD).await,
        Err(RegisterError::BreachCheckUnavailable)
    ));
}
