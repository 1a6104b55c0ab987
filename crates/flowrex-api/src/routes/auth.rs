//! SPEC rows under `/api/v1/auth`, one file per endpoint (or close group): each holds its
//! handler, its request body's parser and that body's schema. This file holds what they
//! share: the user and tokens bodies, and how a body is read.

pub mod email;
pub mod email_login;
pub mod identities;
pub mod login;
pub mod logout;
pub mod me;
pub mod mfa;
pub mod oauth;
pub mod passkeys;
pub mod password;
pub mod refresh;
pub mod register;
pub mod sessions;
mod transport;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, HttpResponseBuilder};
use flowrex_domain::{EmailAddress, FullName, NewPassword, PasswordAttempt, User};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

pub use self::transport::{RefreshCookie, TokenTransport};
use crate::validation::body::BodyField;
use crate::validation::{CURRENT_PASSWORD_FIELD, Echo, Fields};

/// The SPEC's user body: never a password or hash.
#[derive(Serialize, ToSchema)]
pub struct UserBody<'a> {
    /// The user's id.
    pub id: i64,
    /// The address, local part as typed, domain lower-cased.
    #[schema(format = "email")]
    pub email: &'a str,
    /// The display name.
    pub full_name: Option<&'a str>,
    /// Inactive users cannot log in.
    pub is_active: bool,
    /// Whether the address was verified.
    pub is_verified: bool,
    /// When the user registered (RFC 3339, microseconds, UTC).
    #[schema(format = "date-time")]
    pub created_at: String,
}

impl<'a> From<&'a User> for UserBody<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id().get(),
            email: user.email().as_str(),
            full_name: user.full_name(),
            is_active: user.is_active(),
            is_verified: user.is_verified(),
            created_at: timestamp(user.created_at()),
        }
    }
}

/// The SPEC's tokens body. With the cookie transport, `refresh_token` is `null`: the token
/// is only in the `HttpOnly` cookie.
#[derive(Serialize, ToSchema)]
pub struct TokensBody {
    /// The access token (`Authorization: Bearer …`).
    pub access_token: String,
    /// The refresh token, or `null` with the cookie transport.
    pub refresh_token: Option<String>,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    pub expires_in: i64,
}

/// `{"message": "..."}`.
#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    /// What happened.
    pub message: &'static str,
}

/// A time as every body writes it: RFC 3339 with microseconds, in UTC.
pub(crate) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    flowrex_domain::events::event_time(at)
}

/// 200 with the user body, not to be cached.
fn user_response(user: &User) -> HttpResponse {
    uncached(HttpResponse::Ok(), UserBody::from(user))
}

/// Token and user answers must not be stored by caches.
pub(crate) fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// `response` with a JSON `body` that caches must not store.
pub(crate) fn uncached(mut response: HttpResponseBuilder, body: impl Serialize) -> HttpResponse {
    response.insert_header(no_store()).json(body)
}

/// Reads the required `field` as an email address, reporting a bad one as pydantic's
/// `EmailStr` would.
pub(crate) fn email(fields: &mut Fields, field: &BodyField) -> Option<EmailAddress> {
    let raw = fields.required_string(field.name, Echo::Yes)?;
    match EmailAddress::parse(&raw) {
        Ok(email) => Some(email),
        Err(reason) => {
            let reason = reason.to_string();
            fields.reject(
                field.name,
                "value_error",
                format!("value is not a valid email address: {reason}"),
                Some(json!(raw)),
                Some(json!({ "reason": reason })),
            );
            None
        }
    }
}

/// Reads the optional field `name` as a display name: `Some(None)` for absent or `null`,
/// `None` (rejected) for one too long or holding NUL.
pub(crate) fn full_name(fields: &mut Fields, name: &'static str) -> Option<Option<FullName>> {
    fields.optional_string(name).and_then(|value| match value {
        None => Some(None),
        Some(value) if value.contains('\0') => {
            fields.reject(
                name,
                "value_error",
                "Value error, must not contain NUL characters",
                None,
                Some(json!({ "error": {} })),
            );
            None
        }
        Some(value) => match FullName::parse(value.clone()) {
            Ok(full_name) => Some(Some(full_name)),
            Err(error) => {
                fields.reject(
                    name,
                    "string_too_long",
                    error.to_string(),
                    Some(json!(value)),
                    Some(json!({ "max_length": flowrex_domain::user::MAX_FULL_NAME_CHARS })),
                );
                None
            }
        },
    })
}

/// Reads the required field `name` as a new password, by the SPEC's rules (never echoed).
pub(crate) fn new_password(fields: &mut Fields, name: &'static str) -> Option<NewPassword> {
    fields
        .required_string(name, Echo::No)
        .and_then(|raw| match NewPassword::parse(raw) {
            Ok(password) => Some(password),
            Err(violation) => {
                fields.reject(
                    name,
                    "value_error",
                    format!("Value error, {violation}"),
                    None,
                    Some(json!({ "error": {} })),
                );
                None
            }
        })
}

/// The password in use now, asked for by every change that must be confirmed.
const CURRENT_PASSWORD: BodyField =
    BodyField::required(CURRENT_PASSWORD_FIELD, "The password in use now.");
/// The token of a mailed link.
const LINK_TOKEN: BodyField = BodyField::required("token", "The `token` of the mailed link.");

/// Reads [`CURRENT_PASSWORD`] as a password to check (never echoed).
fn current_password(fields: &mut Fields) -> Option<PasswordAttempt> {
    fields
        .required_string(CURRENT_PASSWORD.name, Echo::No)
        .map(PasswordAttempt::new)
}

/// Reads the required secret string `field` (a token or a code; never echoed in a 422).
fn secret(fields: &mut Fields, field: &BodyField) -> Option<String> {
    fields.required_string(field.name, Echo::No)
}
