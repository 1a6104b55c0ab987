//! The request bodies of the auth routes, decoded and validated into domain values, with
//! FastAPI's 422 answers. Pure functions of the `Content-Type` header and the body bytes,
//! so that the fuzz target (`fuzz/`) can drive them directly.

use std::net::IpAddr;

use flowrex_domain::{
    Credentials, EmailAddress, FullName, NewPassword, PasswordAttempt, Registration,
};
use serde_json::json;

use crate::error::ApiError;
use crate::validation::{Echo, Fields, json_object};

/// Parses `email` as pydantic's `EmailStr` would report it.
fn email(fields: &mut Fields, raw: Option<String>) -> Option<EmailAddress> {
    let raw = raw?;
    match EmailAddress::parse(&raw) {
        Ok(email) => Some(email),
        Err(reason) => {
            let reason = reason.to_string();
            fields.reject(
                "email",
                "value_error",
                format!("value is not a valid email address: {reason}"),
                Some(json!(raw)),
                Some(json!({ "reason": reason })),
            );
            None
        }
    }
}

/// `POST /register`'s body: `email`, `password`, optional `full_name`.
pub fn registration(content_type: Option<&[u8]>, body: &[u8]) -> Result<Registration, ApiError> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw_email = fields.required_string("email", Echo::Yes);
    let email = email(&mut fields, raw_email);
    let full_name = fields
        .optional_string("full_name")
        .and_then(|name| match name {
            None => Some(None),
            Some(name) if name.contains('\0') => {
                fields.reject(
                    "full_name",
                    "value_error",
                    "Value error, must not contain NUL characters",
                    None,
                    Some(json!({ "error": {} })),
                );
                None
            }
            Some(name) => match FullName::parse(name.clone()) {
                Ok(name) => Some(Some(name)),
                Err(error) => {
                    fields.reject(
                        "full_name",
                        "string_too_long",
                        error.to_string(),
                        Some(json!(name)),
                        Some(json!({ "max_length": flowrex_domain::user::MAX_FULL_NAME_CHARS })),
                    );
                    None
                }
            },
        });
    let password = fields
        .required_string("password", Echo::No)
        .and_then(|raw| match NewPassword::parse(raw) {
            Ok(password) => Some(password),
            Err(violation) => {
                fields.reject(
                    "password",
                    "value_error",
                    format!("Value error, {violation}"),
                    None,
                    Some(json!({ "error": {} })),
                );
                None
            }
        });
    let parts = email.zip(full_name).zip(password);
    fields.finish(parts.map(|((email, full_name), password)| Registration {
        email,
        password,
        full_name,
    }))
}

/// `POST /login`'s body: `email`, `password`.
pub fn credentials(
    content_type: Option<&[u8]>,
    body: &[u8],
    client_ip: Option<IpAddr>,
) -> Result<Credentials, ApiError> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let raw_email = fields.required_string("email", Echo::Yes);
    let email = email(&mut fields, raw_email);
    let password = fields.required_string("password", Echo::No);
    fields.finish(email.zip(password).map(|(email, password)| Credentials {
        email,
        password: PasswordAttempt::new(password),
        client_ip,
        user_agent: None,
    }))
}

/// `POST /refresh`'s body: `refresh_token`.
pub fn refresh_token(content_type: Option<&[u8]>, body: &[u8]) -> Result<String, ApiError> {
    let mut fields = Fields::new(json_object(content_type, body)?);
    let token = fields.required_string("refresh_token", Echo::No);
    fields.finish(token)
}

/// What a logout body may say. Every field is optional and a body that is not a JSON
/// object counts as empty: the SPEC's logout takes no body and always answers 200.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogoutOptions {
    /// A refresh token whose session to end.
    pub refresh_token: Option<String>,
    /// `"scope": "all"`.
    pub everywhere: bool,
}

/// `POST /logout`'s optional body: `refresh_token`, `scope`.
pub fn logout_options(content_type: Option<&[u8]>, body: &[u8]) -> LogoutOptions {
    let Ok(object) = json_object(content_type, body) else {
        return LogoutOptions::default();
    };
    LogoutOptions {
        refresh_token: object
            .get("refresh_token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        everywhere: object.get("scope").and_then(serde_json::Value::as_str) == Some("all"),
    }
}
