//! [`MfaStore`](crate::ports::MfaStore): a TOTP step is accepted once and only after the
//! last one, also by concurrent requests; a challenge gets at most its tries, also
//! concurrently, reads back with its stamp, is completed once and not after it expired; a
//! recovery code is spent only with the challenge it completes; expired challenges go.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;

use super::{Stores, assert_matches, contracts, now, user};
use crate::ports::{AccountStoreError, Changes, RecoveryCodesChange, TotpChange};
use crate::{AuthMethod, IssuedUnder, SealedSecret, SecurityStamp, TokenFingerprint, User};

contracts!(CONTRACTS:
    a_step_is_accepted_once_and_only_after_the_last_one,
    a_challenge_gets_at_most_its_tries_even_concurrently,
    a_challenge_reads_back_with_its_stamp_and_first_method_and_completes_once,
    an_expired_or_completed_challenge_gets_no_try,
    a_recovery_code_is_spent_only_with_the_challenge_it_completes,
    expired_challenges_are_deleted,
);

/// An active factor of `user`, its last step `step`: its id.
async fn active_factor(stores: &Stores, user: &User, step: u64) -> i64 {
    stores
        .accounts
        .apply(
            Changes {
                totp: Some(TotpChange::Enroll {
                    user: user.id(),
                    secret: SealedSecret::new("s".to_owned()),
                }),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    let pending = stores.factors.totp_factors(user.id()).await.unwrap()[0].id;
    stores
        .accounts
        .apply(
            Changes {
                totp: Some(TotpChange::Activate {
                    user: user.id(),
                    factor: pending,
                    step,
                }),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    pending
}

/// Opens a challenge of `user`'s named `name`, expiring `ttl` from now.
async fn challenge(stores: &Stores, user: &User, name: &str, ttl: Duration) -> TokenFingerprint {
    let fingerprint = TokenFingerprint::of(name);
    stores
        .factors
        .create_challenge(
            IssuedUnder::now(user),
            AuthMethod::Password,
            &fingerprint,
            now() + ttl,
            now(),
        )
        .await
        .unwrap();
    fingerprint
}

async fn a_step_is_accepted_once_and_only_after_the_last_one(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let factor = active_factor(stores, &ada, 100).await;
    let accept = |step| stores.factors.accept_totp_step(factor, step);
    assert_matches!(accept(100).await, Ok(false), "the activating step is used");
    assert_matches!(accept(99).await, Ok(false), "an earlier step");
    let (first, second) = futures::future::join(accept(101), accept(101)).await;
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|won| **won)
            .count(),
        1,
        "one of two requests with the same code"
    );
    assert_matches!(accept(103).await, Ok(true));
    assert_matches!(accept(102).await, Ok(false));
    let stored = stores.factors.totp_factors(ada.id()).await.unwrap();
    assert_eq!(stored[0].last_used_step, Some(103));
}

async fn a_challenge_gets_at_most_its_tries_even_concurrently(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let fingerprint = challenge(stores, &ada, "c", Duration::minutes(5)).await;
    let tries = (0..8).map(|_| stores.factors.try_challenge(&fingerprint, now(), 5));
    let counted = futures::future::join_all(tries)
        .await
        .into_iter()
        .filter(|tried| matches!(tried, Ok(Some(_))))
        .count();
    assert_eq!(counted, 5);
}

async fn a_challenge_reads_back_with_its_stamp_and_first_method_and_completes_once(
    stores: &Stores,
) {
    let ada = user(stores, "ada@example.com").await;
    let fingerprint = TokenFingerprint::of("stamped");
    let issued = IssuedUnder {
        user: ada.id(),
        stamp: SecurityStamp::new(3),
    };
    stores
        .factors
        .create_challenge(
            issued,
            AuthMethod::Federated,
            &fingerprint,
            now() + Duration::minutes(5),
            now(),
        )
        .await
        .unwrap();
    let found = stores
        .factors
        .try_challenge(&fingerprint, now(), 5)
        .await
        .unwrap()
        .expect("a try");
    assert_eq!(found.issued_under(), issued);
    assert_eq!(
        found.first,
        AuthMethod::Federated,
        "how the first half was proven"
    );
    let complete = || stores.factors.complete_challenge(found.id, now());
    let (first, second) = futures::future::join(complete(), complete()).await;
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|won| **won)
            .count(),
        1
    );
}

async fn an_expired_or_completed_challenge_gets_no_try(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let expired = challenge(stores, &ada, "expired", Duration::seconds(-1)).await;
    assert_matches!(
        stores.factors.try_challenge(&expired, now(), 5).await,
        Ok(None)
    );
    let done = challenge(stores, &ada, "done", Duration::minutes(5)).await;
    let id = stores
        .factors
        .try_challenge(&done, now(), 5)
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(stores.factors.complete_challenge(id, now()).await.unwrap());
    assert_matches!(
        stores.factors.try_challenge(&done, now(), 5).await,
        Ok(None)
    );
    let unknown = TokenFingerprint::of("unknown");
    assert_matches!(
        stores.factors.try_challenge(&unknown, now(), 5).await,
        Ok(None)
    );
}

async fn a_recovery_code_is_spent_only_with_the_challenge_it_completes(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let code = TokenFingerprint::of("code-0");
    stores
        .accounts
        .apply(
            Changes {
                recovery_codes: Some(RecoveryCodesChange::Replace {
                    user: ada.id(),
                    codes: vec![code.clone()],
                }),
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
    let spend = |id| Changes {
        recovery_codes: Some(RecoveryCodesChange::Consume {
            user: ada.id(),
            code: code.clone(),
        }),
        complete_challenge: Some(id),
        ..Changes::default()
    };
    let first = challenge(stores, &ada, "first", Duration::minutes(5)).await;
    let first = stores
        .factors
        .try_challenge(&first, now(), 5)
        .await
        .unwrap()
        .unwrap();
    // Completed meanwhile (by a code on another request): the recovery code stays unspent.
    assert!(
        stores
            .factors
            .complete_challenge(first.id, now())
            .await
            .unwrap()
    );
    assert_matches!(
        stores.accounts.apply(spend(first.id), now()).await,
        Err(AccountStoreError::TokenUsed)
    );
    let second = challenge(stores, &ada, "second", Duration::minutes(5)).await;
    let second = stores
        .factors
        .try_challenge(&second, now(), 5)
        .await
        .unwrap()
        .unwrap();
    stores
        .accounts
        .apply(spend(second.id), now())
        .await
        .unwrap();
    assert!(
        !stores
            .factors
            .complete_challenge(second.id, now())
            .await
            .unwrap()
    );
}

async fn expired_challenges_are_deleted(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    challenge(stores, &ada, "old", Duration::seconds(-10)).await;
    let live = challenge(stores, &ada, "live", Duration::minutes(5)).await;
    assert_matches!(stores.factors.delete_expired_challenges(now()).await, Ok(1));
    assert_matches!(
        stores.factors.try_challenge(&live, now(), 5).await,
        Ok(Some(_))
    );
}
