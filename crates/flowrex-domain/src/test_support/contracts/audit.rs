//! [`AuditLog`](crate::ports::AuditLog): the events written with a change are listed newest
//! first, filtered by user (as actor or subject), subject, action and time, paged by id; a
//! recorded event (a failed login) is listed once written, and one naming an address with
//! no account is not kept; old events are purged in batches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration as StdDuration;

use chrono::Duration;

use super::{Stores, assert_matches, contracts, now, user};
use crate::ports::Changes;
use crate::{AuditAction, AuditEvent, AuditFilter, AuditUser, EmailAddress, RecordedEvent, User};

contracts!(CONTRACTS:
    events_are_listed_newest_first_filtered_and_paged,
    a_recorded_failure_is_kept_for_an_account_and_dropped_for_none,
    old_events_are_purged_in_batches,
);

/// Writes `event` with an (empty) change.
async fn write(stores: &Stores, event: AuditEvent) {
    stores
        .accounts
        .apply(
            Changes {
                audit: vec![event],
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
}

async fn list(stores: &Stores, filter: AuditFilter, before: Option<i64>) -> Vec<RecordedEvent> {
    stores.audit.list(&filter, before, 100).await.unwrap()
}

fn actions(events: &[RecordedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

async fn events_are_listed_newest_first_filtered_and_paged(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let root = user(stores, "root@example.com").await;
    write(
        stores,
        AuditEvent::own(AuditAction::PasswordChanged, ada.id()),
    )
    .await;
    write(
        stores,
        AuditEvent::new(AuditAction::AdminUserUpdated)
            .by(AuditUser::User(root.id()))
            .on(AuditUser::User(ada.id()))
            .with("fields", vec!["is_active"]),
    )
    .await;
    write(stores, AuditEvent::own(AuditAction::Logout, root.id())).await;
    let all = list(stores, AuditFilter::default(), None).await;
    assert_eq!(
        actions(&all),
        ["logout", "admin_user_updated", "password_changed"],
        "newest first"
    );
    assert_eq!(all[1].details["fields"], serde_json::json!(["is_active"]));
    assert_eq!(
        (all[1].actor, all[1].subject),
        (Some(root.id()), Some(ada.id()))
    );
    let by_user = |user: &User| AuditFilter {
        user: Some(user.id()),
        ..AuditFilter::default()
    };
    assert_eq!(
        actions(&list(stores, by_user(&root), None).await),
        ["logout", "admin_user_updated"],
        "as actor or subject"
    );
    let about_ada = AuditFilter {
        subject: Some(ada.id()),
        ..AuditFilter::default()
    };
    assert_eq!(actions(&list(stores, about_ada, None).await).len(), 2);
    let logouts = AuditFilter {
        action: Some(AuditAction::Logout),
        ..AuditFilter::default()
    };
    assert_eq!(actions(&list(stores, logouts, None).await), ["logout"]);
    let future = AuditFilter {
        since: Some(now() + Duration::hours(1)),
        ..AuditFilter::default()
    };
    assert!(list(stores, future, None).await.is_empty());
    let past = AuditFilter {
        until: Some(now() - Duration::hours(1)),
        ..AuditFilter::default()
    };
    assert!(list(stores, past, None).await.is_empty());
    let page = list(stores, AuditFilter::default(), Some(all[0].id)).await;
    assert_eq!(
        actions(&page),
        ["admin_user_updated", "password_changed"],
        "below an id"
    );
}

async fn a_recorded_failure_is_kept_for_an_account_and_dropped_for_none(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    let failure = |email: &str| {
        AuditEvent::new(AuditAction::LoginFailed)
            .on(AuditUser::Address(EmailAddress::parse(email).unwrap()))
            .with("reason", "wrong_password")
    };
    stores.audit.record(failure("nobody@example.com")).await;
    stores.audit.record(failure("ADA@example.com")).await;
    // The adapter may write in the background: wait for it (5 s at most).
    let filter = AuditFilter {
        action: Some(AuditAction::LoginFailed),
        ..AuditFilter::default()
    };
    let mut failures = Vec::new();
    for _ in 0..100 {
        failures = list(stores, filter.clone(), None).await;
        if !failures.is_empty() {
            break;
        }
        std::thread::sleep(StdDuration::from_millis(50));
    }
    assert_eq!(failures.len(), 1, "only the account's: {failures:?}");
    assert_eq!(failures[0].subject, Some(ada.id()), "named by its address");
    assert_eq!(failures[0].details["reason"], "wrong_password");
}

async fn old_events_are_purged_in_batches(stores: &Stores) {
    let ada = user(stores, "ada@example.com").await;
    for _ in 0..3 {
        write(stores, AuditEvent::own(AuditAction::Logout, ada.id())).await;
    }
    let later = now() + Duration::seconds(5);
    assert_matches!(stores.audit.purge_before(later, 2).await, Ok(2));
    assert_matches!(stores.audit.purge_before(later, 2).await, Ok(1));
    assert_matches!(stores.audit.purge_before(later, 2).await, Ok(0));
    assert!(list(stores, AuditFilter::default(), None).await.is_empty());
}
