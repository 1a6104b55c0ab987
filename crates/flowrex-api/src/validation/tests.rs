//! Tests of `validation`.

use super::*;

#[test]
fn secret_fields_are_recognised_in_any_spelling() {
    for name in [
        "password",
        "Password",
        "PASSWORD",
        "refresh_token",
        "refreshToken",
        "Refresh-Token",
        "refresh token",
        "new_password",
        "currentPassword",
        "mfa_token",
        "recovery_code",
        "client_secret",
        "pass_word",
        "p-a-s-s-w-o-r-d",
    ] {
        assert!(is_secret_field(name), "{name}");
    }
    for name in ["email", "full_name", "scope", "id"] {
        assert!(!is_secret_field(name), "{name}");
    }
}

fn decode(content_type: Option<&str>, body: &str) -> Result<Map<String, Value>, Value> {
    json_object(content_type.map(str::as_bytes), body.as_bytes())
        .map_err(|rejection| json!(rejection.detail))
}

#[test]
fn json_objects_are_read_with_or_without_a_json_content_type() {
    for content_type in [
        None,
        Some("application/json"),
        Some("application/merge-patch+json; charset=utf-8"),
    ] {
        assert_eq!(decode(content_type, r#"{"a": 1}"#).map(|m| m.len()), Ok(1));
    }
}

#[test]
fn bodies_that_are_not_objects_get_fastapis_errors() {
    assert_eq!(
        decode(None, ""),
        Err(json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]))
    );
    assert_eq!(
        decode(None, "[1]"),
        Err(json!([{"type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from", "input": [1]}]))
    );
    assert_eq!(
        decode(Some("text/plain"), "email=x&password=hunter2"),
        Err(json!([{"type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from"}])),
        "a body that is not JSON is not echoed"
    );
    let malformed = decode(None, "{\"a\":\n oops}");
    assert_matches!(&malformed, Err(e) if e[0]["type"] == "json_invalid" && e[0]["loc"] == json!(["body", 7]), "{malformed:?}");
}

#[test]
fn fields_collect_every_error_and_never_echo_secrets() {
    let body = decode(None, r#"{"password": 5, "full_name": 7}"#).unwrap_or_default();
    let mut fields = Fields::new(body);
    let email = fields.required_string("email", Echo::Yes);
    let name = fields.optional_string("full_name");
    let password = fields.required_string("password", Echo::No);
    let result = fields.finish(email.zip(name).zip(password));
    let Err(rejection) = result else {
        panic!("three errors expected");
    };
    assert_eq!(
        json!(rejection.detail),
        json!([
            {"type": "missing", "loc": ["body", "email"], "msg": "Field required",
             "input": {"full_name": 7}},
            {"type": "string_type", "loc": ["body", "full_name"], "msg": "Input should be a valid string", "input": 7},
            {"type": "string_type", "loc": ["body", "password"], "msg": "Input should be a valid string"},
        ])
    );
}
