//! Contract tests of the second-factor stores on a real, migrated database (SQLite, or the
//! server named by `TEST_DATABASE_URL`): a TOTP step is accepted once, also by concurrent
//! requests on separate connections; a challenge never gets more tries than its limit; a
//! recovery code is consumed once; activation is conditional; secrets are stored sealed.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_matches::assert_matches;

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use flowrex_domain::ports::{
    AccountStore, AccountStoreError, Changes, MfaChallenge, MfaStore, RecoveryCodesChange, Sealer,
    TotpChange,
};
use flowrex_domain::{AuthMethod, IssuedUnder, SecurityStamp, TokenFingerprint, UserId};
use flowrex_infrastructure::entity::totp_factors;
use flowrex_infrastructure::{SeaOrmAccountStore, SeaOrmMfaStore, test_support};
use sea_orm::{DatabaseConnection, EntityTrait};
use tempfile::TempDir;

struct Stores {
    db: DatabaseConnection,
    mfa: SeaOrmMfaStore,
    accounts: SeaOrmAccountStore,
    user: UserId,
    _dir: TempDir,
}

async fn stores() -> Stores {
    let (db, dir) = support::migrated_pool().await;
    let accounts = test_support::account_store(db.clone());
    let user = support::insert_user(&db, "m@example.com").await;
    Stores {
        mfa: SeaOrmMfaStore::new(db.clone()),
        accounts,
        db,
        user,
        _dir: dir,
    }
}

impl Stores {
    /// Enrols and activates a factor with a sealed secret; its id.
    async fn active_factor(&self, step: u64) -> i64 {
        let sealer = test_support::test_sealer();
        self.apply(Changes {
            totp: Some(TotpChange::Enroll {
                user: self.user,
                secret: Sealer::seal(sealer.as_ref(), b"12345678901234567890"),
            }),
            ..Changes::default()
        })
        .await
        .unwrap();
        let pending = self.mfa.totp_factors(self.user).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert!(!pending[0].active);
        self.apply(Changes {
            totp: Some(TotpChange::Activate {
                user: self.user,
                factor: pending[0].id,
                step,
            }),
            ..Changes::default()
        })
        .await
        .unwrap();
        pending[0].id
    }

    async fn apply(&self, changes: Changes) -> Result<(), AccountStoreError> {
        self.accounts.apply(changes, Utc::now()).await.map(|_| ())
    }

    /// Opens a challenge of the user's, found by the fingerprint of `name`, for 5 minutes
    /// from `now`.
    async fn open_challenge(&self, name: &str, now: DateTime<Utc>) -> TokenFingerprint {
        let fingerprint = TokenFingerprint::of(name);
        self.mfa
            .create_challenge(
                IssuedUnder {
                    user: self.user,
                    stamp: SecurityStamp::INITIAL,
                },
                AuthMethod::Password,
                &fingerprint,
                now + Duration::minutes(5),
                now,
            )
            .await
            .unwrap();
        fingerprint
    }

    /// One try at the challenge of `fingerprint` at `now`, of at most 5.
    async fn try_challenge(
        &self,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Option<MfaChallenge> {
        self.mfa.try_challenge(fingerprint, now, 5).await.unwrap()
    }

    /// Replaces the user's recovery codes by `codes`.
    async fn replace_recovery_codes(&self, codes: Vec<TokenFingerprint>) {
        self.apply(Changes {
            recovery_codes: Some(RecoveryCodesChange::Replace {
                user: self.user,
                codes,
            }),
            ..Changes::default()
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn secrets_are_stored_sealed_and_activation_happens_once() {
    let stores = stores().await;
    let id = stores.active_factor(100).await;
    let rows = totp_factors::Entity::find().all(&stores.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].secret.starts_with("v1:"), "sealed");
    assert!(
        !rows[0].secret.contains("3132333435"),
        "not the plaintext in hex"
    );
    let factor = &stores.mfa.totp_factors(stores.user).await.unwrap()[0];
    assert!(factor.active);
    assert_eq!(factor.last_used_step, Some(100));
    let opened = Sealer::open(test_support::test_sealer().as_ref(), &factor.secret).unwrap();
    assert_eq!(opened, b"12345678901234567890");
    // Activating it again: it is no longer pending.
    let again = stores
        .apply(Changes {
            totp: Some(TotpChange::Activate {
                user: stores.user,
                factor: id,
                step: 101,
            }),
            ..Changes::default()
        })
        .await;
    assert_matches!(again, Err(AccountStoreError::TokenUsed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_is_accepted_once_even_by_concurrent_requests() {
    let stores = stores().await;
    // Activated at step 100: that step is spent.
    let id = stores.active_factor(100).await;
    assert!(!stores.mfa.accept_totp_step(id, 100).await.unwrap());
    assert!(!stores.mfa.accept_totp_step(id, 99).await.unwrap());
    let mfa = Arc::new(stores.mfa.clone());
    let attempts = (0..10).map(|_| {
        let mfa = mfa.clone();
        tokio::spawn(async move { mfa.accept_totp_step(id, 101).await })
    });
    let wins = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(true))))
        .count();
    assert_eq!(wins, 1);
    assert!(!stores.mfa.accept_totp_step(id, 101).await.unwrap());
    assert!(stores.mfa.accept_totp_step(id, 102).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_challenge_gets_at_most_its_tries_and_completes_once() {
    let stores = stores().await;
    let now = Utc::now();
    let fingerprint = stores.open_challenge("mfa-token", now).await;
    let mfa = Arc::new(stores.mfa.clone());
    let tries = (0..12).map(|_| {
        let (mfa, fingerprint) = (mfa.clone(), fingerprint.clone());
        tokio::spawn(async move { mfa.try_challenge(&fingerprint, Utc::now(), 5).await })
    });
    let granted: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .filter_map(|r| r.ok().and_then(Result::ok).flatten())
        .collect();
    assert_eq!(granted.len(), 5, "exactly the limit");
    assert_eq!(granted[0].user, stores.user);
    let id = granted[0].id;
    assert!(stores.mfa.complete_challenge(id, now).await.unwrap());
    assert!(!stores.mfa.complete_challenge(id, now).await.unwrap());

    // An expired one gets no try, and is deleted by the cleanup.
    let late = stores.open_challenge("late", now).await;
    let later = now + Duration::minutes(6);
    assert!(stores.try_challenge(&late, later).await.is_none());
    assert_eq!(
        stores.mfa.delete_expired_challenges(later).await.unwrap(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recovery_code_is_consumed_once_and_a_new_set_replaces_the_old() {
    let stores = stores().await;
    stores.active_factor(1).await;
    let old: Vec<_> = (0..10)
        .map(|n| TokenFingerprint::of(&format!("old-{n}")))
        .collect();
    stores.replace_recovery_codes(old.clone()).await;
    let consume = |code: TokenFingerprint| Changes {
        recovery_codes: Some(RecoveryCodesChange::Consume {
            user: stores.user,
            code,
        }),
        ..Changes::default()
    };
    let accounts = Arc::new(stores.accounts.clone());
    let attempts = (0..6).map(|_| {
        let (accounts, changes) = (accounts.clone(), consume(old[0].clone()));
        tokio::spawn(async move { accounts.apply(changes, Utc::now()).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| !matches!(r, Ok(Ok(_))))
            .all(|r| matches!(r, Ok(Err(AccountStoreError::TokenUsed)))),
        "the others were refused as used, not failed: {results:?}"
    );
    let new = vec![TokenFingerprint::of("new-0")];
    stores.replace_recovery_codes(new.clone()).await;
    let stale = stores.apply(consume(old[1].clone())).await;
    assert_matches!(stale, Err(AccountStoreError::TokenUsed));
    stores.apply(consume(new[0].clone())).await.unwrap();
    // Removing the factor removes the codes and the factor.
    stores
        .apply(Changes {
            totp: Some(TotpChange::Remove { user: stores.user }),
            ..Changes::default()
        })
        .await
        .unwrap();
    assert!(
        stores
            .mfa
            .totp_factors(stores.user)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_challenge_reads_back_with_the_stamp_it_was_opened_under() {
    let stores = stores().await;
    let now = Utc::now();
    let fingerprint = TokenFingerprint::of("stamped");
    let issued = IssuedUnder {
        user: stores.user,
        stamp: SecurityStamp::new(3),
    };
    stores
        .mfa
        .create_challenge(
            issued,
            AuthMethod::Password,
            &fingerprint,
            now + Duration::minutes(5),
            now,
        )
        .await
        .unwrap();
    let challenge = stores.try_challenge(&fingerprint, now).await.unwrap();
    assert_eq!(challenge.issued_under(), issued);
}

#[tokio::test]
async fn a_recovery_code_is_spent_only_with_the_challenge_it_completes() {
    let stores = stores().await;
    let now = Utc::now();
    let code = TokenFingerprint::of("code-0");
    stores.replace_recovery_codes(vec![code.clone()]).await;
    let fingerprint = stores.open_challenge("challenge", now).await;
    let challenge = stores.try_challenge(&fingerprint, now).await.unwrap();
    // Completed meanwhile (by a code on another request): the recovery code stays unspent.
    assert!(
        stores
            .mfa
            .complete_challenge(challenge.id, now)
            .await
            .unwrap()
    );
    let spend = |id| Changes {
        recovery_codes: Some(RecoveryCodesChange::Consume {
            user: stores.user,
            code: code.clone(),
        }),
        complete_challenge: Some(id),
        ..Changes::default()
    };
    let late = stores.apply(spend(challenge.id)).await;
    assert_matches!(late, Err(AccountStoreError::TokenUsed));
    let other = stores.open_challenge("another challenge", now).await;
    let open = stores.try_challenge(&other, now).await.unwrap();
    stores.apply(spend(open.id)).await.unwrap();
    assert!(!stores.mfa.complete_challenge(open.id, now).await.unwrap());
}
