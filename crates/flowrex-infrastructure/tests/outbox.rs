//! Contract tests of the mail outbox on a real, migrated database (SQLite, or the server
//! named by `TEST_DATABASE_URL`): mails queued by the account store are delivered once,
//! by whichever of several workers (each with a pool of its own, as instances have) takes
//! them; a worker that dies leaves its messages to the next after the lease; an SMTP server
//! that is down delays mail, and each message still arrives once.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use flowrex_domain::ports::{AccountStore, Changes, MailTransport, OutboxStore};
use flowrex_domain::test_support::RecordingTransport;
use flowrex_domain::{DeliveryPolicy, EmailAddress, Mail, MailDelivery, MailPurpose};
use flowrex_infrastructure::mail::{LinkLifetimes, MailRenderer, SmtpTransport};
use flowrex_infrastructure::outbox::OutboxFigures;
use flowrex_infrastructure::test_support::smtp::PrivateSmtp;
use flowrex_infrastructure::{SeaOrmOutbox, SystemClock, test_support};
use sea_orm::DatabaseConnection;

/// Queues one reset link to each of `count` addresses, `n@example.com`.
async fn queue(db: &DatabaseConnection, count: usize) {
    let mails = (0..count)
        .map(|n| {
            Mail::with_link(
                EmailAddress::parse(&format!("{n}@example.com")).unwrap(),
                MailPurpose::ResetPassword,
                format!("http://127.0.0.1/reset-password?token={n:064x}"),
            )
        })
        .collect();
    test_support::account_store(db.clone())
        .apply(
            Changes {
                mails,
                ..Changes::default()
            },
            Utc::now().trunc_subsecs(6),
        )
        .await
        .unwrap();
}

fn delivery(
    db: DatabaseConnection,
    transport: Arc<dyn MailTransport>,
    policy: DeliveryPolicy,
) -> MailDelivery {
    MailDelivery::new(
        Arc::new(SeaOrmOutbox::new(db, test_support::test_sealer())),
        transport,
        Arc::new(SystemClock),
        policy,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_workers_on_two_pools_deliver_each_message_exactly_once() {
    let (url, _dir) = support::migrated().await;
    queue(&support::pool(&url).await, 60).await;
    let policy = DeliveryPolicy {
        batch: 7,
        ..DeliveryPolicy::default()
    };
    let transports: Vec<Arc<RecordingTransport>> = (0..2)
        .map(|_| Arc::new(RecordingTransport::default()))
        .collect();
    let mut workers = Vec::new();
    for transport in &transports {
        let worker = delivery(support::pool(&url).await, transport.clone(), policy);
        workers.push(tokio::spawn(async move {
            for _ in 0..40 {
                worker.deliver_due().await.unwrap();
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let mut per_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for transport in &transports {
        for mail in transport.delivered() {
            *per_recipient
                .entry(mail.to.as_str().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(per_recipient.len(), 60, "every message delivered");
    assert!(per_recipient.values().all(|&n| n == 1), "{per_recipient:?}");
    assert!(
        transports.iter().all(|t| !t.delivered().is_empty()),
        "both workers took a share"
    );
    let stats = SeaOrmOutbox::new(support::pool(&url).await, test_support::test_sealer())
        .stats()
        .await
        .unwrap();
    assert_eq!(stats.pending, 0);
}

#[tokio::test]
async fn outbox_leases_leave_a_dead_workers_messages_to_the_next() {
    let (url, _dir) = support::migrated().await;
    let db = support::pool(&url).await;
    queue(&db, 3).await;
    let outbox = SeaOrmOutbox::new(db, test_support::test_sealer());
    let lease = Duration::from_millis(800);
    let first = outbox.claim(10, lease, Utc::now()).await.unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(
        first[0].mail.link.as_deref().map(|l| l.contains("token=")),
        Some(true)
    );
    // The first worker died without a word: nobody else gets them during its lease...
    assert!(
        outbox
            .claim(10, lease, Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    // ...and the next worker does after it.
    let second = outbox.claim(10, lease, Utc::now()).await.unwrap();
    assert_eq!(second.len(), 3);
    outbox.delivered(second[0].id, Utc::now()).await.unwrap();
    let stats = outbox.stats().await.unwrap();
    assert_eq!(stats.pending, 2);
}

#[tokio::test]
async fn outbox_rows_sealed_under_another_key_are_given_up_not_sent() {
    let (url, _dir) = support::migrated().await;
    let db = support::pool(&url).await;
    queue(&db, 2).await;
    let other = Arc::new(flowrex_infrastructure::secret_box::SecretBox::new(
        &secrecy::SecretString::from("another-key"),
        "outbox",
    ));
    let outbox = SeaOrmOutbox::new(db, other);
    assert!(
        outbox
            .claim(10, Duration::from_secs(60), Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        outbox.stats().await.unwrap().pending,
        0,
        "given up, not retried forever"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd; run by .ci/run"]
async fn outbox_mail_waits_for_a_stopped_smtp_server_and_then_arrives_once() {
    let (url, _dir) = support::migrated().await;
    let db = support::pool(&url).await;
    let mut smtp = PrivateSmtp::stopped();
    let renderer = Arc::new(
        MailRenderer::new(
            None,
            LinkLifetimes {
                verify_email: "24 hours".to_owned(),
                reset_password: "1 hour".to_owned(),
                confirm_email_change: "1 hour".to_owned(),
                email_login: "10 minutes".to_owned(),
            },
        )
        .unwrap(),
    );
    let transport = Arc::new(
        SmtpTransport::new(&smtp.url(), "Flowrex <no-reply@localhost>", renderer).unwrap(),
    );
    let worker = delivery(
        db.clone(),
        transport,
        DeliveryPolicy {
            first_retry: Duration::from_millis(100),
            max_retry: Duration::from_millis(400),
            ..DeliveryPolicy::default()
        },
    );
    queue(&db, 3).await;
    let report = worker.deliver_due().await.unwrap();
    assert_eq!(
        (report.sent, report.retried, report.failed),
        (0, 3, 0),
        "down: retried later"
    );
    smtp.resume();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    while sent < 3 && std::time::Instant::now() < deadline {
        sent += worker.deliver_due().await.unwrap().sent;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent, 3);
    for _ in 0..5 {
        assert_eq!(worker.deliver_due().await.unwrap().sent, 0, "nothing twice");
    }
    for n in 0..3 {
        let to = format!("{n}@example.com");
        let received = smtp.wait_for(&to, 1, Duration::from_secs(5)).await;
        assert_eq!(received.len(), 1, "{to}");
        assert_eq!(received[0].subject, "Reset your password");
        assert!(
            received[0].text.contains(&format!("token={n:064x}")),
            "{}",
            received[0].text
        );
    }
}

#[tokio::test]
async fn outbox_purges_only_finished_rows_queued_before_the_cut() {
    let (url, _dir) = support::migrated().await;
    let db = support::pool(&url).await;
    queue(&db, 3).await;
    let outbox = SeaOrmOutbox::new(db, test_support::test_sealer());
    let taken = outbox
        .claim(10, Duration::from_secs(60), Utc::now())
        .await
        .unwrap();
    outbox.delivered(taken[0].id, Utc::now()).await.unwrap();
    outbox.failed(taken[1].id, None, "refused").await.unwrap();
    let cut = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(
        outbox
            .purge_finished(Utc::now() - chrono::Duration::hours(1), 10)
            .await
            .unwrap(),
        0,
        "too young"
    );
    assert_eq!(
        outbox.purge_finished(cut, 1).await.unwrap(),
        1,
        "at most a batch"
    );
    assert_eq!(outbox.purge_finished(cut, 10).await.unwrap(), 1);
    assert_eq!(
        outbox.purge_finished(cut, 10).await.unwrap(),
        0,
        "the pending one stays"
    );
    assert_eq!(outbox.stats().await.unwrap().pending, 1);
}
