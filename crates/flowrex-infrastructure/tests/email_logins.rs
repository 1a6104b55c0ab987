//! Sign-in mails in the real account store, on the configured database: a newer mail
//! replaces the older, code tries are reserved atomically (of any number of concurrent
//! tries, exactly the ones left get through), a mail is used once, and expired mails are
//! purged.

// A test that cannot go on says so: `unwrap` fails it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{Duration, SubsecRound, Utc};
use flowrex_domain::ports::{AccountStore, AccountStoreError, Changes};
use flowrex_domain::{
    EmailAddress, EmailLoginKey, IssuedUnder, LoginCode, MAX_CODE_TRIES, NewEmailLogin,
    OneTimeToken, SecurityStamp,
};
use flowrex_infrastructure::test_support;

#[tokio::test]
async fn code_tries_are_reserved_atomically_and_a_mail_is_used_once() {
    let (db, _dir) = support::migrated_pool().await;
    let user = support::insert_user(&db, "ada@example.com").await;
    let store = std::sync::Arc::new(test_support::account_store(db.clone()));
    let now = Utc::now().trunc_subsecs(0);
    let email = EmailAddress::parse("ada@example.com").unwrap();
    let issue = |token: &OneTimeToken| Changes {
        issue_email_login: Some(NewEmailLogin {
            email: email.clone(),
            owner: Some(IssuedUnder {
                user,
                stamp: SecurityStamp::INITIAL,
            }),
            token: token.fingerprint(),
            code: LoginCode::generate().fingerprint(&token.fingerprint()),
            return_to: None,
            expires_at: now + Duration::minutes(10),
        }),
        ..Changes::default()
    };
    let first = OneTimeToken::generate();
    store.apply(issue(&first), now).await.unwrap();
    let second = OneTimeToken::generate();
    store.apply(issue(&second), now).await.unwrap();
    let old = store
        .find_email_login(EmailLoginKey::Token(first.fingerprint()))
        .await
        .unwrap()
        .unwrap();
    assert!(!old.is_usable(now), "replaced");
    let newest = store
        .find_email_login(EmailLoginKey::Email(email.key().to_owned()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.token, second.fingerprint());
    assert!(newest.is_usable(now));

    let tries = (0..20).map(|_| {
        let store = store.clone();
        async move { store.reserve_code_try(newest.id, now).await.unwrap() }
    });
    let reserved = futures::future::join_all(tries)
        .await
        .into_iter()
        .filter(|&ok| ok)
        .count();
    assert_eq!(reserved, MAX_CODE_TRIES as usize);
    let spent = store
        .find_email_login(EmailLoginKey::Token(second.fingerprint()))
        .await
        .unwrap()
        .unwrap();
    assert!(!spent.is_usable(now), "out of tries");

    let third = OneTimeToken::generate();
    store.apply(issue(&third), now).await.unwrap();
    let id = store
        .find_email_login(EmailLoginKey::Token(third.fingerprint()))
        .await
        .unwrap()
        .unwrap()
        .id;
    let consume = || Changes {
        consume_email_login: Some(id),
        ..Changes::default()
    };
    let (a, b) = futures::join!(store.apply(consume(), now), store.apply(consume(), now));
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "of two concurrent uses exactly one succeeds"
    );
    assert!(matches!(
        a.err().or(b.err()),
        Some(AccountStoreError::TokenUsed)
    ));
    assert!(!store.reserve_code_try(id, now).await.unwrap(), "used");

    let purged = store
        .purge_email_logins(now + Duration::minutes(11))
        .await
        .unwrap();
    assert!(purged >= 1, "expired mails go");
    assert!(
        store
            .find_email_login(EmailLoginKey::Email(email.key().to_owned()))
            .await
            .unwrap()
            .is_none()
    );
}
