//! [`SessionStore`](crate::ports::SessionStore): a session reads back as stored and is
//! opened only under its user's current stamp; an access token's check finds only live
//! sessions of active users; of concurrent rotations exactly one wins; a revocation
//! happens once; the list is the live sessions, most recently used first; expired ones are
//! deleted in batches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;

use super::{Stores, assert_matches, contracts, now, reread, user};
use crate::ports::{Changes, UserUpdate};
use crate::{
    Assurance, AuthMethod, RevokeReason, SecurityStamp, Session, SessionId, TokenFingerprint, User,
    UserId,
};

contracts!(CONTRACTS:
    a_session_reads_back_and_authenticates_only_while_live,
    a_session_opens_only_under_the_users_current_stamp,
    of_concurrent_rotations_exactly_one_wins,
    a_revocation_happens_once_and_the_list_holds_the_live_ones,
    the_list_is_most_recently_used_first,
    expired_sessions_are_deleted_in_batches,
);

/// A session of `user` that lives `ttl` from now, its refresh token named `refresh`.
fn session(user: &User, ttl: Duration, refresh: &str) -> Session {
    let now = now();
    Session {
        id: SessionId::generate(),
        user_id: user.id(),
        refresh_token_hash: TokenFingerprint::of(refresh),
        previous_refresh_token_hash: None,
        rotated_at: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + ttl,
        revoked_at: None,
        revoked_reason: None,
        user_agent: Some("agent".to_owned()),
        ip: Some("203.0.113.9".to_owned()),
        assurance: Assurance::PASSWORD.and(AuthMethod::Otp),
    }
}

/// Opens `count` live sessions of `user`: their ids, oldest first.
pub(crate) async fn open(stores: &Stores, user: &User, count: usize) -> Vec<SessionId> {
    let mut ids = Vec::new();
    for n in 0..count {
        let opened = session(user, Duration::days(7), &format!("r{n}-{}", user.id()));
        ids.push(opened.id.clone());
        assert!(
            stores
                .sessions
                .create(opened, user.security_stamp(), None)
                .await
                .unwrap()
        );
    }
    ids
}

async fn a_session_reads_back_and_authenticates_only_while_live(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let stored = session(&ada, Duration::days(7), "r1");
    assert!(
        stores
            .sessions
            .create(stored.clone(), ada.security_stamp(), None)
            .await
            .unwrap()
    );
    assert_eq!(
        stores.sessions.find(&stored.id).await.unwrap(),
        Some(stored.clone())
    );
    let found = stores
        .sessions
        .find_active_user(&stored.id, ada.id(), now())
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id()), Some(ada.id()));
    assert!(
        reread(stores, &ada).await.last_login_at().is_some(),
        "the login time is recorded"
    );
    let other = stores
        .sessions
        .find_active_user(&stored.id, UserId::new(ada.id().get() + 1), now())
        .await
        .unwrap();
    assert!(other.is_none(), "only its own user");
    let later = stores
        .sessions
        .find_active_user(&stored.id, ada.id(), now() + Duration::days(8))
        .await
        .unwrap();
    assert!(later.is_none(), "not once expired");
    stores
        .accounts
        .apply(
            Changes {
                update_user: Some(UserUpdate {
                    is_active: Some(false),
                    ..UserUpdate::of(ada.id())
                }),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    let inactive = stores
        .sessions
        .find_active_user(&stored.id, ada.id(), now())
        .await
        .unwrap();
    assert!(inactive.is_none(), "not for an inactive user");
}

async fn a_session_opens_only_under_the_users_current_stamp(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let stale = session(&ada, Duration::days(7), "stale");
    let opened = stores
        .sessions
        .create(stale.clone(), SecurityStamp::new(41), None)
        .await
        .unwrap();
    assert!(!opened, "refused under another stamp");
    assert!(
        stores.sessions.find(&stale.id).await.unwrap().is_none(),
        "nothing stored"
    );
    assert!(reread(stores, &ada).await.last_login_at().is_none());
}

async fn of_concurrent_rotations_exactly_one_wins(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let stored = session(&ada, Duration::days(7), "r1");
    stores
        .sessions
        .create(stored.clone(), ada.security_stamp(), None)
        .await
        .unwrap();
    let rotate = |next: &'static str| {
        let id = stored.id.clone();
        async move {
            stores
                .sessions
                .rotate(
                    &id,
                    &TokenFingerprint::of("r1"),
                    &TokenFingerprint::of(next),
                    now(),
                )
                .await
                .unwrap()
        }
    };
    let (first, second) = futures::future::join(rotate("r2-a"), rotate("r2-b")).await;
    assert_eq!([first, second].iter().filter(|won| **won).count(), 1);
    let rotated = stores.sessions.find(&stored.id).await.unwrap().unwrap();
    assert_eq!(
        rotated.previous_refresh_token_hash,
        Some(TokenFingerprint::of("r1"))
    );
    assert!(rotated.rotated_at.is_some());
    let stale = stores
        .sessions
        .rotate(
            &stored.id,
            &TokenFingerprint::of("r1"),
            &TokenFingerprint::of("r3"),
            now(),
        )
        .await
        .unwrap();
    assert!(!stale, "a replaced token rotates nothing");
}

async fn a_revocation_happens_once_and_the_list_holds_the_live_ones(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let ids = open(stores, &ada, 2).await;
    let revoke = || {
        stores
            .sessions
            .revoke(&ids[0], RevokeReason::Logout, now(), None)
    };
    assert_matches!(revoke().await, Ok(true));
    assert_matches!(revoke().await, Ok(false), "once");
    let revoked = stores.sessions.find(&ids[0]).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_reason.as_deref(), Some("logout"));
    let live = stores.sessions.list_active(ada.id(), now()).await.unwrap();
    assert_eq!(
        live.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&ids[1]]
    );
}

async fn the_list_is_most_recently_used_first(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let ids = open(stores, &ada, 3).await;
    // The second is used again (a refresh): it comes first.
    let used = stores.sessions.find(&ids[1]).await.unwrap().unwrap();
    let rotated = stores
        .sessions
        .rotate(
            &ids[1],
            &used.refresh_token_hash,
            &TokenFingerprint::of("again"),
            now() + Duration::seconds(5),
        )
        .await
        .unwrap();
    assert!(rotated);
    let listed: Vec<SessionId> = stores
        .sessions
        .list_active(ada.id(), now() + Duration::seconds(6))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed.first(), Some(&ids[1]), "{listed:?}");
    assert_eq!(listed.len(), 3);
}

async fn expired_sessions_are_deleted_in_batches(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let mut expired = Vec::new();
    for n in 0..3 {
        let old = session(&ada, Duration::seconds(-10), &format!("old-{n}"));
        expired.push(old.id.clone());
        stores
            .sessions
            .create(old, ada.security_stamp(), None)
            .await
            .unwrap();
    }
    let live = open(stores, &ada, 1).await;
    assert_matches!(stores.sessions.delete_expired(now(), 2).await, Ok(2));
    assert_matches!(stores.sessions.delete_expired(now(), 2).await, Ok(1));
    assert_matches!(stores.sessions.delete_expired(now(), 2).await, Ok(0));
    for id in &expired {
        assert!(stores.sessions.find(id).await.unwrap().is_none());
    }
    assert!(stores.sessions.find(&live[0]).await.unwrap().is_some());
}
