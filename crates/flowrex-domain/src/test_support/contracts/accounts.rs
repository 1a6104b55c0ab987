//! [`AccountStore`](crate::ports::AccountStore) (with the users it changes): a change set
//! applies whole or not at all; a token is consumed once, also under a race; an address is
//! taken on insert and on update, in any case; the last superuser is kept under two
//! concurrent demotions; the stamp guard refuses a stale set and every credential event
//! moves the stamp; a new link replaces the owner's unused ones of its purpose; factors,
//! recovery codes and passkeys change with the account; `updated_at` is the time of the
//! last change (the SPEC's column).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Stores, assert_matches, contracts, insert, now, reread, user};
use crate::ports::{
    AccountStoreError, Changes, NewPasskey, PasskeyChange, RecoveryCodesChange,
    RegisteredCredential, Revocation, TotpChange, UserUpdate,
};
use crate::{
    EmailAddress, IssuedUnder, Mail, MailPurpose, NewOneTimeToken, PasswordHash, RevokeReason,
    SealedSecret, SecurityStamp, TokenFingerprint, TokenOwner, TokenPurpose, User,
};

contracts!(CONTRACTS:
    a_new_user_reads_back_and_its_address_is_taken_in_any_case,
    an_address_is_taken_on_update_too_and_nothing_of_the_set_is_applied,
    a_token_is_consumed_once_even_by_two_confirmations_at_once,
    a_new_link_replaces_the_owners_unused_ones_of_its_purpose,
    the_stamp_guard_refuses_a_set_issued_under_an_old_stamp,
    every_credential_event_moves_the_stamp_and_nothing_else_does,
    two_concurrent_demotions_of_the_last_two_superusers_leave_one,
    a_totp_factor_is_activated_only_while_pending,
    a_recovery_code_is_consumed_once,
    a_passkey_is_added_once_and_removed_once,
    taking_an_account_back_removes_its_factors_codes_and_passkeys,
    deleting_a_user_deletes_what_is_theirs,
    revoking_sessions_keeps_the_one_asked_for,
    the_directory_lists_newest_first_filtered_and_paged,
    an_update_moves_updated_at_to_its_time_and_keeps_created_at,
);

/// A link token of `purpose` for `owner`, named `name`.
fn link(owner: &User, purpose: TokenPurpose, name: &str) -> NewOneTimeToken {
    NewOneTimeToken {
        owner: TokenOwner::User(IssuedUnder::now(owner)),
        purpose,
        fingerprint: TokenFingerprint::of(name),
        expires_at: now() + chrono::Duration::hours(1),
        new_email: None,
    }
}

async fn apply(
    stores: &Stores,
    changes: Changes,
) -> Result<crate::ports::Applied, AccountStoreError> {
    stores.accounts.apply(changes, now()).await
}

async fn a_new_user_reads_back_and_its_address_is_taken_in_any_case(stores: &Stores) {
    let ada = user(stores, "Ada@Example.com").await;
    assert_eq!(ada.email().as_str(), "Ada@example.com");
    assert_eq!(
        ada.security_stamp(),
        SecurityStamp::INITIAL,
        "a new user's stamp"
    );
    assert!(ada.is_active() && !ada.is_verified() && !ada.is_superuser());
    let found = stores
        .users
        .find_by_email(&EmailAddress::parse("ada@EXAMPLE.com").unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id()), Some(ada.id()), "found in any case");
    let again = Changes {
        insert_user: Some(crate::NewUser {
            email: EmailAddress::parse("ADA@example.com").unwrap(),
            password_hash: PasswordHash::new("h".to_owned()),
            full_name: None,
            created_at: now(),
            is_superuser: false,
            is_verified: false,
        }),
        ..Changes::default()
    };
    assert_matches!(
        apply(stores, again).await,
        Err(AccountStoreError::EmailTaken)
    );
}

async fn an_address_is_taken_on_update_too_and_nothing_of_the_set_is_applied(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let bob = user(stores, "bob@example.com").await;
    let moving = Changes {
        update_user: Some(UserUpdate {
            email: Some(EmailAddress::parse("ADA@example.com").unwrap()),
            ..UserUpdate::of(bob.id())
        }),
        issue_tokens: vec![link(&bob, TokenPurpose::ResetPassword, "bob-reset")],
        mails: vec![Mail::notice(
            bob.email().clone(),
            MailPurpose::PasswordChanged,
        )],
        ..Changes::default()
    };
    assert_matches!(
        apply(stores, moving).await,
        Err(AccountStoreError::EmailTaken)
    );
    let token = stores
        .accounts
        .find_token(
            &TokenFingerprint::of("bob-reset"),
            TokenPurpose::ResetPassword,
        )
        .await
        .unwrap();
    assert!(token.is_none(), "no token of a refused set");
    assert_eq!(
        reread(stores, &bob).await.email(),
        bob.email(),
        "bob unchanged"
    );
    let claimed = stores
        .outbox
        .claim(
            10,
            std::time::Duration::from_secs(60),
            now() + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(claimed.is_empty(), "no mail of a refused set");
    assert_eq!(reread(stores, &ada).await.email(), ada.email());
}

async fn a_token_is_consumed_once_even_by_two_confirmations_at_once(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    apply(
        stores,
        Changes {
            issue_tokens: vec![link(&ada, TokenPurpose::VerifyEmail, "verify")],
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    let stored = stores
        .accounts
        .find_token(&TokenFingerprint::of("verify"), TokenPurpose::VerifyEmail)
        .await
        .unwrap()
        .expect("the token is stored");
    assert_eq!(
        stored.issued_under(),
        IssuedUnder::now(&ada),
        "with its owner's stamp"
    );
    assert!(stored.is_usable_for(TokenPurpose::VerifyEmail, now()));
    let confirm = || Changes {
        consume_token: Some(stored.id),
        update_user: Some(UserUpdate {
            is_verified: Some(true),
            ..UserUpdate::of(ada.id())
        }),
        ..Changes::default()
    };
    let (first, second) =
        futures::future::join(apply(stores, confirm()), apply(stores, confirm())).await;
    let results = [first.is_ok(), second.is_ok()];
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        1,
        "exactly one wins"
    );
    for result in [first, second] {
        if let Err(error) = result {
            assert_matches!(error, AccountStoreError::TokenUsed);
        }
    }
    let used = stores
        .accounts
        .find_token(&TokenFingerprint::of("verify"), TokenPurpose::VerifyEmail)
        .await
        .unwrap()
        .expect("still found");
    assert!(used.used_at.is_some(), "marked used");
}

async fn a_new_link_replaces_the_owners_unused_ones_of_its_purpose(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    for name in ["reset-1", "verify-1"] {
        let purpose = if name.starts_with("reset") {
            TokenPurpose::ResetPassword
        } else {
            TokenPurpose::VerifyEmail
        };
        apply(
            stores,
            Changes {
                issue_tokens: vec![link(&ada, purpose, name)],
                ..Changes::default()
            },
        )
        .await
        .unwrap();
    }
    apply(
        stores,
        Changes {
            issue_tokens: vec![link(&ada, TokenPurpose::ResetPassword, "reset-2")],
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    let find = |name: &'static str, purpose| async move {
        stores
            .accounts
            .find_token(&TokenFingerprint::of(name), purpose)
            .await
            .unwrap()
            .expect("stored")
    };
    assert!(
        find("reset-1", TokenPurpose::ResetPassword)
            .await
            .used_at
            .is_some(),
        "replaced"
    );
    assert!(
        find("reset-2", TokenPurpose::ResetPassword)
            .await
            .used_at
            .is_none()
    );
    assert!(
        find("verify-1", TokenPurpose::VerifyEmail)
            .await
            .used_at
            .is_none(),
        "another purpose"
    );
    let other_purpose = stores
        .accounts
        .find_token(&TokenFingerprint::of("reset-2"), TokenPurpose::VerifyEmail)
        .await
        .unwrap();
    assert!(other_purpose.is_none(), "found only under its purpose");
}

async fn the_stamp_guard_refuses_a_set_issued_under_an_old_stamp(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let stale = IssuedUnder::now(&ada);
    // A credential event: the stamp moves on.
    apply(
        stores,
        Changes {
            update_user: Some(UserUpdate {
                password_hash: Some(PasswordHash::new("new".to_owned())),
                ..UserUpdate::of(ada.id())
            }),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    let current = reread(stores, &ada).await;
    assert_eq!(current.security_stamp(), stale.stamp.next());
    let verify = |issued| Changes {
        issued_under: Some(issued),
        update_user: Some(UserUpdate {
            is_verified: Some(true),
            ..UserUpdate::of(ada.id())
        }),
        ..Changes::default()
    };
    assert_matches!(
        apply(stores, verify(stale)).await,
        Err(AccountStoreError::StampMoved)
    );
    assert!(!reread(stores, &ada).await.is_verified(), "nothing changed");
    apply(stores, verify(IssuedUnder::now(&current)))
        .await
        .unwrap();
    assert!(
        reread(stores, &ada).await.is_verified(),
        "the current stamp holds"
    );
}

async fn every_credential_event_moves_the_stamp_and_nothing_else_does(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let id = ada.id();
    let update = |f: &dyn Fn(&mut UserUpdate)| {
        let mut update = UserUpdate::of(id);
        f(&mut update);
        Changes {
            update_user: Some(update),
            ..Changes::default()
        }
    };
    let hash = || PasswordHash::new("h2".to_owned());
    let cases: Vec<(&str, Changes, bool)> = vec![
        ("renamed", update(&|u| u.full_name = Some(None)), false),
        ("rehashed", update(&|u| u.rehashed = Some(hash())), false),
        ("verified", update(&|u| u.is_verified = Some(true)), false),
        (
            "new password",
            update(&|u| u.password_hash = Some(hash())),
            true,
        ),
        (
            "new address",
            update(&|u| u.email = Some(EmailAddress::parse("ada2@example.com").unwrap())),
            true,
        ),
        ("deactivated", update(&|u| u.is_active = Some(false)), true),
        ("reactivated", update(&|u| u.is_active = Some(true)), false),
        (
            "every session ended",
            Changes {
                revoke_sessions: Some(Revocation {
                    user: id,
                    keep: None,
                    reason: RevokeReason::LogoutAll,
                }),
                ..Changes::default()
            },
            true,
        ),
        (
            "TOTP removed",
            Changes {
                totp: Some(TotpChange::Remove { user: id }),
                ..Changes::default()
            },
            true,
        ),
        (
            "taken back",
            Changes {
                reclaim: Some(id),
                ..Changes::default()
            },
            true,
        ),
    ];
    for (name, changes, event) in cases {
        let before = reread(stores, &ada).await.security_stamp();
        apply(stores, changes).await.unwrap();
        let after = reread(stores, &ada).await.security_stamp();
        let expected = if event { before.next() } else { before };
        assert_eq!(after, expected, "{name}");
    }
}

async fn two_concurrent_demotions_of_the_last_two_superusers_leave_one(stores: &Stores) {
    let root = insert(stores, "root@example.com", true).await;
    let deputy = insert(stores, "deputy@example.com", true).await;
    let demote = |user: &User| Changes {
        update_user: Some(UserUpdate {
            is_superuser: Some(false),
            ..UserUpdate::of(user.id())
        }),
        keep_a_superuser: true,
        ..Changes::default()
    };
    let (first, second) =
        futures::future::join(apply(stores, demote(&root)), apply(stores, demote(&deputy))).await;
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "one demotion goes through"
    );
    for result in [first, second] {
        if let Err(error) = result {
            assert_matches!(error, AccountStoreError::LastSuperuser);
        }
    }
    let left = [reread(stores, &root).await, reread(stores, &deputy).await]
        .iter()
        .filter(|u| u.is_superuser())
        .count();
    assert_eq!(left, 1);
}

async fn a_totp_factor_is_activated_only_while_pending(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    apply(
        stores,
        Changes {
            totp: Some(TotpChange::Enroll {
                user: ada.id(),
                secret: SealedSecret::new("sealed-1".to_owned()),
            }),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    let pending = stores.factors.totp_factors(ada.id()).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert!(!pending[0].active);
    let activate = || Changes {
        totp: Some(TotpChange::Activate {
            user: ada.id(),
            factor: pending[0].id,
            step: 7,
        }),
        ..Changes::default()
    };
    apply(stores, activate()).await.unwrap();
    assert_matches!(
        apply(stores, activate()).await,
        Err(AccountStoreError::TokenUsed)
    );
    let active = stores.factors.totp_factors(ada.id()).await.unwrap();
    assert_eq!(active.len(), 1);
    assert!(active[0].active);
    assert_eq!(
        active[0].last_used_step,
        Some(7),
        "the activating code counts as used"
    );
    assert_eq!(
        active[0].secret,
        SealedSecret::new("sealed-1".to_owned()),
        "kept sealed"
    );
}

async fn a_recovery_code_is_consumed_once(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let code = TokenFingerprint::of("code-1");
    apply(
        stores,
        Changes {
            recovery_codes: Some(RecoveryCodesChange::Replace {
                user: ada.id(),
                codes: vec![code.clone(), TokenFingerprint::of("code-2")],
            }),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    let consume = || Changes {
        recovery_codes: Some(RecoveryCodesChange::Consume {
            user: ada.id(),
            code: code.clone(),
        }),
        ..Changes::default()
    };
    let (first, second) =
        futures::future::join(apply(stores, consume()), apply(stores, consume())).await;
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1
    );
    assert_matches!(
        apply(stores, consume()).await,
        Err(AccountStoreError::TokenUsed)
    );
    // A new set replaces the old one.
    apply(
        stores,
        Changes {
            recovery_codes: Some(RecoveryCodesChange::Replace {
                user: ada.id(),
                codes: vec![TokenFingerprint::of("code-3")],
            }),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    let old = Changes {
        recovery_codes: Some(RecoveryCodesChange::Consume {
            user: ada.id(),
            code: TokenFingerprint::of("code-2"),
        }),
        ..Changes::default()
    };
    assert_matches!(apply(stores, old).await, Err(AccountStoreError::TokenUsed));
}

fn passkey(user: &User, credential_id: &str) -> Changes {
    Changes {
        passkey: Some(PasskeyChange::Add(NewPasskey {
            user: user.id(),
            name: "Laptop".to_owned(),
            registered: RegisteredCredential {
                credential_id: credential_id.to_owned(),
                credential: "{}".to_owned(),
            },
        })),
        ..Changes::default()
    }
}

async fn a_passkey_is_added_once_and_removed_once(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let bob = user(stores, "bob@example.com").await;
    let added = apply(stores, passkey(&ada, "cred-1"))
        .await
        .unwrap()
        .passkey
        .expect("the stored passkey");
    assert_eq!((added.user, added.name.as_str()), (ada.id(), "Laptop"));
    assert_matches!(
        apply(stores, passkey(&bob, "cred-1")).await,
        Err(AccountStoreError::PasskeyTaken),
        "a credential belongs to one account"
    );
    let listed = stores.passkeys.list(ada.id()).await.unwrap();
    assert_eq!(listed, vec![added.clone()]);
    let remove = |user: &User| Changes {
        passkey: Some(PasskeyChange::Remove {
            user: user.id(),
            id: added.id,
        }),
        ..Changes::default()
    };
    assert_matches!(
        apply(stores, remove(&bob)).await,
        Err(AccountStoreError::PasskeyGone),
        "only its owner's"
    );
    apply(stores, remove(&ada)).await.unwrap();
    assert_matches!(
        apply(stores, remove(&ada)).await,
        Err(AccountStoreError::PasskeyGone)
    );
    assert!(stores.passkeys.list(ada.id()).await.unwrap().is_empty());
}

async fn taking_an_account_back_removes_its_factors_codes_and_passkeys(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let bob = user(stores, "bob@example.com").await;
    for owner in [&ada, &bob] {
        apply(
            stores,
            Changes {
                totp: Some(TotpChange::Enroll {
                    user: owner.id(),
                    secret: SealedSecret::new("s".to_owned()),
                }),
                recovery_codes: Some(RecoveryCodesChange::Replace {
                    user: owner.id(),
                    codes: vec![TokenFingerprint::of(&format!("code-{}", owner.id()))],
                }),
                ..passkey(owner, &format!("cred-{}", owner.id()))
            },
        )
        .await
        .unwrap();
    }
    apply(
        stores,
        Changes {
            reclaim: Some(ada.id()),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    assert!(
        stores
            .factors
            .totp_factors(ada.id())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(stores.passkeys.list(ada.id()).await.unwrap().is_empty());
    let code = Changes {
        recovery_codes: Some(RecoveryCodesChange::Consume {
            user: ada.id(),
            code: TokenFingerprint::of(&format!("code-{}", ada.id())),
        }),
        ..Changes::default()
    };
    assert_matches!(apply(stores, code).await, Err(AccountStoreError::TokenUsed));
    assert_eq!(
        stores.factors.totp_factors(bob.id()).await.unwrap().len(),
        1,
        "bob's stay"
    );
    assert_eq!(stores.passkeys.list(bob.id()).await.unwrap().len(), 1);
}

async fn deleting_a_user_deletes_what_is_theirs(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    apply(
        stores,
        Changes {
            issue_tokens: vec![link(&ada, TokenPurpose::ResetPassword, "reset")],
            totp: Some(TotpChange::Enroll {
                user: ada.id(),
                secret: SealedSecret::new("s".to_owned()),
            }),
            ..passkey(&ada, "cred")
        },
    )
    .await
    .unwrap();
    apply(
        stores,
        Changes {
            delete_user: Some(ada.id()),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    assert!(stores.users.find_by_id(ada.id()).await.unwrap().is_none());
    let token = stores
        .accounts
        .find_token(&TokenFingerprint::of("reset"), TokenPurpose::ResetPassword)
        .await
        .unwrap();
    assert!(token.is_none(), "its tokens go");
    assert!(
        stores
            .factors
            .totp_factors(ada.id())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stores
            .passkeys
            .find_by_credential("cred")
            .await
            .unwrap()
            .is_none()
    );
    // The address registers again.
    user(stores, "ada@example.com").await;
}

async fn revoking_sessions_keeps_the_one_asked_for(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let ids = super::sessions::open(stores, &ada, 3).await;
    let applied = apply(
        stores,
        Changes {
            revoke_sessions: Some(Revocation {
                user: ada.id(),
                keep: Some(ids[1].clone()),
                reason: RevokeReason::PasswordChanged,
            }),
            ..Changes::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(applied.revoked, 2);
    let live = stores.sessions.list_active(ada.id(), now()).await.unwrap();
    assert_eq!(
        live.iter().map(|s| &s.id).collect::<Vec<_>>(),
        vec![&ids[1]]
    );
    let revoked = stores.sessions.find(&ids[0]).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_reason.as_deref(), Some("password_changed"));
}

async fn the_directory_lists_newest_first_filtered_and_paged(stores: &Stores) {
    use crate::ports::UserFilter;
    let plain = user(stores, "plain@example.com").await;
    let percent = user(stores, "50%off@example.com").await;
    let root = insert(stores, "Root@Example.com", true).await;
    let emails = |users: Vec<User>| -> Vec<String> {
        users
            .iter()
            .map(|u| u.email().as_str().to_owned())
            .collect()
    };
    let list = |filter: UserFilter, before, limit| async move {
        emails(stores.directory.list(&filter, before, limit).await.unwrap())
    };
    assert_eq!(
        list(UserFilter::default(), None, 10).await,
        [
            "Root@example.com",
            "50%off@example.com",
            "plain@example.com"
        ],
        "newest first"
    );
    assert_eq!(
        list(UserFilter::default(), Some(root.id()), 1).await,
        ["50%off@example.com"],
        "below an id, at most the limit"
    );
    let containing = |part: &str| UserFilter {
        email_contains: Some(part.to_owned()),
        ..UserFilter::default()
    };
    assert_eq!(
        list(containing("ROOT"), None, 10).await,
        ["Root@example.com"],
        "any case"
    );
    assert_eq!(
        list(containing("%"), None, 10).await,
        ["50%off@example.com"],
        "% is a plain character"
    );
    assert_eq!(
        list(containing("_"), None, 10).await,
        Vec::<String>::new(),
        "so is _"
    );
    let superusers = UserFilter {
        is_superuser: Some(true),
        ..UserFilter::default()
    };
    assert_eq!(list(superusers, None, 10).await, ["Root@example.com"]);
    let _ = (plain, percent);
}

async fn an_update_moves_updated_at_to_its_time_and_keeps_created_at(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let created = ada.created_at();
    assert_eq!(ada.updated_at(), created, "a new user");
    let later = now() + chrono::Duration::minutes(5);
    let mut rename = UserUpdate::of(ada.id());
    rename.full_name = Some(None);
    stores
        .accounts
        .apply(
            Changes {
                update_user: Some(rename),
                ..Changes::default()
            },
            later,
        )
        .await
        .unwrap();
    let ada = reread(stores, &ada).await;
    assert_eq!(ada.updated_at(), later, "the change's time");
    assert_eq!(ada.created_at(), created, "created_at stays");
}
