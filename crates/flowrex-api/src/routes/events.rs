//! `GET /api/v1/events/schema`: the JSON Schema (2020-12) of every account event's `data`,
//! and of the two envelopes that carry it — the CloudEvent on the NATS stream and the
//! webhook body — so that consuming services can check what they receive.

use actix_web::HttpResponse;
use flowrex_domain::EventType;
use serde_json::{Value, json};

use crate::routes::handlers;

handlers![event_schemas];

/// The user as events (and the admin API) show it.
fn user_schema() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    json!({
        "type": "object",
        "required": ["id", "email", "full_name", "is_active", "is_verified", "is_superuser", "created_at", "updated_at", "last_login_at"],
        "additionalProperties": false,
        "properties": {
            "id": { "type": "integer" },
            "email": { "type": "string", "format": "email" },
            "full_name": { "type": ["string", "null"] },
            "is_active": { "type": "boolean" },
            "is_verified": { "type": "boolean" },
            "is_superuser": { "type": "boolean" },
            "created_at": time,
            "updated_at": time,
            "last_login_at": { "type": ["string", "null"], "format": "date-time" },
        }
    })
}

/// The schema of the `data` of `kind`.
pub fn data_schema(kind: EventType) -> Value {
    let (description, extra): (&str, Value) = match kind {
        EventType::UserCreated => (
            "A user registered, was created by an administrator, or signed up with an outside provider.",
            json!({}),
        ),
        EventType::UserVerified => ("The user's address became verified.", json!({})),
        EventType::UserUpdated => (
            "The profile changed.",
            json!({
                "changed": { "type": "array", "items": { "enum": ["full_name"] } }
            }),
        ),
        EventType::UserEmailChanged => (
            "The address changed; `user.email` is the new one.",
            json!({
                "previous_email": { "type": "string", "format": "email" }
            }),
        ),
        EventType::UserPasswordChanged => ("The password was changed or reset.", json!({})),
        EventType::UserDeactivated => {
            ("The account was deactivated: it cannot sign in.", json!({}))
        }
        EventType::UserReactivated => ("The account was reactivated.", json!({})),
        EventType::UserDeleted => (
            "The account was deleted; `user` is as it was. Delete what you keep about it.",
            json!({}),
        ),
        EventType::UserSuperuserChanged => (
            "The user became, or stopped being, an administrator (`user.is_superuser`).",
            json!({}),
        ),
        EventType::UserMfaEnabled => (
            "A second factor was turned on.",
            json!({
                "method": { "enum": ["totp"] }
            }),
        ),
        EventType::UserMfaDisabled => (
            "The second factor was turned off.",
            json!({
                "method": { "enum": ["totp"] }
            }),
        ),
        EventType::UserPasskeyAdded => (
            "A passkey was registered.",
            json!({
                "passkey": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": { "id": { "type": "integer" }, "name": { "type": "string" } }
                }
            }),
        ),
        EventType::UserPasskeyRemoved => (
            "A passkey was removed.",
            json!({
                "passkey": {
                    "type": "object",
                    "required": ["id"],
                    "properties": { "id": { "type": "integer" } }
                }
            }),
        ),
        EventType::UserIdentityLinked => (
            "An outside provider's account was linked.",
            json!({
                "identity": {
                    "type": "object",
                    "required": ["provider"],
                    "properties": { "provider": { "type": "string" } }
                }
            }),
        ),
        EventType::UserIdentityUnlinked => (
            "An outside provider's account was unlinked.",
            json!({
                "identity": {
                    "type": "object",
                    "required": ["id"],
                    "properties": { "id": { "type": "integer" } }
                }
            }),
        ),
        EventType::WebhookTest => {
            return json!({
                "description": "A test an administrator sent to one webhook endpoint; about no user.",
                "type": "object",
                "required": ["message"],
                "properties": { "message": { "type": "string" } }
            });
        }
    };
    let mut properties = json!({ "user": { "$ref": "#/$defs/user" } });
    let mut required = vec![json!("user")];
    if let (Some(properties), Value::Object(extra)) = (properties.as_object_mut(), extra) {
        for (name, schema) in extra {
            required.push(json!(name));
            properties.insert(name, schema);
        }
    }
    json!({
        "description": description,
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// The whole document.
pub fn document() -> Value {
    let events: serde_json::Map<String, Value> = EventType::ALL
        .into_iter()
        .map(|kind| (kind.as_str().to_owned(), data_schema(kind)))
        .collect();
    let types: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Flowrex account events",
        "description": "`events` holds each type's `data`; `cloudevent` is the message on the NATS stream (structured JSON mode, CloudEvents 1.0), `webhook` the body of a webhook delivery. The event's id is the CloudEvent `id`, the `Nats-Msg-Id` header and the `webhook-id` header.",
        "$defs": { "user": user_schema() },
        "events": events,
        "cloudevent": {
            "type": "object",
            "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
            "properties": {
                "specversion": { "const": "1.0" },
                "id": { "type": "string", "format": "uuid" },
                "source": { "type": "string", "format": "uri" },
                "type": { "enum": types },
                "subject": { "type": "string", "description": "The user's id (absent for webhook.test)." },
                "time": { "type": "string", "format": "date-time" },
                "datacontenttype": { "const": "application/json" },
                "data": { "type": "object", "description": "As `events[type]`." }
            }
        },
        "webhook": {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "additionalProperties": false,
            "properties": {
                "type": { "enum": types },
                "timestamp": { "type": "string", "format": "date-time" },
                "data": { "type": "object", "description": "As `events[type]`." }
            }
        }
    })
}

/// Publish the account events' schemas
///
/// The JSON Schema of every event type's `data`, and of the stream's and the webhooks'
/// envelopes (docs/events.md).
#[utoipa::path(
    get,
    path = "/api/v1/events/schema",
    tag = "events",
    operation_id = "event_schemas",
    responses((status = 200, description = "The schemas (JSON Schema 2020-12)", body = Object))
)]
pub async fn event_schemas() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(document())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use flowrex_domain::{AccountEvent, EventPlan, UserParts};

    use super::*;

    /// Every key an event's `data` holds is one its schema names.
    #[test]
    fn the_schemas_name_every_field_events_carry() {
        let _ = EventPlan::default();
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let user = UserParts {
            id: flowrex_domain::UserId::new(1),
            email: flowrex_domain::EmailAddress::parse("a@example.com").unwrap(),
            password_hash: flowrex_domain::PasswordHash::new("h".to_owned()),
            full_name: None,
            is_active: true,
            is_verified: true,
            is_superuser: false,
            created_at: at,
            updated_at: at,
            last_login_at: Some(at),
            security_stamp: flowrex_domain::SecurityStamp::INITIAL,
        }
        .into();
        let event = AccountEvent::about(
            EventType::UserEmailChanged,
            &user,
            at,
            json!({ "previous_email": "b@example.com" }),
        );
        let schema = data_schema(event.kind);
        for key in event.data.as_object().unwrap().keys() {
            assert!(schema["properties"].get(key).is_some(), "{key}");
        }
        let user_keys = user_schema();
        for key in event.data["user"].as_object().unwrap().keys() {
            assert!(user_keys["properties"].get(key).is_some(), "{key}");
        }
        assert_eq!(
            document()["events"].as_object().unwrap().len(),
            EventType::ALL.len()
        );
    }
}
