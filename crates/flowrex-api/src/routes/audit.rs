//! The audit trail: `GET /api/v1/admin/audit` (superusers: every event, filtered) and
//! `GET /api/v1/auth/security-events` (any user: the events about their own account).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use flowrex_domain::{Accounts, Admin, AuditAction, AuditFilter, EventPage, RecordedEvent, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{AuthenticatedSession, SuperuserSession};
use crate::routes::auth::{timestamp, uncached};
use crate::routes::handlers;
use crate::routes::query::QueryErrors;
use crate::validation::Rejection;

handlers![security_events, admin_audit];

/// One recorded event.
#[derive(Serialize, ToSchema)]
pub struct EventBody<'a> {
    /// Its place in the trail (newest highest).
    pub id: i64,
    /// What happened (`login_succeeded`, `password_changed`, …).
    pub action: &'a str,
    /// When.
    #[schema(format = "date-time")]
    pub created_at: String,
    /// Who did it (`null`: anonymous, or the command line).
    pub actor_id: Option<i64>,
    /// To whom.
    pub subject_id: Option<i64>,
    /// In which session.
    pub session_id: Option<&'a str>,
    /// From which client address.
    pub ip: Option<&'a str>,
    /// With which user agent.
    pub user_agent: Option<&'a str>,
    /// Under which request id (`X-Request-Id`).
    pub request_id: Option<&'a str>,
    /// More about it; never a secret.
    #[schema(value_type = Object)]
    pub details: &'a serde_json::Value,
}

impl<'a> From<&'a RecordedEvent> for EventBody<'a> {
    fn from(event: &'a RecordedEvent) -> Self {
        Self {
            id: event.id,
            action: &event.action,
            created_at: timestamp(event.created_at),
            actor_id: event.actor.map(UserId::get),
            subject_id: event.subject.map(UserId::get),
            session_id: event.session.as_deref(),
            ip: event.ip.as_deref(),
            user_agent: event.user_agent.as_deref(),
            request_id: event.request_id.as_deref(),
            details: &event.details,
        }
    }
}

/// One page of events, newest first.
#[derive(Serialize, ToSchema)]
pub struct EventListBody<'a> {
    /// This page.
    pub items: Vec<EventBody<'a>>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

fn page_body(page: &EventPage) -> HttpResponse {
    uncached(
        HttpResponse::Ok(),
        EventListBody {
            items: page.items.iter().map(EventBody::from).collect(),
            next_cursor: page.next.map(|id| id.to_string()),
        },
    )
}

/// A query, as sent.
#[derive(Debug, Default, Deserialize)]
struct EventQuery {
    limit: Option<String>,
    cursor: Option<String>,
    user_id: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// What a list of events asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct EventRequest {
    /// The filters (only `limit` and `cursor` apply to the security events).
    pub filter: AuditFilter,
    /// Events below this id.
    pub before: Option<i64>,
    /// Per page.
    pub limit: u64,
}

/// An event list's query: `limit` (1–100), `cursor`, `user_id`, `action`, `since`, `until`
/// (RFC 3339).
///
/// # Errors
/// The [`Rejection`] to answer with 422 (`loc` `["query", name]`).
pub fn parse_events(query: &str) -> Result<EventRequest, Rejection> {
    let raw: EventQuery = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut errors = QueryErrors::default();
    let limit = errors.limit(raw.limit.as_deref());
    let before = errors.positive("cursor", raw.cursor.as_deref(), "Invalid cursor");
    let user = errors
        .positive(
            "user_id",
            raw.user_id.as_deref(),
            "Input should be a valid integer",
        )
        .map(UserId::new);
    let action = match raw.action.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(name) => match AuditAction::parse(name) {
            Some(action) => Some(action),
            None => {
                errors.reject("action", "enum", "Input should be an audit action", name);
                None
            }
        },
    };
    let mut time = |name: &str, raw: Option<&str>| -> Option<DateTime<Utc>> {
        let value = raw.filter(|v| !v.is_empty())?;
        match DateTime::parse_from_rfc3339(value) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                errors.reject(
                    name,
                    "datetime_from_date_parsing",
                    "Input should be an RFC 3339 time",
                    value,
                );
                None
            }
        }
    };
    let since = time("since", raw.since.as_deref());
    let until = time("until", raw.until.as_deref());
    if !errors.0.is_empty() {
        return Err(Rejection { detail: errors.0 });
    }
    Ok(EventRequest {
        filter: AuditFilter {
            user,
            subject: None,
            action,
            since,
            until,
        },
        before,
        limit,
    })
}

/// List the audit trail
///
/// Every event, newest first, filtered and paged.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "admin",
    operation_id = "admin_audit",
    params(
        ("limit" = Option<u64>, Query, description = "Events per page, 1 to 100 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before"),
        ("user_id" = Option<i64>, Query, description = "Events this user did or underwent"),
        ("action" = Option<String>, Query, description = "One action, e.g. `login_failed`"),
        ("since" = Option<String>, Query, description = "At or after this RFC 3339 time"),
        ("until" = Option<String>, Query, description = "Before this RFC 3339 time")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events", body = EventListBody),
        (status = 422, description = "A bad query parameter", body = Rejection)
    )
)]
pub async fn admin_audit(
    admin: web::Data<Admin>,
    SuperuserSession(caller): SuperuserSession,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = parse_events(request.query_string())?;
    let page = admin
        .admin_audit(&caller, &list.filter, list.before, list.limit)
        .await?;
    Ok(page_body(&page))
}

/// List my security events
///
/// The events about the caller's own account, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/auth/security-events",
    tag = "auth",
    operation_id = "security_events",
    params(
        ("limit" = Option<u64>, Query, description = "Events per page, 1 to 100 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's security events", body = EventListBody),
        (status = 422, description = "A bad query parameter", body = Rejection)
    )
)]
pub async fn security_events(
    accounts: web::Data<Accounts>,
    AuthenticatedSession(caller): AuthenticatedSession,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = parse_events(request.query_string())?;
    let page = accounts
        .security_events(&caller, list.before, list.limit)
        .await
        .map_err(|error| match error {
            flowrex_domain::ports::RepositoryError::Unavailable(cause) => {
                ApiError::Unavailable(cause)
            }
            flowrex_domain::ports::RepositoryError::Unexpected(cause) => ApiError::Internal(cause),
        })?;
    Ok(page_body(&page))
}
