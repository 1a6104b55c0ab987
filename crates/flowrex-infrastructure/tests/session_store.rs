//! Contract tests of the sea-orm session store on a real, migrated database (SQLite, or the
//! server named by `TEST_DATABASE_URL`).

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_matches::assert_matches;

mod support;

use chrono::{Duration, SubsecRound, Utc};
use flowrex_domain::ports::SessionStore;
use flowrex_domain::{RevokeReason, SecurityStamp, Session, SessionId, TokenFingerprint, UserId};

const INITIAL: SecurityStamp = SecurityStamp::INITIAL;
use flowrex_infrastructure::SeaOrmSessionStore;
use tempfile::TempDir;

async fn stores() -> (SeaOrmSessionStore, UserId, TempDir) {
    let (db, dir) = support::migrated_pool().await;
    let user = support::insert_user(&db, "s@example.com").await;
    (SeaOrmSessionStore::new(db), user, dir)
}

fn session(user: UserId, expires_in: Duration, refresh: &str) -> Session {
    let now = Utc::now().trunc_subsecs(6);
    let id = SessionId::generate();
    Session {
        id,
        user_id: user,
        refresh_token_hash: TokenFingerprint::of(refresh),
        previous_refresh_token_hash: None,
        rotated_at: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + expires_in,
        revoked_at: None,
        revoked_reason: None,
        user_agent: Some("agent".to_owned()),
        ip: Some("203.0.113.9".to_owned()),
        // Read back as stored, so a second factor's methods survive the round trip.
        assurance: flowrex_domain::Assurance::PASSWORD.and(flowrex_domain::AuthMethod::Otp),
    }
}

#[tokio::test]
async fn a_session_reads_back_as_stored_and_authenticates_its_user() {
    let (store, user, _dir) = stores().await;
    let stored = session(user, Duration::days(7), "r1");
    assert!(store.create(stored.clone(), INITIAL, None).await.unwrap());
    assert_eq!(
        store.find(&stored.id).await.ok().flatten(),
        Some(stored.clone())
    );
    let found = store.find_active_user(&stored.id, user, Utc::now()).await;
    assert_matches!(found, Ok(Some(u)) if u.id() == user);
    let wrong_user = store
        .find_active_user(&stored.id, UserId::new(user.get() + 1), Utc::now())
        .await;
    assert_matches!(wrong_user, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_rotations_of_one_token_exactly_one_wins() {
    let (store, user, _dir) = stores().await;
    let stored = session(user, Duration::days(7), "r1");
    assert!(store.create(stored.clone(), INITIAL, None).await.unwrap());
    let attempts = (0..10).map(|n| {
        let (store, id) = (store.clone(), stored.id.clone());
        tokio::spawn(async move {
            store
                .rotate(
                    &id,
                    &TokenFingerprint::of("r1"),
                    &TokenFingerprint::of(&format!("r2-{n}")),
                    Utc::now(),
                )
                .await
        })
    });
    let wins = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(true))))
        .count();
    assert_eq!(wins, 1);
    let rotated = store.find(&stored.id).await.ok().flatten().expect("gone");
    assert_eq!(
        rotated.previous_refresh_token_hash,
        Some(TokenFingerprint::of("r1"))
    );
    assert!(rotated.rotated_at.is_some());
}

#[tokio::test]
async fn revoked_and_expired_sessions_stop_authenticating_and_are_cleaned_up() {
    let (store, user, _dir) = stores().await;
    let live = session(user, Duration::days(7), "a");
    let revoked = session(user, Duration::days(7), "b");
    let expired = session(user, Duration::seconds(-1), "c");
    for s in [&live, &revoked, &expired] {
        assert!(store.create(s.clone(), INITIAL, None).await.unwrap());
    }
    assert_matches!(
        store
            .revoke(&revoked.id, RevokeReason::Logout, Utc::now(), None)
            .await,
        Ok(true)
    );
    assert_matches!(
        store
            .revoke(&revoked.id, RevokeReason::Logout, Utc::now(), None)
            .await,
        Ok(false),
        "once"
    );
    for dead in [&revoked, &expired] {
        assert_matches!(
            store.find_active_user(&dead.id, user, Utc::now()).await,
            Ok(None)
        );
    }
    let listed = store
        .list_active(user, Utc::now())
        .await
        .unwrap_or_default();
    let listed: Vec<&SessionId> = listed.iter().map(|s| &s.id).collect();
    assert_eq!(listed, [&live.id]);
    assert_matches!(store.delete_expired(Utc::now(), 100).await, Ok(1));
    assert!(store.find(&expired.id).await.ok().flatten().is_none());
    assert_matches!(
        store
            .revoke(&live.id, RevokeReason::LogoutAll, Utc::now(), None)
            .await,
        Ok(true)
    );
    assert!(
        store
            .list_active(user, Utc::now())
            .await
            .unwrap_or_default()
            .is_empty()
    );
}
