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
