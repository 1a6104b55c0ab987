//! `/api/v1/admin/webhooks…`: the webhook endpoints account events are sent to, for
//! superusers (the admin routes' rules: 401, then 403 `Superuser required`, before the
//! body is read). A secret is shown once, in the answer that made it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use flowrex_domain::ports::{DeliveryRecord, WebhookEndpoint};
use flowrex_domain::{WebhookPatch, WebhookRequest, Webhooks, WithSecret};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Parsed, SuperuserSession};
use crate::routes::auth::{timestamp, uncached};
use crate::routes::handlers;
use crate::routes::query::QueryErrors;
use crate::validation::body::{BodyField, request_body};
use crate::validation::{Fields, Rejection};

handlers![
    list_webhooks,
    create_webhook,
    get_webhook,
    update_webhook,
    delete_webhook,
    rotate_webhook_secret,
    test_webhook,
    list_webhook_deliveries
];

const URL: BodyField = BodyField::required(
    "url",
    "Where deliveries are POSTed: https (http in development and test); no private, loopback or link-local address unless WEBHOOK_ALLOW_PRIVATE_NETWORKS.",
)
.length(None, Some(2000));
const EVENTS: BodyField =
    BodyField::required("events", "The event types to receive, or [\"*\"] for all.").list();
const DESCRIPTION: BodyField =
    BodyField::optional("description", "What it is for; `null` clears it.").length(None, Some(255));
const ENABLED: BodyField = BodyField::flag(
    "enabled",
    "Whether deliveries are made; disabling gives up those pending, enabling clears why it was disabled.",
);
const OPTIONAL_URL: BodyField = BodyField::optional("url", URL.description);
const OPTIONAL_EVENTS: BodyField = BodyField::optional("events", EVENTS.description).list();

/// A list of strings, as sent (absent and `null` are `None`).
fn names(fields: &mut Fields, name: &'static str) -> Option<Option<Vec<String>>> {
    match fields.take(name) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(serde_json::Value::Array(items)) => {
            let strings: Option<Vec<String>> = items
                .into_iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect();
            if strings.is_none() {
                fields.reject(
                    name,
                    "string_type",
                    "Input should be a valid string",
                    None,
                    None,
                );
            }
            strings.map(Some)
        }
        Some(other) => {
            fields.reject(
                name,
                "list_type",
                "Input should be a valid list",
                Some(other),
                None,
            );
            None
        }
    }
}

request_body!(
    /// The body of `POST /admin/webhooks`.
    CreateWebhookRequest,
    "A new webhook endpoint.",
    [URL, EVENTS, DESCRIPTION],
    |fields| -> WebhookRequest {
        let url = fields.required_string(URL.name, crate::validation::Echo::Yes);
        let events = if fields.has(EVENTS.name) {
            names(fields, EVENTS.name)
        } else {
            fields.reject(EVENTS.name, "missing", "Field required", None, None);
            None
        };
        let description = fields.optional_string(DESCRIPTION.name);
        fields.forbid_others(&[URL.name, EVENTS.name, DESCRIPTION.name]);
        let (url, events, description) = (url?, events??, description?);
        Some(WebhookRequest {
            url,
            events,
            description,
        })
    }
);

request_body!(
    /// The body of `PATCH /admin/webhooks/{id}`.
    UpdateWebhookRequest,
    "The fields to change; any other field is refused (422).",
    [OPTIONAL_URL, OPTIONAL_EVENTS, ENABLED, DESCRIPTION],
    |fields| -> WebhookPatch {
        let names_description = fields.has(DESCRIPTION.name);
        let url = fields.optional_string(URL.name);
        let events = names(fields, EVENTS.name);
        let enabled = fields.optional_bool(ENABLED.name);
        let description = fields.optional_string(DESCRIPTION.name);
        fields.forbid_others(&[URL.name, EVENTS.name, ENABLED.name, DESCRIPTION.name]);
        let (url, events, enabled, description) = (url?, events?, enabled?, description?);
        Some(WebhookPatch {
            url,
            events,
            enabled,
            description: names_description.then_some(description),
        })
    }
);

/// A webhook endpoint (never its secret).
#[derive(Serialize, ToSchema)]
pub struct WebhookBody {
    /// Its id.
    pub id: i64,
    /// Where deliveries go.
    pub url: String,
    /// The types it receives (`["*"]`: all).
    pub events: Vec<&'static str>,
    /// What it is for.
    pub description: Option<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why the service disabled it (its deliveries failed for 3 days), when it did.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation also signs.
    #[schema(format = "date-time")]
    pub previous_secret_expires_at: Option<String>,
    /// When it was registered.
    #[schema(format = "date-time")]
    pub created_at: String,
    /// When it last changed.
    #[schema(format = "date-time")]
    pub updated_at: String,
}

impl From<&WebhookEndpoint> for WebhookBody {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url.clone(),
            events: endpoint.events.names(),
            description: endpoint.description.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            previous_secret_expires_at: endpoint.previous_secret_until.map(timestamp),
            created_at: timestamp(endpoint.created_at),
            updated_at: timestamp(endpoint.updated_at),
        }
    }
}

/// A webhook endpoint with its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecretBody {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookBody,
    /// `whsec_` and the base64 key: verify deliveries' `webhook-signature` with it.
    pub secret: String,
}

impl From<&WithSecret> for WebhookWithSecretBody {
    fn from(made: &WithSecret) -> Self {
        Self {
            endpoint: WebhookBody::from(&made.endpoint),
            secret: made.secret.expose_secret().to_owned(),
        }
    }
}

/// Every endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookListBody {
    /// The endpoints, oldest first.
    pub items: Vec<WebhookBody>,
}

/// One delivery to an endpoint.
#[derive(Serialize, ToSchema)]
pub struct DeliveryBody {
    /// The event's id (the `webhook-id` header).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Tries so far.
    pub attempts: u32,
    /// When it was queued.
    #[schema(format = "date-time")]
    pub queued_at: String,
    /// When the last try started.
    #[schema(format = "date-time")]
    pub last_attempt_at: Option<String>,
    /// The receiver's status at the last try.
    pub status_code: Option<u16>,
    /// What went wrong at the last try.
    pub error: Option<String>,
    /// How long the last try took, in milliseconds.
    pub duration_ms: Option<u32>,
    /// When it is tried next (pending only).
    #[schema(format = "date-time")]
    pub next_attempt_at: Option<String>,
}

impl From<DeliveryRecord> for DeliveryBody {
    fn from(record: DeliveryRecord) -> Self {
        Self {
            event_id: record.event_id,
            event_type: record.event_type,
            status: record.status,
            attempts: record.attempts,
            queued_at: timestamp(record.queued_at),
            last_attempt_at: record.last_attempt_at.map(timestamp),
            status_code: record.last_status,
            error: record.last_error,
            duration_ms: record.last_duration_ms,
            next_attempt_at: record.next_attempt_at.map(timestamp),
        }
    }
}

/// The latest deliveries to an endpoint.
#[derive(Serialize, ToSchema)]
pub struct DeliveryListBody {
    /// Newest first.
    pub items: Vec<DeliveryBody>,
}

/// The answer to a test.
#[derive(Serialize, ToSchema)]
pub struct TestQueuedBody {
    /// The `webhook.test` event's id (its `webhook-id`).
    pub event_id: String,
}

/// The `{id}` of a path; anything but a positive integer names no endpoint.
fn endpoint_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::WebhookNotFound)
}

/// List webhook endpoints
#[utoipa::path(
    get,
    path = "/api/v1/admin/webhooks",
    tag = "admin",
    operation_id = "admin_list_webhooks",
    security(("bearer" = [])),
    responses((status = 200, description = "Every endpoint, never a secret", body = WebhookListBody))
)]
pub async fn list_webhooks(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(_caller): SuperuserSession,
) -> Result<HttpResponse, ApiError> {
    let endpoints = webhooks.list().await?;
    Ok(uncached(
        HttpResponse::Ok(),
        WebhookListBody {
            items: endpoints.iter().map(WebhookBody::from).collect(),
        },
    ))
}

/// Register a webhook endpoint
///
/// Answers with its signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/admin/webhooks",
    tag = "admin",
    operation_id = "admin_create_webhook",
    request_body = CreateWebhookRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered, with its secret", body = WebhookWithSecretBody),
        (status = 409, description = "Too many webhook endpoints", body = ErrorBody),
        (status = 422, description = "A URL that cannot receive webhooks, unknown event types", body = Rejection)
    )
)]
pub async fn create_webhook(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(caller): SuperuserSession,
    body: Parsed<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let made = webhooks.create(&caller, body.value()?).await?;
    Ok(uncached(
        HttpResponse::build(StatusCode::CREATED),
        WebhookWithSecretBody::from(&made),
    ))
}

/// Show a webhook endpoint
#[utoipa::path(
    get,
    path = "/api/v1/admin/webhooks/{id}",
    tag = "admin",
    operation_id = "admin_get_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint, never its secret", body = WebhookBody),
        (status = 404, description = "Webhook endpoint not found", body = ErrorBody)
    )
)]
pub async fn get_webhook(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(_caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = webhooks.get(endpoint_id(&path)?).await?;
    Ok(uncached(HttpResponse::Ok(), WebhookBody::from(&endpoint)))
}

/// Change a webhook endpoint
#[utoipa::path(
    patch,
    path = "/api/v1/admin/webhooks/{id}",
    tag = "admin",
    operation_id = "admin_update_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = UpdateWebhookRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed endpoint", body = WebhookBody),
        (status = 404, description = "Webhook endpoint not found", body = ErrorBody),
        (status = 422, description = "A URL that cannot receive webhooks, unknown event types", body = Rejection)
    )
)]
pub async fn update_webhook(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
    body: Parsed<UpdateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(&path)?;
    let endpoint = webhooks.update(&caller, id, body.value()?).await?;
    Ok(uncached(HttpResponse::Ok(), WebhookBody::from(&endpoint)))
}

/// Remove a webhook endpoint
///
/// Nothing more is sent to it; its deliveries' log goes with it.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/webhooks/{id}",
    tag = "admin",
    operation_id = "admin_delete_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Webhook endpoint not found", body = ErrorBody)
    )
)]
pub async fn delete_webhook(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    webhooks.delete(&caller, endpoint_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Give a webhook endpoint a new secret
///
/// For 24 hours deliveries carry signatures by both the new and the old secret.
#[utoipa::path(
    post,
    path = "/api/v1/admin/webhooks/{id}/rotate-secret",
    tag = "admin",
    operation_id = "admin_rotate_webhook_secret",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint with its new secret, shown this once", body = WebhookWithSecretBody),
        (status = 404, description = "Webhook endpoint not found", body = ErrorBody)
    )
)]
pub async fn rotate_webhook_secret(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let made = webhooks.rotate_secret(&caller, endpoint_id(&path)?).await?;
    Ok(uncached(
        HttpResponse::Ok(),
        WebhookWithSecretBody::from(&made),
    ))
}

/// Send a webhook endpoint a test event
///
/// A `webhook.test` event is queued for this endpoint alone.
#[utoipa::path(
    post,
    path = "/api/v1/admin/webhooks/{id}/test",
    tag = "admin",
    operation_id = "admin_test_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued", body = TestQueuedBody),
        (status = 404, description = "Webhook endpoint not found", body = ErrorBody),
        (status = 409, description = "Webhook endpoint is disabled", body = ErrorBody)
    )
)]
pub async fn test_webhook(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(_caller): SuperuserSession,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let event_id = webhooks.send_test(endpoint_id(&path)?).await?;
    Ok(uncached(
        HttpResponse::build(StatusCode::ACCEPTED),
        TestQueuedBody { event_id },
    ))
}

/// The query of the deliveries' log, as sent.
#[derive(Debug, Default, Deserialize)]
struct DeliveriesQuery {
    limit: Option<String>,
}

/// List a webhook endpoint's recent deliveries
#[utoipa::path(
    get,
    path = "/api/v1/admin/webhooks/{id}/deliveries",
    tag = "admin",
    operation_id = "admin_list_webhook_deliveries",
    params(
        ("id" = String, Path, description = "The endpoint's id"),
        ("limit" = Option<u64>, Query, description = "Deliveries, 1 to 100 (default 50)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest deliveries, newest first", body = DeliveryListBody),
        (status = 404, description = "Webhook endpoint not found", body = ErrorBody),
        (status = 422, description = "A bad query parameter", body = Rejection)
    )
)]
pub async fn list_webhook_deliveries(
    webhooks: web::Data<Webhooks>,
    SuperuserSession(_caller): SuperuserSession,
    path: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(&path)?;
    let query: DeliveriesQuery =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let mut errors = QueryErrors::default();
    let limit = errors.limit(query.limit.as_deref());
    if !errors.0.is_empty() {
        return Err(ApiError::Validation(Rejection { detail: errors.0 }));
    }
    let records = webhooks.deliveries(id, limit).await?;
    Ok(uncached(
        HttpResponse::Ok(),
        DeliveryListBody {
            items: records.into_iter().map(DeliveryBody::from).collect(),
        },
    ))
}
