//! Account events: what a committed change announces to the services around Flowrex (a
//! user created, verified, changed, deleted; a factor, passkey or identity added or
//! removed).
//!
//! Events hold by construction: they are read off the change set itself
//! ([`crate::ports::Changes::event_plan`]) and the user's row before and after it, inside
//! the change's own transaction, so that every flow that changes what an event reports
//! announces it — a flow added later included — and a change that rolls back announces
//! nothing. Delivery to the sinks (a NATS JetStream stream, signed webhooks) is
//! [`crate::EventDelivery`]'s, after the commit.

mod delivery;
mod webhooks;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::ports::{Changes, IdentityChange, PasskeyChange, StoredPasskey, TotpChange};
use crate::{IdentityOwner, User, UserId};

pub use delivery::{Delivered, EventDelivery, EventRetryPolicy, Outcome};
pub use webhooks::{
    MAX_DELIVERIES_SHOWN, MAX_ENDPOINTS, ROTATION_OVERLAP, WebhookError, WebhookPatch,
    WebhookRequest, Webhooks, WithSecret,
};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A user registered, was created by an administrator or by a first sign-in with an
    /// outside provider.
    UserCreated,
    /// The user's address became verified.
    UserVerified,
    /// The profile changed (`changed`: the fields).
    UserUpdated,
    /// The address changed (`previous_email`: the old one).
    UserEmailChanged,
    /// The password was changed or reset.
    UserPasswordChanged,
    /// The account was deactivated.
    UserDeactivated,
    /// The account was reactivated.
    UserReactivated,
    /// The account was deleted (the user as it was).
    UserDeleted,
    /// The user became, or stopped being, an administrator.
    UserSuperuserChanged,
    /// A second factor was turned on (`method`: `totp`).
    UserMfaEnabled,
    /// A second factor was turned off (`method`: `totp`).
    UserMfaDisabled,
    /// A passkey was registered (`passkey`: its `id` and `name`).
    UserPasskeyAdded,
    /// A passkey was removed (`passkey`: its `id`).
    UserPasskeyRemoved,
    /// An outside provider's account was linked (`identity`: its `provider`).
    UserIdentityLinked,
    /// An outside provider's account was unlinked (`identity`: its `id`).
    UserIdentityUnlinked,
    /// A test an administrator sent to one webhook endpoint; about no user.
    WebhookTest,
}

impl EventType {
    /// Every type, in the catalogue's order.
    pub const ALL: [Self; 16] = [
        Self::UserCreated,
        Self::UserVerified,
        Self::UserUpdated,
        Self::UserEmailChanged,
        Self::UserPasswordChanged,
        Self::UserDeactivated,
        Self::UserReactivated,
        Self::UserDeleted,
        Self::UserSuperuserChanged,
        Self::UserMfaEnabled,
        Self::UserMfaDisabled,
        Self::UserPasskeyAdded,
        Self::UserPasskeyRemoved,
        Self::UserIdentityLinked,
        Self::UserIdentityUnlinked,
        Self::WebhookTest,
    ];

    /// Its name on the wire: the CloudEvent `type`, the NATS subject's tail, the webhook
    /// body's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserVerified => "user.verified",
            Self::UserUpdated => "user.updated",
            Self::UserEmailChanged => "user.email_changed",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
            Self::UserDeleted => "user.deleted",
            Self::UserSuperuserChanged => "user.superuser_changed",
            Self::UserMfaEnabled => "user.mfa_enabled",
            Self::UserMfaDisabled => "user.mfa_disabled",
            Self::UserPasskeyAdded => "user.passkey_added",
            Self::UserPasskeyRemoved => "user.passkey_removed",
            Self::UserIdentityLinked => "user.identity_linked",
            Self::UserIdentityUnlinked => "user.identity_unlinked",
            Self::WebhookTest => "webhook.test",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One event, as both sinks carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    /// Its id (a UUID): the CloudEvent `id`, the `Nats-Msg-Id`, the `webhook-id` — the
    /// same on every attempt and in both sinks.
    pub id: String,
    /// What happened.
    pub kind: EventType,
    /// When (the change's time).
    pub time: DateTime<Utc>,
    /// Whom it is about (`None` for [`EventType::WebhookTest`]).
    pub user: Option<UserId>,
    /// The body: `user` (as the admin API shows it: never a password, hash, token, code
    /// or secret) and what changed.
    pub data: Value,
}

impl AccountEvent {
    /// An event of `kind` about `user` at `time`, with a new id; `extra`'s fields join
    /// `user` in `data`.
    pub fn about(kind: EventType, user: &User, time: DateTime<Utc>, extra: Value) -> Self {
        let mut data = json!({ "user": user_json(user) });
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            time,
            user: Some(user.id()),
            data,
        }
    }

    /// A [`EventType::WebhookTest`] event at `time`.
    pub fn test(time: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind: EventType::WebhookTest,
            time,
            user: None,
            data: json!({ "message": "a test event from Flowrex" }),
        }
    }
}

/// A time as events (and the API's bodies) write it: RFC 3339 with microseconds, in UTC.
pub fn event_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `user` as the admin API shows it.
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id().get(),
        "email": user.email().as_str(),
        "full_name": user.full_name(),
        "is_active": user.is_active(),
        "is_verified": user.is_verified(),
        "is_superuser": user.is_superuser(),
        "created_at": event_time(user.created_at()),
        "updated_at": event_time(user.updated_at()),
        "last_login_at": user.last_login_at().map(event_time),
    })
}

/// Whom a change set's events are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSubject {
    /// An existing user.
    User(UserId),
    /// The user the change set inserts.
    Inserted,
}

/// What a change set announces, read off it before it is applied; turned into events by
/// [`Self::events`] once the store knows the user's row before and after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPlan {
    subject: Option<EventSubject>,
    created: bool,
    password: bool,
    updated: bool,
    deleted: bool,
    mfa: Option<bool>,
    passkey_removed: Option<i64>,
    passkey_added: bool,
    identity_linked: Option<String>,
    identity_unlinked: Option<i64>,
}

impl Changes {
    /// What these changes announce (nothing for a set that changes nothing an event
    /// reports: a rehash at login, a token issued, a session ended).
    pub fn event_plan(&self) -> EventPlan {
        let mut plan = EventPlan::default();
        let mut about = |subject: EventSubject| {
            plan.subject.get_or_insert(subject);
        };
        if self.insert_user.is_some() {
            about(EventSubject::Inserted);
        }
        if let Some(update) = &self.update_user {
            about(EventSubject::User(update.id));
        }
        if let Some(user) = self.delete_user {
            about(EventSubject::User(user));
        }
        if let Some(TotpChange::Activate { user, .. } | TotpChange::Remove { user }) = &self.totp {
            about(EventSubject::User(*user));
        }
        match &self.passkey {
            Some(PasskeyChange::Add(new)) => about(EventSubject::User(new.user)),
            Some(PasskeyChange::Remove { user, .. }) => about(EventSubject::User(*user)),
            None => {}
        }
        match &self.identity {
            Some(IdentityChange::Link(new)) => about(match new.owner {
                IdentityOwner::User(user) => EventSubject::User(user),
                IdentityOwner::Inserted => EventSubject::Inserted,
            }),
            Some(IdentityChange::Unlink { user, .. }) => about(EventSubject::User(*user)),
            None => {}
        }
        plan.created = self.insert_user.is_some();
        if let Some(update) = &self.update_user {
            plan.password = update.password_hash.is_some();
            plan.updated = update.email.is_some()
                || update.full_name.is_some()
                || update.is_verified.is_some()
                || update.is_active.is_some()
                || update.is_superuser.is_some();
        }
        plan.deleted = self.delete_user.is_some();
        plan.mfa = match &self.totp {
            Some(TotpChange::Activate { .. }) => Some(true),
            Some(TotpChange::Remove { .. }) => Some(false),
            _ => None,
        };
        match &self.passkey {
            Some(PasskeyChange::Add(_)) => plan.passkey_added = true,
            Some(PasskeyChange::Remove { id, .. }) => plan.passkey_removed = Some(*id),
            None => {}
        }
        match &self.identity {
            Some(IdentityChange::Link(new)) => {
                plan.identity_linked = Some(new.provider.as_str().to_owned());
            }
            Some(IdentityChange::Unlink { id, .. }) => plan.identity_unlinked = Some(*id),
            None => {}
        }
        if !plan.announces() {
            plan.subject = None;
        }
        plan
    }
}

impl EventPlan {
    fn announces(&self) -> bool {
        self.created
            || self.password
            || self.updated
            || self.deleted
            || self.mfa.is_some()
            || self.passkey_added
            || self.passkey_removed.is_some()
            || self.identity_linked.is_some()
            || self.identity_unlinked.is_some()
    }

    /// Whom the events are about; `None` when the changes announce nothing.
    pub fn subject(&self) -> Option<EventSubject> {
        self.subject
    }

    /// The existing user whose row the store reads before applying the changes (to see
    /// what they change), if any.
    pub fn read_before(&self) -> Option<UserId> {
        match self.subject? {
            EventSubject::User(user) if self.updated || self.deleted => Some(user),
            _ => None,
        }
    }

    /// The events, given the subject's row `before` the changes (when
    /// [`Self::read_before`] asked for it) and `after` them (`None` once deleted), and the
    /// passkey the changes added; in the order a consumer should apply them. A field set
    /// to the value it had announces nothing.
    pub fn events(
        &self,
        before: Option<&User>,
        after: Option<&User>,
        added: Option<&StoredPasskey>,
        at: DateTime<Utc>,
    ) -> Vec<AccountEvent> {
        let Some(user) = after.or(before) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let mut push = |kind, extra| events.push(AccountEvent::about(kind, user, at, extra));
        if self.created {
            push(EventType::UserCreated, json!({}));
        }
        if let (Some(before), Some(after)) = (before, after) {
            if !before.is_verified() && after.is_verified() {
                push(EventType::UserVerified, json!({}));
            }
            if before.email() != after.email() {
                push(
                    EventType::UserEmailChanged,
                    json!({ "previous_email": before.email().as_str() }),
                );
            }
            if before.full_name() != after.full_name() {
                push(EventType::UserUpdated, json!({ "changed": ["full_name"] }));
            }
            if before.is_superuser() != after.is_superuser() {
                push(EventType::UserSuperuserChanged, json!({}));
            }
            if before.is_active() && !after.is_active() {
                push(EventType::UserDeactivated, json!({}));
            }
            if !before.is_active() && after.is_active() {
                push(EventType::UserReactivated, json!({}));
            }
        }
        if self.password {
            push(EventType::UserPasswordChanged, json!({}));
        }
        match self.mfa {
            Some(true) => push(EventType::UserMfaEnabled, json!({ "method": "totp" })),
            Some(false) => push(EventType::UserMfaDisabled, json!({ "method": "totp" })),
            None => {}
        }
        if let Some(passkey) = added.filter(|_| self.passkey_added) {
            push(
                EventType::UserPasskeyAdded,
                json!({ "passkey": { "id": passkey.id, "name": passkey.name } }),
            );
        }
        if let Some(id) = self.passkey_removed {
            push(
                EventType::UserPasskeyRemoved,
                json!({ "passkey": { "id": id } }),
            );
        }
        if let Some(provider) = &self.identity_linked {
            push(
                EventType::UserIdentityLinked,
                json!({ "identity": { "provider": provider } }),
            );
        }
        if let Some(id) = self.identity_unlinked {
            push(
                EventType::UserIdentityUnlinked,
                json!({ "identity": { "id": id } }),
            );
        }
        if self.deleted && after.is_none() {
            push(EventType::UserDeleted, json!({}));
        }
        events
    }
}

#[cfg(test)]
mod tests;
