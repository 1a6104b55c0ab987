//! [`OutboxStore`](crate::ports::OutboxStore): a message queued with a change is claimed
//! by one worker at a time (also by two at once) and by none other until its lease ends;
//! a delivered one is never claimed again; a failed one comes back when its retry is due,
//! or never when given up; finished rows are purged, in batches, and only those.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration as StdDuration;

use chrono::Duration;

use super::{Stores, assert_matches, contracts, now};
use crate::ports::Changes;
use crate::{EmailAddress, Mail, MailPurpose};

contracts!(CONTRACTS:
    a_message_is_claimed_by_one_worker_until_its_lease_ends,
    a_delivered_message_is_not_claimed_again_and_a_failed_one_comes_back_when_due,
    finished_messages_are_purged_and_only_those,
);

const LEASE: StdDuration = StdDuration::from_secs(60);

/// Queues a reset link to each of `count` addresses, in one change set.
async fn queue(stores: &Stores, count: usize) {
    let mails = (0..count)
        .map(|n| {
            Mail::with_link(
                EmailAddress::parse(&format!("{n}@example.com")).unwrap(),
                MailPurpose::ResetPassword,
                format!("http://127.0.0.1/reset-password?token={n:064x}"),
            )
        })
        .collect();
    stores
        .accounts
        .apply(
            Changes {
                mails,
                ..Changes::default()
            },
            now(),
        )
        .await
        .unwrap();
}

async fn a_message_is_claimed_by_one_worker_until_its_lease_ends(stores: &Stores) {
    queue(stores, 4).await;
    let at = now();
    let (first, second) = futures::future::join(
        stores.outbox.claim(3, LEASE, at),
        stores.outbox.claim(3, LEASE, at),
    )
    .await;
    let (first, second) = (first.unwrap(), second.unwrap());
    // A worker may find fewer than are due while another holds its rows (MariaDB's
    // `SKIP LOCKED` skips a locked range): the rest is left for the next round.
    let rest = stores.outbox.claim(10, LEASE, at).await.unwrap();
    let mut ids: Vec<i64> = first
        .iter()
        .chain(&second)
        .chain(&rest)
        .map(|m| m.id)
        .collect();
    assert_eq!(ids.len(), 4, "every message: {first:?} {second:?} {rest:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "no message to two workers");
    let link = first
        .iter()
        .chain(&second)
        .find_map(|m| m.mail.link.clone());
    assert!(
        link.is_some_and(|l| l.contains("token=")),
        "the link reads back whole"
    );
    assert!(
        stores.outbox.claim(10, LEASE, at).await.unwrap().is_empty(),
        "leased"
    );
    let after = at + Duration::seconds(61);
    assert_eq!(
        stores.outbox.claim(10, LEASE, after).await.unwrap().len(),
        4,
        "a dead worker's messages go to the next after the lease"
    );
}

async fn a_delivered_message_is_not_claimed_again_and_a_failed_one_comes_back_when_due(
    stores: &Stores,
) {
    queue(stores, 3).await;
    let at = now();
    let claimed = stores
        .outbox
        .claim(10, StdDuration::from_secs(1), at)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|m| m.attempts == 0));
    stores.outbox.delivered(claimed[0].id, at).await.unwrap();
    stores
        .outbox
        .failed(
            claimed[1].id,
            Some(at + Duration::seconds(30)),
            "server down",
        )
        .await
        .unwrap();
    stores
        .outbox
        .failed(claimed[2].id, None, "recipient refused")
        .await
        .unwrap();
    let soon = stores
        .outbox
        .claim(10, LEASE, at + Duration::seconds(10))
        .await
        .unwrap();
    assert!(soon.is_empty(), "the retry is not due yet: {soon:?}");
    let due = stores
        .outbox
        .claim(10, LEASE, at + Duration::seconds(31))
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![claimed[1].id]
    );
    assert_eq!(due[0].attempts, 1);
}

async fn finished_messages_are_purged_and_only_those(stores: &Stores) {
    queue(stores, 3).await;
    let at = now();
    let claimed = stores.outbox.claim(10, LEASE, at).await.unwrap();
    stores.outbox.delivered(claimed[0].id, at).await.unwrap();
    stores
        .outbox
        .failed(claimed[1].id, None, "recipient refused")
        .await
        .unwrap();
    let later = at + Duration::seconds(5);
    assert_matches!(stores.outbox.purge_finished(later, 1).await, Ok(1));
    assert_matches!(stores.outbox.purge_finished(later, 10).await, Ok(1));
    assert_matches!(
        stores.outbox.purge_finished(later, 10).await,
        Ok(0),
        "the pending one stays"
    );
    let back = stores
        .outbox
        .claim(10, LEASE, at + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!(
        back.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![claimed[2].id]
    );
}
