//! [`PasskeyStore`](crate::ports::PasskeyStore): passkeys listed oldest first and found by
//! credential; a sign-in's new record replaces only the one it was checked against; a
//! ceremony's state is taken back once (also by two finishes at once), only for its kind
//! and before it expired; expired ceremonies go.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;

use super::{Stores, assert_matches, contracts, now, user};
use crate::ports::{
    CeremonyKind, CeremonyState, Changes, NewPasskey, PasskeyChange, RegisteredCredential,
};
use crate::{IssuedUnder, TokenFingerprint, User};

contracts!(CONTRACTS:
    passkeys_are_listed_oldest_first_and_found_by_credential,
    a_sign_in_records_its_counter_only_over_the_record_it_checked,
    a_ceremony_is_taken_back_once_for_its_kind_before_it_expires,
    expired_ceremonies_are_deleted,
);

async fn add(stores: &Stores, user: &User, credential_id: &str) -> i64 {
    stores
        .accounts
        .apply(
            Changes {
                passkey: Some(PasskeyChange::Add(NewPasskey {
                    user: user.id(),
                    name: credential_id.to_owned(),
                    registered: RegisteredCredential {
                        credential_id: credential_id.to_owned(),
                        credential: "{\"counter\":1}".to_owned(),
                    },
                })),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap()
        .passkey
        .unwrap()
        .id
}

async fn passkeys_are_listed_oldest_first_and_found_by_credential(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let first = add(stores, &ada, "cred-a").await;
    let second = add(stores, &ada, "cred-b").await;
    let listed: Vec<i64> = stores
        .passkeys
        .list(ada.id())
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, vec![first, second]);
    let found = stores.passkeys.find_by_credential("cred-b").await.unwrap();
    assert_eq!(found.map(|p| (p.id, p.user)), Some((second, ada.id())));
    assert!(
        stores
            .passkeys
            .find_by_credential("cred-z")
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_sign_in_records_its_counter_only_over_the_record_it_checked(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let id = add(stores, &ada, "cred").await;
    let checked = "{\"counter\":1}";
    let record = |updated: &'static str| {
        stores
            .passkeys
            .record_use(id, checked, Some(updated.to_owned()), now())
    };
    let (first, second) =
        futures::future::join(record("{\"counter\":2}"), record("{\"counter\":3}")).await;
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|won| **won)
            .count(),
        1,
        "of two sign-ins checked against one record, one stores its counter"
    );
    let stored = stores
        .passkeys
        .find_by_credential("cred")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.credential, checked);
    assert!(stored.last_used_at.is_some());
    let unchanged = stores
        .passkeys
        .record_use(id, &stored.credential, None, now())
        .await
        .unwrap();
    assert!(
        unchanged,
        "a sign-in that changed nothing still records its use"
    );
}

async fn a_ceremony_is_taken_back_once_for_its_kind_before_it_expires(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let save = |name: &str, kind, ttl: Duration| {
        let fingerprint = TokenFingerprint::of(name);
        let state = CeremonyState {
            user: Some(IssuedUnder::now(&ada)),
            state: format!("state-{name}"),
        };
        async move {
            stores
                .passkeys
                .save_ceremony(&fingerprint, kind, state, now() + ttl, now())
                .await
                .unwrap();
        }
    };
    save("reg", CeremonyKind::Registration, Duration::minutes(5)).await;
    let take = |name: &str, kind| {
        let fingerprint = TokenFingerprint::of(name);
        async move {
            stores
                .passkeys
                .take_ceremony(&fingerprint, kind, now())
                .await
                .unwrap()
        }
    };
    assert!(
        take("reg", CeremonyKind::Login).await.is_none(),
        "not as the other kind"
    );
    let (first, second) = futures::future::join(
        take("reg", CeremonyKind::Registration),
        take("reg", CeremonyKind::Registration),
    )
    .await;
    let taken: Vec<CeremonyState> = [first, second].into_iter().flatten().collect();
    assert_eq!(taken.len(), 1, "once");
    assert_eq!(
        taken[0].user,
        Some(IssuedUnder::now(&ada)),
        "with its user and stamp"
    );
    assert_eq!(taken[0].state, "state-reg");
    save("old", CeremonyKind::Login, Duration::seconds(-1)).await;
    assert!(
        take("old", CeremonyKind::Login).await.is_none(),
        "not once expired"
    );
}

async fn expired_ceremonies_are_deleted(stores: &Stores) {
    let fingerprint = TokenFingerprint::of("old");
    let state = CeremonyState {
        user: None,
        state: "s".to_owned(),
    };
    stores
        .passkeys
        .save_ceremony(
            &fingerprint,
            CeremonyKind::Login,
            state.clone(),
            now() - Duration::minutes(1),
            now(),
        )
        .await
        .unwrap();
    let live = TokenFingerprint::of("live");
    stores
        .passkeys
        .save_ceremony(
            &live,
            CeremonyKind::Login,
            state,
            now() + Duration::minutes(5),
            now(),
        )
        .await
        .unwrap();
    assert_matches!(
        stores.passkeys.delete_expired_ceremonies(now()).await,
        Ok(1)
    );
    assert!(
        stores
            .passkeys
            .take_ceremony(&live, CeremonyKind::Login, now())
            .await
            .unwrap()
            .is_some()
    );
}
