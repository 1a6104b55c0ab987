//! The audit trail's vocabulary: what happened ([`AuditAction`]), who did it to whom, in
//! which session, and details that never hold a secret (no password, token, hash or code).
//! Where the request came from (address, user agent, request id) is added by the adapter
//! that writes the event, from the request it runs in.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::{EmailAddress, SessionId, UserId};

mod throttled;

pub use throttled::{ThrottleScope, ThrottleTally, ThrottledLogin};

/// A kind of security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A user registered (or an operator created one).
    UserRegistered,
    /// A login succeeded.
    LoginSucceeded,
    /// A login of an existing account failed (`reason`: `wrong_password`, `inactive`,
    /// `unverified`, `wrong_code` for a second factor, `passkey_rejected`; refusals by the
    /// throttle are [`Self::LoginThrottled`]).
    LoginFailed,
    /// A session ended by logout (`scope`: `session` or `all`).
    Logout,
    /// A session was revoked (`by`: `user`, `reuse_detection`).
    SessionRevoked,
    /// The password was changed.
    PasswordChanged,
    /// A reset link was asked for (and queued).
    PasswordResetRequested,
    /// The password was reset through a mailed link.
    PasswordReset,
    /// A verification link was asked for (and queued).
    EmailVerificationRequested,
    /// The address was verified.
    EmailVerified,
    /// An email change was asked for (`to`).
    EmailChangeRequested,
    /// The address changed (`from`, `to`).
    EmailChanged,
    /// The user deleted the account.
    AccountDeleted,
    /// An administrator created a user (`invited`, `is_superuser`, `is_verified`).
    AdminUserCreated,
    /// An administrator changed a user (`fields`, and each flag's `old` and `new`).
    AdminUserUpdated,
    /// An administrator deleted a user.
    AdminUserDeleted,
    /// An administrator ended every session of a user.
    AdminSessionsRevoked,
    /// An administrator mailed a user a reset link.
    AdminPasswordResetSent,
    /// A TOTP factor was enrolled (pending until activated).
    MfaEnrolled,
    /// A TOTP factor was activated, with a first set of recovery codes.
    MfaActivated,
    /// The TOTP factor and its recovery codes were removed.
    MfaDisabled,
    /// A fresh set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A recovery code was used up (at sign-in).
    RecoveryCodeUsed,
    /// A passkey was registered (`name`).
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
    /// The first proof of an unverified account's address removed the TOTP factor and
    /// passkeys added before it (`totp`, `passkeys`).
    SignInMethodsRemoved,
    /// An outside provider's account was linked (`provider`, `via`: `link` by the
    /// signed-in user, `verified_email` by both sides' verified address, `sign_up` with a new
    /// account).
    IdentityLinked,
    /// An outside provider's account was unlinked (`provider`).
    IdentityUnlinked,
    /// Logins refused unchecked by the throttle, counted per throttled key and window
    /// (`count`, `first_at`, `last_at`, `scope`: `client` or `account`): a flood of them is
    /// one row, not one row each.
    LoginThrottled,
    /// A superuser registered a webhook endpoint (`webhook_id`, `host`: its URL's host only,
    /// `events`).
    WebhookCreated,
    /// A superuser changed a webhook endpoint (`webhook_id`, `fields`).
    WebhookUpdated,
    /// A superuser removed a webhook endpoint (`webhook_id`).
    WebhookDeleted,
    /// A superuser gave a webhook endpoint a new signing secret (`webhook_id`).
    WebhookSecretRotated,
    /// A webhook endpoint was disabled after its deliveries failed for too long
    /// (`webhook_id`, `event_id`).
    WebhookDisabled,
    /// A password that signed in is known from breaches (recorded once per credential
    /// state, with a notice to the user; the sign-in is not refused).
    PasswordBreachedAtLogin,
    /// A sign-in mail was asked for (`mailed`: whether one went out).
    EmailLoginRequested,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 36] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::Logout,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailVerificationRequested,
        Self::EmailVerified,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::AccountDeleted,
        Self::AdminUserCreated,
        Self::AdminUserUpdated,
        Self::AdminUserDeleted,
        Self::AdminSessionsRevoked,
        Self::AdminPasswordResetSent,
        Self::MfaEnrolled,
        Self::MfaActivated,
        Self::MfaDisabled,
        Self::RecoveryCodesRegenerated,
        Self::RecoveryCodeUsed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::SignInMethodsRemoved,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::LoginThrottled,
        Self::WebhookCreated,
        Self::WebhookUpdated,
        Self::WebhookDeleted,
        Self::WebhookSecretRotated,
        Self::WebhookDisabled,
        Self::PasswordBreachedAtLogin,
        Self::EmailLoginRequested,
    ];

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user_registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::EmailVerificationRequested => "email_verification_requested",
            Self::EmailVerified => "email_verified",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::AccountDeleted => "account_deleted",
            Self::AdminUserCreated => "admin_user_created",
            Self::AdminUserUpdated => "admin_user_updated",
            Self::AdminUserDeleted => "admin_user_deleted",
            Self::AdminSessionsRevoked => "admin_sessions_revoked",
            Self::AdminPasswordResetSent => "admin_password_reset_sent",
            Self::MfaEnrolled => "mfa_enrolled",
            Self::MfaActivated => "mfa_activated",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::SignInMethodsRemoved => "sign_in_methods_removed",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::LoginThrottled => "login_throttled",
            Self::WebhookCreated => "webhook_created",
            Self::WebhookUpdated => "webhook_updated",
            Self::WebhookDeleted => "webhook_deleted",
            Self::WebhookSecretRotated => "webhook_secret_rotated",
            Self::WebhookDisabled => "webhook_disabled",
            Self::PasswordBreachedAtLogin => "password_breached_at_login",
            Self::EmailLoginRequested => "email_login_requested",
        }
    }

    /// The action stored as [`Self::as_str`].
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == raw)
    }
}

/// A user an event names: a stored one, the one its change set inserts, or the account
/// of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditUser {
    /// This user.
    User(UserId),
    /// The user inserted by the same change set (its id is known only once stored).
    Inserted,
    /// The account with this address, looked up when the event is written, away from the
    /// request (a throttled login is refused before any lookup); no account, no event.
    Address(EmailAddress),
}

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// What happened.
    pub action: AuditAction,
    /// Who did it (`None`: anonymous, or the operator's command line).
    pub actor: Option<AuditUser>,
    /// To whom.
    pub subject: Option<AuditUser>,
    /// In which session.
    pub session: Option<SessionId>,
    /// More about it; never a secret.
    pub details: Map<String, Value>,
}

impl AuditEvent {
    /// An event of `action` with nobody named yet.
    pub fn new(action: AuditAction) -> Self {
        Self {
            action,
            actor: None,
            subject: None,
            session: None,
            details: Map::new(),
        }
    }

    /// An event a user did to their own account.
    pub fn own(action: AuditAction, user: UserId) -> Self {
        Self::new(action)
            .by(AuditUser::User(user))
            .on(AuditUser::User(user))
    }

    /// Done by `actor`.
    #[must_use]
    pub fn by(mut self, actor: AuditUser) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Done to `subject`.
    #[must_use]
    pub fn on(mut self, subject: AuditUser) -> Self {
        self.subject = Some(subject);
        self
    }

    /// In `session`.
    #[must_use]
    pub fn in_session(mut self, session: &SessionId) -> Self {
        self.session = Some(session.clone());
        self
    }

    /// With the detail `key`.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// An event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Its place in the trail (newest highest).
    pub id: i64,
    /// What happened (as stored; an unknown name from a newer version stays readable).
    pub action: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who did it.
    pub actor: Option<UserId>,
    /// To whom.
    pub subject: Option<UserId>,
    /// In which session.
    pub session: Option<String>,
    /// From which address.
    pub ip: Option<String>,
    /// With which user agent.
    pub user_agent: Option<String>,
    /// Under which request id.
    pub request_id: Option<String>,
    /// More about it.
    pub details: Value,
}

impl RecordedEvent {
    /// The event as `user`, its subject, may see it in their own security log: when
    /// another user acted (an administrator), nothing of theirs — id, session, address,
    /// user agent, request id — only `"by": "administrator"`.
    pub fn as_seen_by(&mut self, user: UserId) {
        if self.actor.is_none_or(|actor| actor == user) {
            return;
        }
        self.actor = None;
        self.session = None;
        self.ip = None;
        self.user_agent = None;
        self.request_id = None;
        if let Value::Object(details) = &mut self.details {
            details.insert("by".to_owned(), Value::from("administrator"));
        }
    }
}

/// Which events to list; every criterion set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events whose actor or subject is this user.
    pub user: Option<UserId>,
    /// Events whose subject is this user.
    pub subject: Option<UserId>,
    /// Of this action.
    pub action: Option<AuditAction>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_users_own_log_shows_nothing_of_the_administrator_who_acted() {
        let event = |actor: Option<i64>| RecordedEvent {
            id: 1,
            action: "admin_user_updated".to_owned(),
            created_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            actor: actor.map(UserId::new),
            subject: Some(UserId::new(7)),
            session: Some("s".to_owned()),
            ip: Some("192.0.2.9".to_owned()),
            user_agent: Some("admin-browser".to_owned()),
            request_id: Some("r".to_owned()),
            details: json!({"fields": ["is_active"]}),
        };
        let mut by_admin = event(Some(1));
        by_admin.as_seen_by(UserId::new(7));
        assert_eq!(
            by_admin,
            RecordedEvent {
                actor: None,
                session: None,
                ip: None,
                user_agent: None,
                request_id: None,
                details: json!({"fields": ["is_active"], "by": "administrator"}),
                ..event(Some(1))
            }
        );
        for own_or_anonymous in [Some(7), None] {
            let mut seen = event(own_or_anonymous);
            seen.as_seen_by(UserId::new(7));
            assert_eq!(seen, event(own_or_anonymous), "{own_or_anonymous:?}");
        }
    }

    #[test]
    fn every_action_reads_back_from_its_name() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("password"), None);
    }
}
