//! [`FederationStore`](crate::ports::FederationStore), and the identity changes of
//! [`AccountStore::apply`](crate::ports::AccountStore::apply): an identity is linked once per
//! provider and subject (also by two links at once), found by them and listed by user; the
//! last way to sign in is never unlinked; the first proof of the mailbox and deleting the
//! user take identities with them; a flow's state and its exchange code are each taken
//! once (also by two takes at once), only before they expired; expired flows go.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;

use super::{Stores, assert_matches, contracts, now, user};
use crate::ports::{AccountStoreError, Changes, IdentityChange, NewFlow};
use crate::{
    IdentityOwner, IssuedUnder, NewIdentity, PasswordHash, ProviderId, TokenFingerprint, User,
    UserId,
};

contracts!(CONTRACTS:
    an_identity_is_linked_once_per_provider_and_subject_and_found_by_them,
    the_last_way_to_sign_in_is_never_unlinked,
    reclaiming_and_deleting_a_user_take_their_identities,
    a_flows_state_and_its_code_are_each_taken_once_before_they_expire,
    expired_flows_are_deleted,
);

fn idp() -> ProviderId {
    ProviderId::parse("idp").unwrap()
}

fn link_of(user: UserId, subject: &str) -> Changes {
    Changes {
        identity: Some(IdentityChange::Link(NewIdentity {
            owner: IdentityOwner::User(user),
            provider: idp(),
            subject: subject.to_owned(),
            email: Some("someone@example.com".to_owned()),
        })),
        ..Changes::default()
    }
}

async fn link(stores: &Stores, user: &User, subject: &str) -> Result<(), AccountStoreError> {
    stores
        .accounts
        .apply(link_of(user.id(), subject), now())
        .await
        .map(|_| ())
}

async fn an_identity_is_linked_once_per_provider_and_subject_and_found_by_them(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let bob = user(stores, "bob@example.com").await;
    let (one, other) =
        futures::future::join(link(stores, &ada, "sub-1"), link(stores, &bob, "sub-1")).await;
    assert_eq!(
        [one.is_ok(), other.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{one:?} {other:?}"
    );
    assert_matches!(
        [one, other].into_iter().find(Result::is_err),
        Some(Err(AccountStoreError::IdentityTaken))
    );
    let owner = stores
        .federation
        .find_identity(&idp(), "sub-1")
        .await
        .unwrap()
        .expect("linked to the winner")
        .user;
    let other = if owner == ada.id() { &bob } else { &ada };
    link(stores, other, "sub-2").await.unwrap();
    let found = stores
        .federation
        .find_identity(&idp(), "sub-2")
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(found.user, other.id());
    assert_eq!(found.email.as_deref(), Some("someone@example.com"));
    assert!(
        stores
            .federation
            .find_identity(&ProviderId::parse("other").unwrap(), "sub-2")
            .await
            .unwrap()
            .is_none(),
        "the key is the provider and the subject"
    );
    let listed = stores.federation.identities(owner).await.unwrap();
    assert_eq!(listed.len(), 1);
    // Subjects are compared exactly: not by case (MySQL's default collations would).
    for near in ["SUB-2", "Sub-2"] {
        link(stores, &ada, near)
            .await
            .unwrap_or_else(|e| panic!("{near:?}: {e:?}"));
        let found = stores
            .federation
            .find_identity(&idp(), near)
            .await
            .unwrap()
            .expect("linked");
        assert_eq!(found.subject, near);
        assert_eq!(found.user, ada.id());
    }
    stores
        .federation
        .record_login(found.id, Some("new@example.com".to_owned()), now())
        .await
        .unwrap();
    let found = stores
        .federation
        .find_identity(&idp(), "sub-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.email.as_deref(), Some("new@example.com"));
    assert!(found.last_login_at.is_some());
}

async fn the_last_way_to_sign_in_is_never_unlinked(stores: &Stores) {
    // An account made by a provider: no usable password.
    let made = stores
        .accounts
        .apply(
            Changes {
                insert_user: Some(crate::NewUser {
                    email: crate::EmailAddress::parse("fed@example.com").unwrap(),
                    password_hash: PasswordHash::unusable(),
                    full_name: None,
                    created_at: now(),
                    is_superuser: false,
                    is_verified: true,
                }),
                identity: Some(IdentityChange::Link(NewIdentity {
                    owner: IdentityOwner::Inserted,
                    provider: idp(),
                    subject: "only".to_owned(),
                    email: None,
                })),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap()
        .user
        .unwrap();
    let only = stores.federation.identities(made.id()).await.unwrap();
    assert_eq!(only.len(), 1, "linked to the inserted user");
    let unlink = |id| Changes {
        issued_under: Some(IssuedUnder::now(&made)),
        identity: Some(IdentityChange::Unlink {
            user: made.id(),
            id,
        }),
        ..Changes::default()
    };
    assert_matches!(
        stores.accounts.apply(unlink(only[0].id), now()).await,
        Err(AccountStoreError::LastWayIn)
    );
    assert_eq!(
        stores.federation.identities(made.id()).await.unwrap().len(),
        1
    );
    assert_matches!(
        stores.accounts.apply(unlink(9_999_999), now()).await,
        Err(AccountStoreError::IdentityGone)
    );
    // With a second identity, one can go.
    link(stores, &made, "second").await.unwrap();
    stores
        .accounts
        .apply(unlink(only[0].id), now())
        .await
        .unwrap();
    let left = stores.federation.identities(made.id()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subject, "second");
    // A user with a password may unlink them all.
    let ada = user(stores, "ada@example.com").await;
    link(stores, &ada, "ada").await.unwrap();
    let id = stores.federation.identities(ada.id()).await.unwrap()[0].id;
    stores
        .accounts
        .apply(
            Changes {
                identity: Some(IdentityChange::Unlink { user: ada.id(), id }),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert!(
        stores
            .federation
            .identities(ada.id())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn reclaiming_and_deleting_a_user_take_their_identities(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let bob = user(stores, "bob@example.com").await;
    link(stores, &ada, "ada").await.unwrap();
    link(stores, &bob, "bob").await.unwrap();
    stores
        .accounts
        .apply(
            Changes {
                reclaim: Some(ada.id()),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert!(
        stores
            .federation
            .identities(ada.id())
            .await
            .unwrap()
            .is_empty()
    );
    stores
        .accounts
        .apply(
            Changes {
                delete_user: Some(bob.id()),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert!(
        stores
            .federation
            .find_identity(&idp(), "bob")
            .await
            .unwrap()
            .is_none()
    );
    // Linkable again by someone else.
    link(stores, &ada, "bob").await.unwrap();
}

fn flow(state: &str, link: Option<IssuedUnder>) -> NewFlow {
    NewFlow {
        state: TokenFingerprint::of(state),
        browser: TokenFingerprint::of("browser"),
        provider: idp(),
        return_to: "http://localhost:3000/cb".to_owned(),
        client_challenge: Some("c".repeat(43)),
        link,
        expires_at: now() + Duration::minutes(10),
    }
}

async fn a_flows_state_and_its_code_are_each_taken_once_before_they_expire(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let federation = &stores.federation;
    federation
        .start_flow(flow("s1", Some(IssuedUnder::now(&ada))))
        .await
        .unwrap();
    let state = TokenFingerprint::of("s1");
    let take = || federation.take_flow(&state, now());
    let (one, other) = futures::future::join(take(), take()).await;
    let taken: Vec<_> = [one.unwrap(), other.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(taken.len(), 1, "one of two concurrent takes");
    let returned = &taken[0];
    assert_eq!(returned.browser, TokenFingerprint::of("browser"));
    assert_eq!(returned.provider, idp());
    assert_eq!(returned.return_to, "http://localhost:3000/cb");
    assert_eq!(
        returned.client_challenge.as_deref(),
        Some("c".repeat(43).as_str())
    );
    assert_eq!(returned.link, Some(IssuedUnder::now(&ada)));
    assert!(take().await.unwrap().is_none(), "spent");

    let code = TokenFingerprint::of("code-1");
    federation
        .issue_code(
            returned.id,
            &code,
            IssuedUnder::now(&ada),
            now() + Duration::seconds(60),
        )
        .await
        .unwrap();
    assert!(
        federation
            .take_code(&code, now() + Duration::seconds(61))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    let take_code = || federation.take_code(&code, now());
    let (one, other) = futures::future::join(take_code(), take_code()).await;
    let redeemed: Vec<_> = [one.unwrap(), other.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(redeemed.len(), 1, "one of two concurrent exchanges");
    assert_eq!(redeemed[0].user, IssuedUnder::now(&ada));
    assert_eq!(redeemed[0].provider, idp());
    assert!(take_code().await.unwrap().is_none(), "spent");

    federation.start_flow(flow("s2", None)).await.unwrap();
    assert!(
        federation
            .take_flow(&TokenFingerprint::of("s2"), now() + Duration::minutes(11))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    let fresh = federation
        .take_flow(&TokenFingerprint::of("s2"), now())
        .await
        .unwrap()
        .expect("not spent by the expired try");
    assert_eq!(fresh.link, None);
}

async fn expired_flows_are_deleted(stores: &Stores) {
    let federation = &stores.federation;
    federation.start_flow(flow("one", None)).await.unwrap();
    federation.start_flow(flow("two", None)).await.unwrap();
    assert_eq!(
        federation.purge_flows(now()).await.unwrap(),
        0,
        "live ones stay"
    );
    let purged = federation
        .purge_flows(now() + Duration::minutes(10) + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(purged, 2);
}
