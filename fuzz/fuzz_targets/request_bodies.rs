//! Fuzzes the request-body decoding of every endpoint that takes a body (register, login,
//! refresh): any `Content-Type` and any bytes must give either a domain value or a 422
//! rejection whose JSON serialises — never a panic — and a secret is never echoed back,
//! however its key is spelled.
#![no_main]

use flowrex_api::routes::auth::login::LoginRequest;
use flowrex_api::routes::auth::refresh::RefreshRequest;
use flowrex_api::routes::auth::register::RegisterRequest;
use flowrex_api::validation::body::RequestBody;
use flowrex_api::validation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, Option<Vec<u8>>, Vec<u8>)| {
    let (endpoint, content_type, body) = input;
    let content_type = content_type.as_deref();
    let outcome = match endpoint % 3 {
        0 => RegisterRequest::parse(content_type, &body).map(|_| ()),
        1 => LoginRequest::parse(content_type, &body).map(|_| ()),
        _ => RefreshRequest::parse(content_type, &body).map(|_| ()),
    };
    let Err(rejection) = outcome else { return };
    let errors = &rejection.detail;
    let json = serde_json::to_value(errors).unwrap_or_default();
    assert!(json.is_array() && !errors.is_empty(), "a 422 lists its errors");
    for entry in errors {
        let entry = serde_json::to_value(entry).unwrap_or_default();
        let field = entry["loc"][1].as_str().unwrap_or_default();
        // A missing field's input is the (redacted) body, checked below.
        if validation::is_secret_field(field) && entry["type"] != "missing" {
            assert!(entry.get("input").is_none(), "secrets are never echoed: {entry}");
        }
        if let Some(body) = entry["input"].as_object() {
            assert!(
                !body.keys().any(|name| validation::is_secret_field(name)),
                "secrets are never echoed inside a body, however spelled: {entry}"
            );
        }
    }
});
