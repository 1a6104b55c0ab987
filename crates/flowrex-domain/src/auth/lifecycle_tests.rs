//! The account lifecycle over the in-memory store: every flow end to end, with the mails it
//! queues and a delivery round through a recording transport.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::ports::UserRepository;
use crate::test_support::{
    CountingFailureCounter, InMemoryStore, RecordingTransport, SettableClock, counting_throttle,
    in_memory_services,
};
use crate::{
    ClientInfo, DeliveryPolicy, EmailAddress, Mail, MailDelivery, MailPurpose, NewPassword,
    PasswordAttempt, TokenPair, User,
};

struct Lifecycle {
    store: Arc<InMemoryStore>,
    clock: Arc<SettableClock>,
    service: Services,
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

fn client() -> ClientInfo {
    ClientInfo::new(Some(IpAddr::from([198, 51, 100, 4])), None)
}

fn lifecycle_with(policy: AccountPolicy) -> Lifecycle {
    let store = Arc::new(InMemoryStore::default());
    let clock = Arc::new(SettableClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    ));
    let service = in_memory_services(
        &store,
        clock.clone(),
        Policies {
            accounts: policy,
            throttle: counting_throttle(50, 5),
            ..Policies::default()
        },
    );
    Lifecycle {
        store,
        clock,
        service,
    }
}

fn lifecycle() -> Lifecycle {
    lifecycle_with(AccountPolicy::default())
}

impl Lifecycle {
    async fn register(&self, raw: &str) -> User {
        self.service
            .accounts
            .register(Registration {
                email: email(raw),
                password: NewPassword::parse("Secret123".to_owned()).unwrap(),
                full_name: None,
            })
            .await
            .unwrap()
    }

    /// A password login (no account here has a second factor): its pair.
    async fn login(&self, raw: &str, password: &str) -> Result<TokenPair, LoginError> {
        self.service
            .sign_in
            .login(LoginAttempt {
                email: email(raw),
                password: PasswordAttempt::new(password.to_owned()),
                client: client(),
            })
            .await
            .map(|outcome| outcome.into_pair().expect("no second factor"))
    }

    async fn caller(&self, raw: &str, password: &str) -> (TokenPair, Authenticated) {
        let pair = self.login(raw, password).await.unwrap();
        let caller = self
            .service
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .unwrap();
        (pair, caller)
    }

    fn mails_to(&self, raw: &str) -> Vec<Mail> {
        self.store
            .queued_mails()
            .into_iter()
            .filter(|m| m.to == email(raw))
            .collect()
    }
}

fn new_password(raw: &str) -> NewPassword {
    NewPassword::parse(raw.to_owned()).unwrap()
}

#[tokio::test]
async fn registration_queues_a_verification_link_that_verifies_once() {
    let world = lifecycle();
    let user = world.register("ada@example.com").await;
    assert!(!user.is_verified());
    let mails = world.mails_to("ada@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].purpose, MailPurpose::VerifyEmail);
    assert!(
        mails[0]
            .link
            .as_deref()
            .unwrap()
            .starts_with("http://127.0.0.1:8000/verify-email?token=")
    );
    let token = world
        .store
        .last_link_token(MailPurpose::VerifyEmail)
        .unwrap();
    let verified = world
        .service
        .accounts
        .confirm_verification(&token)
        .await
        .unwrap();
    assert!(verified.is_verified());
    assert_matches!(
        world.service.accounts.confirm_verification(&token).await,
        Err(AccountError::InvalidToken)
    );
}

#[tokio::test]
async fn a_new_verification_link_replaces_the_old_one_and_links_expire() {
    let world = lifecycle();
    let user = world.register("bob@example.com").await;
    let first = world
        .store
        .last_link_token(MailPurpose::VerifyEmail)
        .unwrap();
    world
        .service
        .accounts
        .request_verification(VerificationRequest::Caller(&user))
        .await
        .unwrap();
    let second = world
        .store
        .last_link_token(MailPurpose::VerifyEmail)
        .unwrap();
    assert_ne!(first, second);
    assert_matches!(
        world.service.accounts.confirm_verification(&first).await,
        Err(AccountError::InvalidToken)
    );
    world.clock.advance(Duration::hours(25));
    assert_matches!(
        world.service.accounts.confirm_verification(&second).await,
        Err(AccountError::InvalidToken)
    );
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_mail_and_every_session_ends() {
    let world = lifecycle();
    world.register("cy@example.com").await;
    let (old_pair, _) = world.caller("cy@example.com", "Secret123").await;
    world
        .service
        .accounts
        .forgot_password(&email("CY@example.com"))
        .await
        .unwrap();
    let token = world
        .store
        .last_link_token(MailPurpose::ResetPassword)
        .unwrap();
    assert_matches!(
        world.service.accounts.confirm_verification(&token).await,
        Err(AccountError::InvalidToken),
        "a reset token does not verify"
    );
    world
        .service
        .accounts
        .reset_password(&token, new_password("Better456"))
        .await
        .unwrap();
    assert_matches!(
        world.login("cy@example.com", "Secret123").await,
        Err(LoginError::InvalidCredentials)
    );
    assert!(world.login("cy@example.com", "Better456").await.is_ok());
    assert!(
        world
            .service
            .sign_in
            .authenticate(&old_pair.access_token)
            .await
            .is_err()
    );
    assert_matches!(
        world
            .service
            .accounts
            .reset_password(&token, new_password("Third789"))
            .await,
        Err(AccountError::InvalidToken)
    );
    let user = world
        .store
        .find_by_email(&email("cy@example.com"))
        .await
        .unwrap();
    assert!(
        user.is_some_and(|u| u.is_verified()),
        "the link reached the address"
    );
    assert!(
        world
            .mails_to("cy@example.com")
            .iter()
            .any(|m| m.purpose == MailPurpose::PasswordReset),
        "a notice"
    );
}

#[tokio::test]
async fn forgot_for_unknown_and_inactive_addresses_succeeds_without_mail() {
    let world = lifecycle();
    world
        .service
        .accounts
        .forgot_password(&email("ghost@example.com"))
        .await
        .unwrap();
    let user = world.register("gone@example.com").await;
    world.service.admin.deactivate(user.email()).await.unwrap();
    world
        .service
        .accounts
        .forgot_password(&email("gone@example.com"))
        .await
        .unwrap();
    assert!(world.mails_to("ghost@example.com").is_empty());
    assert!(
        world
            .mails_to("gone@example.com")
            .iter()
            .all(|m| m.purpose == MailPurpose::VerifyEmail),
        "no reset mail for an inactive account"
    );
}

#[tokio::test]
async fn the_resend_limit_lets_one_mail_per_purpose_through() {
    let world = lifecycle_with(AccountPolicy {
        resend_limit: Some(Arc::new(CountingFailureCounter::new(1))),
        ..AccountPolicy::default()
    });
    world.register("dee@example.com").await;
    for _ in 0..3 {
        world
            .service
            .accounts
            .forgot_password(&email("dee@example.com"))
            .await
            .unwrap();
    }
    let resets = world
        .mails_to("dee@example.com")
        .iter()
        .filter(|m| m.purpose == MailPurpose::ResetPassword)
        .count();
    assert_eq!(resets, 1);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_a_wrong_one_counts() {
    let world = lifecycle();
    world.register("eve@example.com").await;
    let (other, _) = world.caller("eve@example.com", "Secret123").await;
    let (own, caller) = world.caller("eve@example.com", "Secret123").await;
    let wrong = world
        .service
        .accounts
        .change_password(
            &caller,
            &PasswordAttempt::new("Nope1234".to_owned()),
            new_password("Better456"),
            &client(),
        )
        .await;
    assert_matches!(wrong, Err(AccountError::WrongPassword));
    world
        .service
        .accounts
        .change_password(
            &caller,
            &PasswordAttempt::new("Secret123".to_owned()),
            new_password("Better456"),
            &client(),
        )
        .await
        .unwrap();
    assert!(
        world
            .service
            .sign_in
            .authenticate(&own.access_token)
            .await
            .is_ok()
    );
    assert!(
        world
            .service
            .sign_in
            .authenticate(&other.access_token)
            .await
            .is_err()
    );
    assert!(world.login("eve@example.com", "Better456").await.is_ok());
    for _ in 0..5 {
        let _ = world
            .service
            .accounts
            .change_password(
                &caller,
                &PasswordAttempt::new("Nope1234".to_owned()),
                new_password("Other789"),
                &client(),
            )
            .await;
    }
    assert_matches!(
        world.login("eve@example.com", "Better456").await,
        Err(LoginError::Throttled { .. })
    );
}

#[tokio::test]
async fn an_email_change_takes_effect_only_when_confirmed() {
    let world = lifecycle();
    world.register("fay@example.com").await;
    world.register("taken@example.com").await;
    let (_, caller) = world.caller("fay@example.com", "Secret123").await;
    let right = PasswordAttempt::new("Secret123".to_owned());
    assert_matches!(
        world
            .service
            .accounts
            .request_email_change(&caller, email("taken@example.com"), &right, &client())
            .await,
        Err(AccountError::EmailTaken)
    );
    world
        .service
        .accounts
        .request_email_change(&caller, email("fay.new@example.com"), &right, &client())
        .await
        .unwrap();
    let notice = world.mails_to("fay@example.com");
    assert!(
        notice
            .iter()
            .any(|m| m.purpose == MailPurpose::EmailChangeRequested
                && m.new_email.as_deref() == Some("fay.new@example.com"))
    );
    assert!(
        world.login("fay@example.com", "Secret123").await.is_ok(),
        "not yet"
    );
    let token = world
        .store
        .last_link_token(MailPurpose::ConfirmEmailChange)
        .unwrap();
    let user = world
        .service
        .accounts
        .confirm_email_change(&token)
        .await
        .unwrap();
    assert_eq!(user.email().as_str(), "fay.new@example.com");
    assert!(user.is_verified());
    assert!(world.login("fay@example.com", "Secret123").await.is_err());
    assert!(
        world
            .login("fay.new@example.com", "Secret123")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_deleted_account_is_gone_and_its_address_registers_again() {
    let world = lifecycle();
    world.register("gus@example.com").await;
    let (pair, caller) = world.caller("gus@example.com", "Secret123").await;
    assert_matches!(
        world
            .service
            .accounts
            .delete_account(
                &caller,
                &PasswordAttempt::new("Wrong123".to_owned()),
                &client()
            )
            .await,
        Err(AccountError::WrongPassword)
    );
    world
        .service
        .accounts
        .delete_account(
            &caller,
            &PasswordAttempt::new("Secret123".to_owned()),
            &client(),
        )
        .await
        .unwrap();
    assert!(
        world
            .service
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .is_err()
    );
    assert!(world.login("gus@example.com", "Secret123").await.is_err());
    world.register("gus@example.com").await;
}

#[tokio::test]
async fn without_mail_the_link_flows_refuse_and_registration_still_works() {
    let world = lifecycle_with(AccountPolicy {
        mail_enabled: false,
        ..AccountPolicy::default()
    });
    world.register("hal@example.com").await;
    assert!(world.store.queued_mails().is_empty());
    assert_matches!(
        world
            .service
            .accounts
            .forgot_password(&email("hal@example.com"))
            .await,
        Err(AccountError::MailDisabled)
    );
}

#[tokio::test]
async fn two_concurrent_confirmations_of_one_token_have_one_winner() {
    let world = lifecycle();
    world.register("ivy@example.com").await;
    let token = world
        .store
        .last_link_token(MailPurpose::VerifyEmail)
        .unwrap();
    let (a, b) = futures::join!(
        world.service.accounts.confirm_verification(&token),
        world.service.accounts.confirm_verification(&token)
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1);
}

#[tokio::test]
async fn queued_mail_is_delivered_once_and_retried_while_the_server_is_down() {
    let world = lifecycle();
    world.register("jo@example.com").await;
    let transport = Arc::new(RecordingTransport::default());
    let delivery = MailDelivery::new(
        world.store.clone(),
        transport.clone(),
        world.clock.clone(),
        DeliveryPolicy::default(),
    );
    transport.set_down(true);
    let report = delivery.deliver_due().await.unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    assert_eq!(delivery.deliver_due().await.unwrap().sent, 0, "not due yet");
    transport.set_down(false);
    world.clock.advance(Duration::seconds(6));
    assert_eq!(delivery.deliver_due().await.unwrap().sent, 1);
    world.clock.advance(Duration::hours(1));
    assert_eq!(
        delivery.deliver_due().await.unwrap().sent,
        0,
        "delivered once"
    );
    assert_eq!(transport.delivered().len(), 1);
}

// ---- administration -------------------------------------------------------------------

impl Lifecycle {
    /// `raw`, registered, made a superuser by the operator's command, and signed in.
    async fn admin(&self, raw: &str) -> Authenticated {
        self.register(raw).await;
        self.service
            .admin
            .set_superuser(&email(raw), true)
            .await
            .unwrap();
        self.caller(raw, "Secret123").await.1
    }
}

#[tokio::test]
async fn only_superusers_administer_and_the_last_one_stays() {
    let world = lifecycle();
    let admin = world.admin("root@example.com").await;
    let user = world.register("user@example.com").await;
    let (_, plain) = world.caller("user@example.com", "Secret123").await;
    assert_matches!(
        world
            .service
            .admin
            .admin_get_user(&plain, admin.user.id())
            .await,
        Err(AdminError::Forbidden)
    );
    for change in [
        AdminUserChange {
            is_superuser: Some(false),
            ..AdminUserChange::default()
        },
        AdminUserChange {
            is_active: Some(false),
            ..AdminUserChange::default()
        },
    ] {
        let refused = world
            .service
            .admin
            .admin_update_user(&admin, admin.user.id(), change)
            .await;
        assert_matches!(refused, Err(AdminError::LastSuperuser));
    }
    assert_matches!(
        world
            .service
            .admin
            .admin_delete_user(&admin, admin.user.id())
            .await,
        Err(AdminError::LastSuperuser)
    );
    assert_matches!(
        world
            .service
            .admin
            .set_superuser(&email("root@example.com"), false)
            .await,
        Err(AdminError::LastSuperuser)
    );
    let still = world
        .store
        .find_by_id(admin.user.id())
        .await
        .unwrap()
        .unwrap();
    assert!(still.is_superuser() && still.is_active(), "nothing changed");
    // Another superuser makes stepping down possible.
    let promoted = world
        .service
        .admin
        .admin_update_user(
            &admin,
            user.id(),
            AdminUserChange {
                is_superuser: Some(true),
                ..AdminUserChange::default()
            },
        )
        .await
        .unwrap();
    assert!(promoted.is_superuser());
    assert!(
        world
            .service
            .admin
            .set_superuser(&email("root@example.com"), false)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn deactivating_by_an_administrator_ends_every_session_of_the_user() {
    let world = lifecycle();
    let admin = world.admin("root@example.com").await;
    let user = world.register("user@example.com").await;
    let (pair, _) = world.caller("user@example.com", "Secret123").await;
    let changed = world
        .service
        .admin
        .admin_update_user(
            &admin,
            user.id(),
            AdminUserChange {
                is_active: Some(false),
                ..AdminUserChange::default()
            },
        )
        .await
        .unwrap();
    assert!(!changed.is_active());
    assert!(
        world
            .service
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .is_err()
    );
    assert!(
        world
            .service
            .sign_in
            .authenticate(&admin_token(&world).await)
            .await
            .is_ok()
    );
}

async fn admin_token(world: &Lifecycle) -> String {
    world
        .login("root@example.com", "Secret123")
        .await
        .unwrap()
        .access_token
}

#[tokio::test]
async fn an_invitation_mails_a_seven_day_link_that_sets_the_password() {
    let world = lifecycle();
    let admin = world.admin("root@example.com").await;
    let invited = world
        .service
        .admin
        .admin_create_user(
            &admin,
            AdminNewUser {
                email: email("guest@example.com"),
                password: None,
                full_name: None,
                is_verified: false,
                is_superuser: false,
            },
        )
        .await
        .unwrap();
    assert!(
        world.login("guest@example.com", "Secret123").await.is_err(),
        "no known password"
    );
    let token = world
        .store
        .last_link_token(MailPurpose::Invitation)
        .unwrap();
    world.clock.advance(Duration::days(6));
    world
        .service
        .accounts
        .reset_password(&token, new_password("Guest1234"))
        .await
        .unwrap();
    assert!(world.login("guest@example.com", "Guest1234").await.is_ok());
    let user = world.store.find_by_id(invited.id()).await.unwrap().unwrap();
    assert!(user.is_verified(), "the link reached the address");
}

#[tokio::test]
async fn users_are_listed_in_pages_newest_first() {
    let world = lifecycle();
    let admin = world.admin("root@example.com").await;
    for n in 0..4 {
        world.register(&format!("u{n}@example.com")).await;
    }
    let service = &world.service;
    let filter = crate::ports::UserFilter::default();
    let first = service
        .admin
        .admin_list_users(&admin, &filter, None, 3)
        .await
        .unwrap();
    let emails: Vec<&str> = first.items.iter().map(|u| u.email().as_str()).collect();
    assert_eq!(
        emails,
        ["u3@example.com", "u2@example.com", "u1@example.com"]
    );
    let rest = service
        .admin
        .admin_list_users(&admin, &filter, first.next, 3)
        .await
        .unwrap();
    let emails: Vec<&str> = rest.items.iter().map(|u| u.email().as_str()).collect();
    assert_eq!(emails, ["u0@example.com", "root@example.com"]);
    assert_eq!(rest.next, None);
}
