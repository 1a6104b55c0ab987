//! Passkey sign-in's own rules over mocked relying party and passkey store (the
//! ceremonies themselves are the library's, tested end to end with a software
//! authenticator in the HTTP suite): a ceremony begun for one user cannot be finished by
//! another, an assertion whose user handle is another user's is refused, an inactive
//! user's passkey signs nothing in, and a success is an `aal2` session with `amr`
//! `passkey`.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::ports::{
    CeremonyState, MockPasskeyStore, MockRelyingParty, PresentedCredential, StoredPasskey,
};
use crate::test_support::{InMemoryStore, SettableClock, in_memory_ports, in_memory_services};
use crate::{Aal, Assurance, AuthMethod, ClientInfo, EmailAddress, NewPassword, User};

fn passkey(user: User) -> StoredPasskey {
    StoredPasskey {
        id: 1,
        user: user.id(),
        name: "Laptop".to_owned(),
        credential_id: "cred".to_owned(),
        credential: "{}".to_owned(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        last_used_at: None,
    }
}

async fn service(
    configure: impl FnOnce(&mut MockRelyingParty, &mut MockPasskeyStore, &User),
) -> (Services, Arc<InMemoryStore>, User) {
    service_with(AccountPolicy::default(), configure).await
}

/// A service with `policy`, its one user registered (unverified), and the passkey ports
/// as `configure` sets them up for that user.
async fn service_with(
    policy: AccountPolicy,
    configure: impl FnOnce(&mut MockRelyingParty, &mut MockPasskeyStore, &User),
) -> (Services, Arc<InMemoryStore>, User) {
    let store = Arc::new(InMemoryStore::default());
    let clock = Arc::new(SettableClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    ));
    let policies = |policy: &AccountPolicy| Policies {
        accounts: policy.clone(),
        ..Policies::default()
    };
    let user = in_memory_services(&store, clock.clone(), policies(&policy))
        .accounts
        .register(Registration {
            email: EmailAddress::parse("pk@example.com").unwrap(),
            password: NewPassword::parse("Secret123".to_owned()).unwrap(),
            full_name: None,
        })
        .await
        .unwrap();
    let mut relying_party = MockRelyingParty::new();
    let mut passkeys = MockPasskeyStore::new();
    configure(&mut relying_party, &mut passkeys, &user);
    let ports = in_memory_ports(&store, clock);
    let service = Services::new(
        ServicePorts {
            core: CorePorts {
                passkeys: Arc::new(passkeys),
                ..ports.core
            },
            relying_party: Arc::new(relying_party),
            ..ports
        },
        policies(&policy),
    );
    (service, store, user)
}

fn client() -> ClientInfo {
    ClientInfo::new(Some(IpAddr::from([192, 0, 2, 1])), None)
}

fn ceremony() -> String {
    crate::OneTimeToken::generate().expose().to_owned()
}

fn login_ceremony(passkeys: &mut MockPasskeyStore) {
    passkeys.expect_take_ceremony().returning(|_, _, _| {
        Ok(Some(CeremonyState {
            user: None,
            state: "state".to_owned(),
        }))
    });
}

/// A sign-in ceremony answered with `user`'s passkey, naming `handle` as its user.
fn presents_passkey(
    rp: &mut MockRelyingParty,
    passkeys: &mut MockPasskeyStore,
    user: &User,
    handle: Option<Vec<u8>>,
) {
    login_ceremony(passkeys);
    rp.expect_presented().returning(move |_| {
        Ok(PresentedCredential {
            credential_id: "cred".to_owned(),
            user_handle: handle.clone(),
        })
    });
    let stored = passkey(user.clone());
    passkeys
        .expect_find_by_credential()
        .returning(move |_| Ok(Some(stored.clone())));
}

/// A sign-in whose assertion verifies: the user's own passkey, its counter moved on.
fn verified_assertion(rp: &mut MockRelyingParty, passkeys: &mut MockPasskeyStore, user: &User) {
    presents_passkey(rp, passkeys, user, Some(user_handle(user.id()).to_vec()));
    rp.expect_finish_login()
        .returning(|_, _, _| Ok(Some("{\"counter\":2}".to_owned())));
    passkeys
        .expect_record_use()
        .withf(|id, checked, updated, _| {
            *id == 1 && checked == "{}" && updated.as_deref() == Some("{\"counter\":2}")
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
}

#[tokio::test]
async fn a_verified_assertion_opens_an_aal2_session_with_amr_passkey() {
    let (service, store, user) = service(verified_assertion).await;
    let pair = service
        .sign_in
        .finish_passkey_login(&ceremony(), &json!({}), client())
        .await
        .unwrap();
    let caller = service
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .unwrap();
    assert_eq!(caller.user.id(), user.id());
    assert_eq!(caller.assurance, Assurance::of([AuthMethod::Passkey]));
    assert_eq!(caller.assurance.aal(), Aal::Aal2);
    assert_eq!(
        store.sessions()[0].assurance,
        Assurance::of([AuthMethod::Passkey])
    );
}

#[tokio::test]
async fn a_user_handle_of_another_user_is_refused_before_any_signature_check() {
    let (service, _, _) = service(|rp, passkeys, user| {
        presents_passkey(
            rp,
            passkeys,
            user,
            Some(user_handle(crate::UserId::new(999)).to_vec()),
        );
        rp.expect_finish_login().never();
    })
    .await;
    let refused = service
        .sign_in
        .finish_passkey_login(&ceremony(), &json!({}), client())
        .await;
    assert_matches!(refused, Err(PasskeyError::LoginRejected));
}

#[tokio::test]
async fn an_inactive_users_passkey_signs_nothing_in() {
    let (service, store, user) = service(|rp, passkeys, user| {
        presents_passkey(rp, passkeys, user, None);
        rp.expect_finish_login().never();
    })
    .await;
    store.set_active(user.id(), false);
    let refused = service
        .sign_in
        .finish_passkey_login(&ceremony(), &json!({}), client())
        .await;
    assert_matches!(refused, Err(PasskeyError::LoginRejected));
}

#[tokio::test]
async fn a_registration_begun_for_another_user_cannot_be_finished() {
    let (service, _, _) = service(|rp, passkeys, _| {
        passkeys.expect_take_ceremony().returning(|_, _, _| {
            Ok(Some(CeremonyState {
                user: Some(crate::IssuedUnder {
                    user: crate::UserId::new(999),
                    stamp: crate::SecurityStamp::INITIAL,
                }),
                state: "state".to_owned(),
            }))
        });
        rp.expect_finish_registration().never();
    })
    .await;
    let tokens = service
        .sign_in
        .login(LoginAttempt {
            email: EmailAddress::parse("pk@example.com").unwrap(),
            password: crate::PasswordAttempt::new("Secret123".to_owned()),
            client: client(),
        })
        .await
        .unwrap()
        .into_pair()
        .unwrap();
    let caller = service
        .sign_in
        .authenticate(&tokens.access_token)
        .await
        .unwrap();
    let refused = service
        .factors
        .finish_passkey_registration(&caller, &ceremony(), &json!({}), None)
        .await;
    assert_matches!(refused, Err(PasskeyError::InvalidCeremony));
}

#[tokio::test]
async fn a_sign_in_that_loses_the_race_to_record_its_counter_is_refused() {
    let (service, store, _) = service(|rp, passkeys, user| {
        presents_passkey(rp, passkeys, user, None);
        rp.expect_finish_login()
            .returning(|_, _, _| Ok(Some("{\"counter\":2}".to_owned())));
        // Another sign-in stored its newer counter first.
        passkeys
            .expect_record_use()
            .returning(|_, _, _, _| Ok(false));
    })
    .await;
    let refused = service
        .sign_in
        .finish_passkey_login(&ceremony(), &json!({}), client())
        .await;
    assert_matches!(refused, Err(PasskeyError::LoginRejected));
    assert!(store.sessions().is_empty(), "no session");
}

#[tokio::test]
async fn an_unverified_address_signs_nothing_in_when_verification_is_required() {
    let policy = AccountPolicy {
        require_verified_email: true,
        ..AccountPolicy::default()
    };
    let (service, store, user) = service_with(policy, verified_assertion).await;
    assert!(!user.is_verified());
    let refused = service
        .sign_in
        .finish_passkey_login(&ceremony(), &json!({}), client())
        .await;
    assert_matches!(refused, Err(PasskeyError::EmailNotVerified));
    assert!(store.sessions().is_empty(), "no session was opened");
}
