//! Fuzzes the request-body decoding of every endpoint that takes a body (register, login,
//! refresh): any `Content-Type` and any bytes must give either a domain value or a 422/413-
//! style error whose JSON serialises — never a panic — and a rejected password is never
//! echoed back.
#![no_main]

use flowrex_api::bodies;
use flowrex_api::error::ApiError;
use flowrex_api::validation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, Option<Vec<u8>>, Vec<u8>)| {
    let (endpoint, content_type, body) = input;
    let content_type = content_type.as_deref();
    let outcome = match endpoint % 3 {
        0 => bodies::registration(content_type, &body).map(|_| ()),
        1 => bodies::credentials(content_type, &body, None).map(|_| ()),
        _ => bodies::refresh_token(content_type, &body).map(|_| ()),
    };
    if let Err(error) = outcome {
        match &error {
            ApiError::Validation(errors) => {
                let json = serde_json::to_value(errors).unwrap_or_default();
                assert!(json.is_array() && !errors.is_empty(), "a 422 lists its errors");
                for entry in errors {
                    let entry = serde_json::to_value(entry).unwrap_or_default();
                    let secret_field = entry["loc"][1] == "password" || entry["loc"][1] == "refresh_token";
                    // A missing field's input is the (redacted) body, checked below.
                    if secret_field && entry["type"] != "missing" {
                        assert!(entry.get("input").is_none(), "secrets are never echoed: {entry}");
                    }
                    if let Some(body) = entry["input"].as_object() {
                        assert!(
                            !body.keys().any(|name| validation::is_secret_field(name)),
                            "secrets are never echoed inside a body, however spelled: {entry}"
                        );
                    }
                }
            }
            other => panic!("body decoding may only fail validation, not {other:?}"),
        }
    }
});
