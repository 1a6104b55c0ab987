//! Which events a change set announces, read off the set and the user's row before and
//! after it; and the retry policy of their delivery.

use chrono::{TimeZone, Utc};

use super::*;
use crate::ports::{EventFilter, EventSink, NewPasskey, RegisteredCredential, UserUpdate};
use crate::{
    EmailAddress, EventRetryPolicy, NewIdentity, NewUser, PasswordHash, ProviderId, SecurityStamp,
    UserParts,
};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

fn user(f: impl FnOnce(&mut UserParts)) -> User {
    let mut parts = UserParts {
        id: UserId::new(7),
        email: EmailAddress::parse("ada@example.com").unwrap(),
        password_hash: PasswordHash::new("$2b$12$secret-hash".to_owned()),
        full_name: Some("Ada".to_owned()),
        is_active: true,
        is_verified: false,
        is_superuser: false,
        created_at: at(),
        updated_at: at(),
        last_login_at: None,
        security_stamp: SecurityStamp::INITIAL,
    };
    f(&mut parts);
    parts.into()
}

fn updating(f: impl FnOnce(&mut UserUpdate)) -> Changes {
    let mut update = UserUpdate::of(UserId::new(7));
    f(&mut update);
    Changes {
        update_user: Some(update),
        ..Changes::default()
    }
}

fn kinds(events: &[AccountEvent]) -> Vec<&'static str> {
    events.iter().map(|event| event.kind.as_str()).collect()
}

#[test]
fn every_type_has_one_name_and_parses_back() {
    for kind in EventType::ALL {
        assert_eq!(EventType::parse(kind.as_str()), Some(kind));
    }
    let mut names: Vec<_> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), EventType::ALL.len());
}

#[test]
fn a_new_user_is_announced_once_with_the_admin_view_and_no_hash() {
    let changes = Changes {
        insert_user: Some(NewUser {
            email: EmailAddress::parse("ada@example.com").unwrap(),
            password_hash: PasswordHash::new("$2b$12$secret-hash".to_owned()),
            full_name: None,
            is_verified: false,
            is_superuser: false,
            created_at: at(),
        }),
        ..Changes::default()
    };
    let plan = changes.event_plan();
    assert_eq!(plan.subject(), Some(EventSubject::Inserted));
    assert_eq!(plan.read_before(), None);
    let after = user(|_| {});
    let events = plan.events(None, Some(&after), None, at());
    assert_eq!(kinds(&events), ["user.created"]);
    let event = &events[0];
    assert_eq!(event.user, Some(UserId::new(7)));
    assert_eq!(event.time, at());
    assert!(uuid::Uuid::parse_str(&event.id).is_ok());
    assert_eq!(
        event.data,
        json!({ "user": {
            "id": 7,
            "email": "ada@example.com",
            "full_name": "Ada",
            "is_active": true,
            "is_verified": false,
            "is_superuser": false,
            "created_at": "2026-12-07T12:00:00.000000Z",
            "updated_at": "2026-12-07T12:00:00.000000Z",
            "last_login_at": null,
        }})
    );
    assert!(!event.data.to_string().contains("secret-hash"));
}

#[test]
fn each_field_that_changes_announces_its_own_event() {
    let before = user(|_| {});
    let cases: Vec<(&str, Changes, User, Vec<&str>)> = vec![
        (
            "verified",
            updating(|u| u.is_verified = Some(true)),
            user(|u| u.is_verified = true),
            vec!["user.verified"],
        ),
        (
            "renamed",
            updating(|u| u.full_name = Some(None)),
            user(|u| u.full_name = None),
            vec!["user.updated"],
        ),
        (
            "deactivated",
            updating(|u| u.is_active = Some(false)),
            user(|u| u.is_active = false),
            vec!["user.deactivated"],
        ),
        (
            "made a superuser",
            updating(|u| u.is_superuser = Some(true)),
            user(|u| u.is_superuser = true),
            vec!["user.superuser_changed"],
        ),
        (
            "new password",
            updating(|u| u.password_hash = Some(PasswordHash::new("h2".to_owned()))),
            user(|_| {}),
            vec!["user.password_changed"],
        ),
        (
            "a confirmed address change verifies it too",
            updating(|u| {
                u.email = Some(EmailAddress::parse("new@example.com").unwrap());
                u.is_verified = Some(true);
            }),
            user(|u| {
                u.email = EmailAddress::parse("new@example.com").unwrap();
                u.is_verified = true;
            }),
            vec!["user.verified", "user.email_changed"],
        ),
    ];
    for (name, changes, after, expected) in cases {
        let plan = changes.event_plan();
        // Only a password needs no look at the row before.
        let password_only = name == "new password";
        assert_eq!(
            plan.read_before(),
            (!password_only).then_some(UserId::new(7)),
            "{name}"
        );
        let events = plan.events(Some(&before), Some(&after), None, at());
        assert_eq!(kinds(&events), expected, "{name}");
    }
}

#[test]
fn an_address_change_carries_the_old_address() {
    let before = user(|_| {});
    let after = user(|u| u.email = EmailAddress::parse("new@example.com").unwrap());
    let plan = updating(|u| u.email = Some(after.email().clone())).event_plan();
    let events = plan.events(Some(&before), Some(&after), None, at());
    assert_eq!(events[0].data["previous_email"], "ada@example.com");
    assert_eq!(events[0].data["user"]["email"], "new@example.com");
}

#[test]
fn a_change_to_the_value_it_had_or_a_rehash_announces_nothing() {
    let before = user(|u| u.is_verified = true);
    let plan = updating(|u| {
        u.is_verified = Some(true);
        u.is_active = Some(true);
    })
    .event_plan();
    assert!(
        plan.events(Some(&before), Some(&before), None, at())
            .is_empty()
    );
    let rehash = updating(|u| u.rehashed = Some(PasswordHash::new("h".to_owned())));
    assert_eq!(rehash.event_plan(), EventPlan::default());
    assert_eq!(Changes::default().event_plan().subject(), None);
}

#[test]
fn a_deletion_is_announced_with_the_user_as_it_was() {
    let before = user(|u| u.is_verified = true);
    let changes = Changes {
        delete_user: Some(UserId::new(7)),
        ..Changes::default()
    };
    let plan = changes.event_plan();
    assert_eq!(plan.read_before(), Some(UserId::new(7)));
    let events = plan.events(Some(&before), None, None, at());
    assert_eq!(kinds(&events), ["user.deleted"]);
    assert_eq!(events[0].data["user"]["email"], "ada@example.com");
}

#[test]
fn factors_passkeys_and_identities_announce_what_was_added_or_removed() {
    let owner = UserId::new(7);
    let current = user(|_| {});
    let added = StoredPasskey {
        id: 3,
        user: owner,
        name: "laptop".to_owned(),
        credential_id: "cred".to_owned(),
        credential: "{\"secret\":1}".to_owned(),
        created_at: at(),
        last_used_at: None,
    };
    let cases: Vec<(Changes, Vec<&str>)> = vec![
        (
            Changes {
                totp: Some(TotpChange::Activate {
                    user: owner,
                    factor: 1,
                    step: 9,
                }),
                ..Changes::default()
            },
            vec!["user.mfa_enabled"],
        ),
        (
            Changes {
                totp: Some(TotpChange::Remove { user: owner }),
                ..Changes::default()
            },
            vec!["user.mfa_disabled"],
        ),
        (
            Changes {
                passkey: Some(PasskeyChange::Add(NewPasskey {
                    user: owner,
                    name: "laptop".to_owned(),
                    registered: RegisteredCredential {
                        credential_id: "cred".to_owned(),
                        credential: "{}".to_owned(),
                    },
                })),
                ..Changes::default()
            },
            vec!["user.passkey_added"],
        ),
        (
            Changes {
                passkey: Some(PasskeyChange::Remove { user: owner, id: 3 }),
                ..Changes::default()
            },
            vec!["user.passkey_removed"],
        ),
        (
            Changes {
                identity: Some(IdentityChange::Link(NewIdentity {
                    owner: IdentityOwner::User(owner),
                    provider: ProviderId::parse("google").unwrap(),
                    subject: "1234".to_owned(),
                    email: None,
                })),
                ..Changes::default()
            },
            vec!["user.identity_linked"],
        ),
        (
            Changes {
                identity: Some(IdentityChange::Unlink { user: owner, id: 2 }),
                ..Changes::default()
            },
            vec!["user.identity_unlinked"],
        ),
    ];
    for (changes, expected) in cases {
        let plan = changes.event_plan();
        assert_eq!(plan.subject(), Some(EventSubject::User(owner)));
        let events = plan.events(None, Some(&current), Some(&added), at());
        assert_eq!(kinds(&events), expected);
        let body = events[0].data.to_string();
        assert!(!body.contains("secret"), "{body}");
        assert!(!body.contains("1234"), "no provider subject: {body}");
    }
}

#[test]
fn filters_take_a_star_or_known_types_without_repeats() {
    assert_eq!(EventFilter::parse(&["*"]), Some(EventFilter::All));
    assert_eq!(
        EventFilter::parse(&["user.deleted", "user.created", "user.deleted"]),
        Some(EventFilter::Only(vec![
            EventType::UserDeleted,
            EventType::UserCreated
        ]))
    );
    for bad in [
        vec![],
        vec!["user.nope"],
        vec!["*", "user.created"],
        vec!["USER.CREATED"],
    ] {
        assert_eq!(EventFilter::parse(&bad), None, "{bad:?}");
    }
    let only = EventFilter::Only(vec![EventType::UserDeleted]);
    assert!(only.wants(EventType::UserDeleted));
    assert!(!only.wants(EventType::UserCreated));
    assert!(EventFilter::All.wants(EventType::WebhookTest));
}

#[test]
fn webhook_retries_start_within_seconds_grow_to_an_hour_and_stop_after_three_days() {
    let policy = EventRetryPolicy::default();
    let webhook = EventSink::Webhook(crate::ports::WebhookTarget {
        id: 1,
        url: "https://example.com/hook".to_owned(),
        secrets: Vec::new(),
    });
    let queued = at();
    let delay = |attempt: u32, now: DateTime<Utc>| {
        policy
            .retry_after(&webhook, attempt, queued, now)
            .map(|retry| (retry - now).num_seconds())
    };
    assert_eq!(delay(1, queued), Some(5));
    assert_eq!(delay(2, queued), Some(10));
    assert_eq!(delay(3, queued), Some(20));
    // Down for 30 s: tries at 0, 5, 15 and 35 s; the fourth, within 30 s of its return,
    // succeeds.
    assert_eq!(delay(20, queued), Some(3600), "capped at an hour");
    let late = queued + chrono::Duration::days(3) - chrono::Duration::minutes(10);
    assert_eq!(delay(30, late), Some(600), "never past the three days");
    assert_eq!(delay(30, queued + chrono::Duration::days(3)), None);
    assert_eq!(
        policy
            .retry_after(&EventSink::Nats, 20, queued, queued)
            .map(|retry| (retry - queued).num_seconds()),
        Some(30),
        "the stream is retried at least every 30 s"
    );
}

mod delivery {
    use std::sync::Arc;

    use chrono::{DateTime, TimeZone, Utc};
    use secrecy::SecretString;

    use crate::ports::{
        EventSink, MockEventQueue, MockUserDirectory, MockWebhookSender, PendingDelivery,
        WebhookFailure, WebhookTarget,
    };
    use crate::test_support::FixedClock;
    use crate::{
        AccountEvent, AuditAction, EmailAddress, EventDelivery, EventRetryPolicy, MailPurpose,
        Outcome, PasswordHash, SecurityStamp, UserId, UserParts,
    };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn pending(id: i64, queued_at: DateTime<Utc>, attempts: u32) -> PendingDelivery {
        PendingDelivery {
            id,
            sink: EventSink::Webhook(WebhookTarget {
                id: 9,
                url: "https://example.com/hook".to_owned(),
                secrets: vec![SecretString::from("whsec_c2VjcmV0".to_owned())],
            }),
            event: AccountEvent::test(queued_at),
            attempts,
            queued_at,
        }
    }

    fn delivery(
        queue: MockEventQueue,
        sender: MockWebhookSender,
        superusers: MockUserDirectory,
    ) -> EventDelivery {
        EventDelivery::new(
            Arc::new(queue),
            None,
            Arc::new(sender),
            Arc::new(superusers),
            Arc::new(FixedClock(now())),
            EventRetryPolicy::default(),
        )
    }

    #[tokio::test]
    async fn a_2xx_is_delivered_and_a_failure_is_retried_five_seconds_later() {
        let mut queue = MockEventQueue::new();
        let queued = now() - chrono::Duration::seconds(2);
        queue
            .expect_claim()
            .returning(move |_, _, _| Ok(vec![pending(1, queued, 0), pending(2, queued, 0)]));
        queue
            .expect_record()
            .withf(|id, attempt, delivered, retry| {
                *id == 1 && *delivered && retry.is_none() && attempt.status == Some(204)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        queue
            .expect_record()
            .withf(|id, attempt, delivered, retry| {
                *id == 2
                    && !delivered
                    && *retry == Some(now() + chrono::Duration::seconds(5))
                    && attempt.status == Some(500)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        queue.expect_disable_endpoint().never();
        let mut sender = MockWebhookSender::new();
        let first = std::sync::atomic::AtomicBool::new(true);
        sender.expect_send().returning(move |_, _| {
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                Ok(204)
            } else {
                Err(WebhookFailure {
                    status: Some(500),
                    error: "answered 500".to_owned(),
                })
            }
        });
        let results = delivery(queue, sender, MockUserDirectory::new())
            .deliver_due()
            .await
            .unwrap();
        let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Delivered, Outcome::Retried]);
        assert_eq!(results[0].lag, Some(std::time::Duration::from_secs(2)));
    }

    #[tokio::test]
    async fn after_three_days_the_endpoint_is_disabled_audited_and_the_superusers_told() {
        let mut queue = MockEventQueue::new();
        let queued = now() - chrono::Duration::days(3);
        queue
            .expect_claim()
            .returning(move |_, _, _| Ok(vec![pending(5, queued, 30)]));
        queue
            .expect_record()
            .withf(|id, _, delivered, retry| *id == 5 && !delivered && retry.is_none())
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        queue
            .expect_disable_endpoint()
            .withf(|id, _, _, notices, audit| {
                *id == 9
                    && notices.len() == 1
                    && notices[0].purpose == MailPurpose::WebhookDisabled
                    && notices[0].to.as_str() == "root@example.com"
                    && audit.action == AuditAction::WebhookDisabled
                    && audit.details["webhook_id"] == 9
            })
            .times(1)
            .returning(|_, _, _, _, _| Ok(true));
        let mut sender = MockWebhookSender::new();
        sender.expect_send().returning(|_, _| {
            Err(WebhookFailure {
                status: None,
                error: "connection refused".to_owned(),
            })
        });
        let mut superusers = MockUserDirectory::new();
        superusers
            .expect_list()
            .withf(|filter, _, _| {
                filter.is_superuser == Some(true) && filter.is_active == Some(true)
            })
            .returning(|_, _, _| {
                Ok(vec![
                    UserParts {
                        id: UserId::new(1),
                        email: EmailAddress::parse("root@example.com").unwrap(),
                        password_hash: PasswordHash::new("h".to_owned()),
                        full_name: None,
                        is_active: true,
                        is_verified: true,
                        is_superuser: true,
                        created_at: now(),
                        updated_at: now(),
                        last_login_at: None,
                        security_stamp: SecurityStamp::INITIAL,
                    }
                    .into(),
                ])
            });
        let results = delivery(queue, sender, superusers)
            .deliver_due()
            .await
            .unwrap();
        assert_eq!(results[0].outcome, Outcome::Failed);
    }
}
