//! The account events' queue on a real, migrated database (SQLite, or the server named by
//! `TEST_DATABASE_URL`): events are written by the account store with their change, or
//! not at all; a user's deliveries to one sink are handed out one at a time, in order,
//! and never to two workers at once; finished events are purged, pending ones kept.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use flowrex_domain::ports::{
    AccountStore, AccountStoreError, Attempt, Changes, EventQueue, UserUpdate,
};
use flowrex_domain::{EmailAddress, NewUser, PasswordHash, UserId};
use flowrex_infrastructure::secret_box::SecretBox;
use flowrex_infrastructure::{EventRouting, SeaOrmEventQueue, test_support};
use sea_orm::DatabaseConnection;

const LEASE: Duration = Duration::from_secs(60);

fn queue(db: &DatabaseConnection) -> SeaOrmEventQueue {
    SeaOrmEventQueue::new(
        db.clone(),
        std::sync::Arc::new(SecretBox::new(
            &secrecy::SecretString::from("test-app-secret-key"),
            "webhooks",
        )),
        test_support::test_sealer(),
    )
}

/// The account store, queueing events for the stream.
fn store(db: &DatabaseConnection) -> impl AccountStore {
    test_support::account_store(db.clone()).routing_events(EventRouting {
        stream: true,
        wake: None,
    })
}

fn new_user(email: &str) -> Changes {
    Changes {
        insert_user: Some(NewUser {
            email: EmailAddress::parse(email).unwrap(),
            password_hash: PasswordHash::new("$2b$04$x".to_owned()),
            full_name: None,
            created_at: Utc::now().trunc_subsecs(6),
            is_superuser: false,
            is_verified: false,
        }),
        ..Changes::default()
    }
}

async fn register_and_verify(db: &DatabaseConnection, email: &str) -> UserId {
    let now = Utc::now().trunc_subsecs(6);
    let store = store(db);
    let user = store
        .apply(new_user(email), now)
        .await
        .unwrap()
        .user
        .unwrap();
    let mut verify = UserUpdate::of(user.id());
    verify.is_verified = Some(true);
    store
        .apply(
            Changes {
                update_user: Some(verify),
                ..Changes::default()
            },
            now,
        )
        .await
        .unwrap();
    user.id()
}

fn attempt() -> Attempt {
    Attempt {
        at: Utc::now(),
        status: None,
        error: None,
        duration: Duration::from_millis(3),
    }
}

#[tokio::test]
async fn a_users_events_go_out_one_at_a_time_in_order() {
    let (db, _dir) = support::migrated_pool().await;
    let ada = register_and_verify(&db, "ada@example.com").await;
    let bob = register_and_verify(&db, "bob@example.com").await;
    let queue = queue(&db);
    let now = Utc::now();
    let heads = queue.claim(50, LEASE, now).await.unwrap();
    let mut claimed: Vec<(Option<UserId>, &str)> = heads
        .iter()
        .map(|d| (d.event.user, d.event.kind.as_str()))
        .collect();
    claimed.sort_by_key(|(user, _)| user.map(UserId::get));
    assert_eq!(
        claimed,
        [(Some(ada), "user.created"), (Some(bob), "user.created")],
        "only each user's first event"
    );
    assert!(
        queue.claim(50, LEASE, now).await.unwrap().is_empty(),
        "leased, and the next ones wait"
    );
    assert_eq!(
        queue.waiting().await.unwrap(),
        [("nats".to_owned(), 4), ("webhook".to_owned(), 0)]
    );
    let of = |user: UserId| heads.iter().find(|d| d.event.user == Some(user)).unwrap();
    // Ada's delivered: her next is due. Bob's failed, to be retried later: his next waits.
    queue
        .record(of(ada).id, attempt(), true, None)
        .await
        .unwrap();
    let later = now + chrono::Duration::seconds(30);
    queue
        .record(of(bob).id, attempt(), false, Some(later))
        .await
        .unwrap();
    let next = queue.claim(50, LEASE, now).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.user, Some(ada));
    assert_eq!(next[0].event.kind.as_str(), "user.verified");
    let retried = queue.claim(50, LEASE, later).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        retried[0].id,
        of(bob).id,
        "the same delivery, with its event"
    );
    assert_eq!(retried[0].event.id, of(bob).event.id);
    assert_eq!(retried[0].attempts, 1);
    // Given up: it no longer holds Bob's next event back.
    queue
        .record(retried[0].id, attempt(), false, None)
        .await
        .unwrap();
    let after = queue.claim(50, LEASE, later).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].event.user, Some(bob));
    assert_eq!(after[0].event.kind.as_str(), "user.verified");
}

#[tokio::test]
async fn two_workers_never_get_the_same_delivery() {
    let (url, _dir) = support::migrated().await;
    let db = support::pool(&url).await;
    for n in 0..20 {
        store(&db)
            .apply(
                new_user(&format!("u{n}@example.com")),
                Utc::now().trunc_subsecs(6),
            )
            .await
            .unwrap();
    }
    let (first, second) = (
        queue(&support::pool(&url).await),
        queue(&support::pool(&url).await),
    );
    let now = Utc::now();
    let (a, b) = tokio::join!(first.claim(15, LEASE, now), second.claim(15, LEASE, now));
    let mut ids: Vec<i64> = a
        .unwrap()
        .iter()
        .chain(b.unwrap().iter())
        .map(|d| d.id)
        .collect();
    let taken = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), taken, "no delivery handed out twice");
    let rest = first.claim(50, LEASE, now).await.unwrap().len();
    assert_eq!(taken + rest, 20, "every delivery handed out once");
}

#[tokio::test]
async fn a_change_that_fails_writes_no_event() {
    let (db, _dir) = support::migrated_pool().await;
    let now = Utc::now().trunc_subsecs(6);
    store(&db)
        .apply(new_user("one@example.com"), now)
        .await
        .unwrap();
    let taken = store(&db).apply(new_user("ONE@example.com"), now).await;
    assert!(
        matches!(taken, Err(AccountStoreError::EmailTaken)),
        "{taken:?}"
    );
    let queue = queue(&db);
    let all = queue.claim(50, LEASE, Utc::now()).await.unwrap();
    assert_eq!(all.len(), 1, "only the registration that committed");
    assert_eq!(all[0].event.data["user"]["email"], "one@example.com");
}

#[tokio::test]
async fn finished_events_are_purged_and_pending_ones_kept() {
    let (db, _dir) = support::migrated_pool().await;
    register_and_verify(&db, "old@example.com").await;
    let queue = queue(&db);
    let now = Utc::now();
    let head = queue.claim(50, LEASE, now).await.unwrap();
    queue
        .record(head[0].id, attempt(), true, None)
        .await
        .unwrap();
    let future = now + chrono::Duration::days(8);
    assert_eq!(
        queue.purge_finished(future, 500).await.unwrap(),
        1,
        "the delivered one"
    );
    assert_eq!(
        queue.purge_finished(future, 500).await.unwrap(),
        0,
        "the pending one stays"
    );
    let left = queue.claim(50, LEASE, now).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.kind.as_str(), "user.verified");
}

#[tokio::test]
async fn a_disabled_endpoint_gives_up_its_deliveries_with_its_notices_and_audit() {
    use flowrex_domain::ports::{EventFilter, NewWebhookEndpoint, WebhookStore};
    use flowrex_domain::{AuditAction, AuditEvent, Mail, MailPurpose};
    let (db, _dir) = support::migrated_pool().await;
    let queue = queue(&db);
    let now = Utc::now().trunc_subsecs(6);
    let endpoint = queue
        .create(
            NewWebhookEndpoint {
                url: "https://hooks.example.com/flowrex".to_owned(),
                events: EventFilter::All,
                description: None,
                secret: secrecy::SecretString::from("whsec_c2VjcmV0".to_owned()),
            },
            now,
            AuditEvent::new(AuditAction::WebhookCreated),
        )
        .await
        .unwrap();
    store(&db)
        .apply(new_user("late@example.com"), now)
        .await
        .unwrap();
    let pending = queue.claim(50, LEASE, Utc::now()).await.unwrap();
    assert_eq!(pending.len(), 2, "the stream's and the endpoint's");
    let notice = Mail::notice(
        EmailAddress::parse("root@example.com").unwrap(),
        MailPurpose::WebhookDisabled,
    );
    let disabled = queue
        .disable_endpoint(
            endpoint.id,
            "deliveries failed for 3 days",
            now,
            vec![notice],
            AuditEvent::new(AuditAction::WebhookDisabled).with("webhook_id", endpoint.id),
        )
        .await
        .unwrap();
    assert!(disabled);
    let again = queue
        .disable_endpoint(
            endpoint.id,
            "again",
            now,
            Vec::new(),
            AuditEvent::new(AuditAction::WebhookDisabled),
        )
        .await
        .unwrap();
    assert!(!again, "once");
    let shown = queue.get(endpoint.id).await.unwrap().unwrap();
    assert!(!shown.enabled);
    assert_eq!(
        shown.disabled_reason.as_deref(),
        Some("deliveries failed for 3 days")
    );
    let log = queue.deliveries(endpoint.id, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, "failed");
    let mails = flowrex_infrastructure::SeaOrmOutbox::new(db.clone(), test_support::test_sealer());
    let queued = flowrex_domain::ports::OutboxStore::claim(&mails, 10, LEASE, Utc::now())
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.purpose, MailPurpose::WebhookDisabled);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_not_connected_to_unless_allowed() {
    use flowrex_domain::AccountEvent;
    use flowrex_domain::ports::{WebhookSender, WebhookTarget};
    use flowrex_infrastructure::test_support::webhooks::Receiver;
    use flowrex_infrastructure::webhook::{HttpWebhookSender, WebhookRules};
    let receiver = Receiver::start().await;
    let target = WebhookTarget {
        id: 1,
        url: format!("http://localhost:{}/hook", receiver.port),
        secrets: Vec::new(),
    };
    let event = AccountEvent::test(Utc::now());
    let guarded = HttpWebhookSender::new(WebhookRules {
        allow_http: true,
        allow_private: false,
    })
    .unwrap();
    let refused = guarded.send(&target, &event).await.unwrap_err();
    assert!(refused.error.contains("no public address"), "{refused:?}");
    assert!(receiver.requests().is_empty(), "nothing was sent");
    let open = HttpWebhookSender::new(WebhookRules {
        allow_http: true,
        allow_private: true,
    })
    .unwrap();
    assert_eq!(open.send(&target, &event).await, Ok(200));
    assert_eq!(receiver.requests().len(), 1);
}
