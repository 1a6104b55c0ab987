//! Request bodies, decoded and validated the way FastAPI and pydantic do it, so that a 422
//! has the same `{"detail": [{"type", "loc", "msg", "input"?, "ctx"?}]}` shape.
//!
//! Bodies are read as JSON when the `Content-Type` is missing or JSON (`application/json`,
//! `application/*+json`), as FastAPI does; all field errors are reported together, in field
//! order. Passwords are never echoed back in `input`.

pub mod body;

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// One entry of a 422 `detail` list, in FastAPI's shape. `input` is left out for secrets.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// `missing`, `string_type`, `value_error`, `json_invalid`, …
    #[serde(rename = "type")]
    #[schema(example = "value_error")]
    kind: &'static str,
    /// Where: `["body"]` or `["body", field]` (a JSON position may follow `"body"`).
    #[schema(value_type = Vec<serde_json::Value>)]
    loc: Vec<Value>,
    /// What is wrong.
    msg: String,
    /// The offending value (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    input: Option<Value>,
    /// Details of the rule broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    ctx: Option<Value>,
}

/// A body refused: every field error found, in field order (answered 422).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rejection {
    /// The errors.
    pub detail: Vec<FieldError>,
}

/// The field that confirms a change with the password in use now.
pub const CURRENT_PASSWORD_FIELD: &str = "current_password";

impl Rejection {
    /// The body lacks the field `name`, which this request needs (a field the schema marks
    /// optional because other requests may leave it out).
    pub fn missing(name: &'static str) -> Self {
        Self {
            detail: vec![FieldError::new(
                "missing",
                vec![json!("body"), json!(name)],
                "Field required".to_owned(),
                None,
                None,
            )],
        }
    }
}

/// What a field name holds, once its case and separators are gone, when its value is a
/// secret: never echoed back, not even inside a whole-body `input`, however the client
/// spelled the key (`Password`, `refreshToken`, `new-password`, `mfa_token`,
/// `recovery_code`…). Over-redacting a harmless field costs nothing.
const SECRET_WORDS: [&str; 5] = ["password", "passwd", "token", "secret", "code"];

/// Whether a field of this name may hold a secret.
pub fn is_secret_field(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_WORDS.iter().any(|word| folded.contains(word))
}

/// A body as it may be echoed in an error: without its secret fields.
fn redacted(body: &Map<String, Value>) -> Value {
    Value::Object(
        body.iter()
            .filter(|(name, _)| !is_secret_field(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    )
}

/// Whether a field's value may be echoed back in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Ordinary fields.
    Yes,
    /// Secrets (passwords, tokens).
    No,
}

/// Decodes a JSON object body or answers 422 as FastAPI would.
///
/// # Errors
/// A [`Rejection`] for an empty, non-JSON, malformed or non-object body.
pub fn json_object(
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<Map<String, Value>, Rejection> {
    let single = |error: FieldError| {
        Err(Rejection {
            detail: vec![error],
        })
    };
    if body.is_empty() {
        return single(FieldError {
            kind: "missing",
            loc: vec![json!("body")],
            msg: "Field required".to_owned(),
            input: Some(Value::Null),
            ctx: None,
        });
    }
    if !is_json_content_type(content_type) {
        // Not echoed: a form-encoded or text body may well hold a password.
        return single(not_an_object(None));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other @ (Value::Array(_) | Value::String(_))) => {
            single(not_an_object(None).echoing(other))
        }
        Ok(other) => single(not_an_object(Some(other))),
        Err(error) => single(FieldError {
            kind: "json_invalid",
            loc: vec![json!("body"), json!(byte_offset(body, &error))],
            msg: "JSON decode error".to_owned(),
            input: Some(json!({})),
            ctx: Some(json!({ "error": json_error_reason(&error) })),
        }),
    }
}

fn not_an_object(input: Option<Value>) -> FieldError {
    FieldError {
        kind: "model_attributes_type",
        loc: vec![json!("body")],
        msg: "Input should be a valid dictionary or object to extract fields from".to_owned(),
        input,
        ctx: None,
    }
}

impl FieldError {
    /// An error of `kind` at `loc` (for parameters outside the body, e.g. `["query", …]`).
    pub fn new(
        kind: &'static str,
        loc: Vec<Value>,
        msg: String,
        input: Option<Value>,
        ctx: Option<Value>,
    ) -> Self {
        Self {
            kind,
            loc,
            msg,
            input,
            ctx,
        }
    }

    /// Echoes a non-object JSON body unless it contains a string that could be a secret
    /// (an array of strings, or a string).
    fn echoing(mut self, body: Value) -> Self {
        let holds_text = match &body {
            Value::String(_) => true,
            Value::Array(items) => items
                .iter()
                .any(|item| !item.is_number() && !item.is_boolean() && !item.is_null()),
            _ => false,
        };
        if !holds_text {
            self.input = Some(body);
        }
        self
    }
}

/// Whether FastAPI would read the body as JSON: no `Content-Type` at all, or
/// `application/json` / `application/*+json` (parameters ignored).
fn is_json_content_type(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// Where serde_json stopped, as an offset into the body (pydantic reports a position).
fn byte_offset(body: &[u8], error: &serde_json::Error) -> usize {
    let line_start: usize = body
        .split(|b| *b == b'\n')
        .take(error.line().saturating_sub(1))
        .map(|line| line.len() + 1)
        .sum();
    (line_start + error.column().saturating_sub(1)).min(body.len())
}

fn json_error_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned()
}

/// Reads the fields of one body, collecting every error before failing.
pub struct Fields {
    body: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// Starts reading `body`.
    pub fn new(body: Map<String, Value>) -> Self {
        Self {
            body,
            errors: Vec::new(),
        }
    }

    /// Whether the body holds the field `name` (even as `null`).
    pub fn has(&self, name: &str) -> bool {
        self.body.contains_key(name)
    }

    /// Takes the field `name` out as it came, to be read by the caller (and never echoed
    /// in another field's error).
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.body.remove(name)
    }

    /// A required string field.
    pub fn required_string(&mut self, name: &'static str, echo: Echo) -> Option<String> {
        match self.body.get(name).cloned() {
            None => {
                let input = redacted(&self.body);
                self.reject(name, "missing", "Field required", Some(input), None);
                None
            }
            Some(value) => self.string(name, value, echo),
        }
    }

    /// An optional string field: absent and `null` are `None`.
    pub fn optional_string(&mut self, name: &'static str) -> Option<Option<String>> {
        match self.body.get(name).cloned() {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.string(name, value, Echo::Yes).map(Some),
        }
    }

    /// An optional secret string field (never echoed): absent and `null` are `None`.
    pub fn optional_secret(&mut self, name: &'static str) -> Option<Option<String>> {
        match self.body.get(name).cloned() {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.string(name, value, Echo::No).map(Some),
        }
    }

    /// An optional boolean field: absent and `null` are `None` (pydantic's strict `bool`:
    /// only `true` and `false`).
    pub fn optional_bool(&mut self, name: &'static str) -> Option<Option<bool>> {
        match self.body.get(name).cloned() {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(value)) => Some(Some(value)),
            Some(other) => {
                self.reject(
                    name,
                    "bool_type",
                    "Input should be a valid boolean",
                    Some(other),
                    None,
                );
                None
            }
        }
    }

    fn string(&mut self, name: &'static str, value: Value, echo: Echo) -> Option<String> {
        match value {
            Value::String(text) => Some(text),
            other => {
                let input = (echo == Echo::Yes).then_some(other);
                self.reject(
                    name,
                    "string_type",
                    "Input should be a valid string",
                    input,
                    None,
                );
                None
            }
        }
    }

    /// Rejects every field not named in `allowed`, as pydantic's `extra="forbid"` does
    /// (`extra_forbidden`, naming the field; a secret's value is not echoed).
    pub fn forbid_others(&mut self, allowed: &[&str]) {
        let extra: Vec<(String, Value)> = self
            .body
            .iter()
            .filter(|(name, _)| !allowed.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (name, value) in extra {
            let input = (!is_secret_field(&name)).then_some(value);
            self.errors.push(FieldError {
                kind: "extra_forbidden",
                loc: vec![json!("body"), json!(name)],
                msg: "Extra inputs are not permitted".to_owned(),
                input,
                ctx: None,
            });
        }
    }

    /// Records that a field's value broke a rule (`type`, message, what to echo, context).
    pub fn reject(
        &mut self,
        name: &'static str,
        kind: &'static str,
        msg: impl Into<String>,
        input: Option<Value>,
        ctx: Option<Value>,
    ) {
        self.errors.push(FieldError {
            kind,
            loc: vec![json!("body"), json!(name)],
            msg: msg.into(),
            input,
            ctx,
        });
    }

    /// Done reading: the value built from the fields, or every error found.
    ///
    /// # Errors
    /// A [`Rejection`] when any field was rejected.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Rejection> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(Rejection {
                detail: self.errors,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
