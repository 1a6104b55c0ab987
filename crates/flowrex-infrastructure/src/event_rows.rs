//! Audit events as rows, and where each came from. The stores insert the events of a change
//! inside its transaction ([`insert_events`]), the audit log's batch writer inserts failed
//! logins ([`crate::audit`]); both log each stored row ([`log_rows`]). The origin of an
//! event is the request it is written in: [`with_origin`] runs a request's handling with
//! its client address, user agent and request id.

use std::future::Future;

use chrono::{DateTime, SubsecRound, Utc};
use flowrex_domain::{AuditEvent, AuditUser};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, Set};

use crate::entity::audit_events;
use crate::entity::users::id_column;

/// Longest user agent kept (the column's size).
const MAX_USER_AGENT_CHARS: usize = 255;

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address (behind trusted proxies, the forwarded one).
    pub ip: Option<std::net::IpAddr>,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id (`X-Request-Id`).
    pub request_id: Option<String>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `work` (a request's handling) with `origin`: events written inside carry it.
pub async fn with_origin<F: Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The origin of the request being handled (none outside one).
pub(crate) fn current_origin() -> Origin {
    ORIGIN.try_with(Clone::clone).unwrap_or_default()
}

/// An event about to be stored, with its origin.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) action: &'static str,
    pub(crate) actor_id: Option<i32>,
    pub(crate) subject_id: Option<i32>,
    /// The email key of an [`AuditUser::Address`] subject, until resolved.
    pub(crate) subject_key: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) ip: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) details: String,
}

impl EventRow {
    /// `event` at `at`, from the current request; `inserted` is the id
    /// [`AuditUser::Inserted`] stands for.
    pub(crate) fn of(event: &AuditEvent, at: DateTime<Utc>, inserted: Option<i32>) -> Self {
        Self::from(event, at, inserted, current_origin())
    }

    /// `event` at `at`, from `origin`.
    pub(crate) fn from(
        event: &AuditEvent,
        at: DateTime<Utc>,
        inserted: Option<i32>,
        origin: Origin,
    ) -> Self {
        let who = |user: &Option<AuditUser>| match user.as_ref()? {
            AuditUser::User(id) => id_column(*id),
            AuditUser::Inserted => inserted,
            AuditUser::Address(_) => None,
        };
        Self {
            created_at: at.trunc_subsecs(6),
            action: event.action.as_str(),
            actor_id: who(&event.actor),
            subject_id: who(&event.subject),
            subject_key: match &event.subject {
                Some(AuditUser::Address(email)) => Some(email.key().to_owned()),
                _ => None,
            },
            session_id: event.session.as_ref().map(|s| s.as_str().to_owned()),
            ip: origin.ip.map(|ip| ip.to_string()),
            user_agent: origin
                .user_agent
                .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
            request_id: origin.request_id,
            details: serde_json::Value::Object(event.details.clone()).to_string(),
        }
    }

    pub(crate) fn model(&self) -> audit_events::ActiveModel {
        audit_events::ActiveModel {
            id: NotSet,
            created_at: Set(self.created_at),
            action: Set(self.action.to_owned()),
            actor_id: Set(self.actor_id),
            subject_id: Set(self.subject_id),
            session_id: Set(self.session_id.clone()),
            ip: Set(self.ip.clone()),
            user_agent: Set(self.user_agent.clone()),
            request_id: Set(self.request_id.clone()),
            details: Set(self.details.clone()),
        }
    }

    /// The `flowrex::audit` log line of this (stored) event.
    fn log(&self) {
        tracing::info!(
            target: "flowrex::audit",
            action = self.action,
            actor_id = self.actor_id,
            subject_id = self.subject_id,
            session_id = self.session_id.as_deref(),
            ip = self.ip.as_deref(),
            user_agent = self.user_agent.as_deref(),
            request_id = self.request_id.as_deref(),
            details = %self.details,
            "audit"
        );
    }
}

/// Writes `events` through `conn` (a change's transaction); the rows, for [`log_rows`]
/// once that transaction committed.
///
/// # Errors
/// The database's error.
pub(crate) async fn insert_events(
    conn: &impl ConnectionTrait,
    events: &[AuditEvent],
    at: DateTime<Utc>,
    inserted: Option<i32>,
) -> Result<Vec<EventRow>, sea_orm::DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<EventRow> = events
        .iter()
        .map(|event| EventRow::of(event, at, inserted))
        .collect();
    audit_events::Entity::insert_many(rows.iter().map(EventRow::model))
        .exec(conn)
        .await?;
    Ok(rows)
}

/// Logs each stored row (after its transaction committed).
pub(crate) fn log_rows(rows: &[EventRow]) {
    for row in rows {
        row.log();
    }
}
