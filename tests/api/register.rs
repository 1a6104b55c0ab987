//! SPEC row `POST /api/v1/auth/register`: 201 user, 400 taken email, 422 validation.
//! Hostile addresses and fields (issue 5): one account whatever an address's letter case,
//! Unicode form or surrounding spaces; control characters, over-long and non-string
//! addresses, passwords over 72 bytes or with a NUL refused at the field; fields a client
//! must not set never stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    PASSWORD, assert_already_registered, assert_json, assert_refused, body, header, only_error,
    sorted_keys, spawn_app,
};

#[tokio::test]
async fn register_answers_201_with_the_email() {
    // The original's test_register.
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "test@test.com", "password": "Test1234"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body(response).await["email"], "test@test.com");
}

#[tokio::test]
async fn the_user_body_has_exactly_the_spec_fields() {
    let app = spawn_app().await;
    let response = app
        .post_register(
            &json!({"email": "ada@example.com", "password": PASSWORD, "full_name": "Ada L"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let user = body(response).await;
    let keys = sorted_keys(&user);
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "full_name",
            "id",
            "is_active",
            "is_verified"
        ]
    );
    assert!(user["id"].as_i64().is_some_and(|id| id > 0), "{user}");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["full_name"], "Ada L");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_verified"], false);
    let created_at = user["created_at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok() && created_at.ends_with('Z'),
        "created_at should be RFC 3339 UTC with Z: {created_at}"
    );
    assert_eq!(
        created_at.len(),
        "2026-11-24T10:00:00.123456Z".len(),
        "microseconds"
    );
}

#[tokio::test]
async fn full_name_defaults_to_null() {
    let app = spawn_app().await;
    let user = app.register("nobody@example.com").await;
    assert_eq!(user["full_name"], json!(null));
}

#[tokio::test]
async fn a_second_registration_of_an_email_is_refused_with_400() {
    let app = spawn_app().await;
    app.register("twice@example.com").await;
    let response = app
        .post_register(&json!({"email": "twice@example.com", "password": "Other1234"}))
        .await;
    assert_already_registered(response).await;
}

#[tokio::test]
async fn each_password_rule_is_reported_in_spec_order_without_echoing_the_password() {
    let app = spawn_app().await;
    for (password, message) in [
        ("Ab1", "Value error, Password must be ≥8 characters"),
        ("abcdefg1", "Value error, Must contain uppercase"),
        ("ABCDEFG1", "Value error, Must contain lowercase"),
        ("Abcdefgh", "Value error, Must contain digit"),
    ] {
        let response = app
            .post_register(&json!({"email": "p@example.com", "password": password}))
            .await;
        let expected = json!({"detail": [{
            "type": "value_error", "loc": ["body", "password"], "msg": message, "ctx": {"error": {}}
        }]});
        assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
    }
}

#[tokio::test]
async fn an_invalid_email_is_422_at_the_email_field() {
    let app = spawn_app().await;
    for email in ["not-an-email", "a@b", "@example.com", ""] {
        let response = app
            .post_register(&json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email:?}"
        );
        let detail = &body(response).await["detail"][0];
        assert_eq!(detail["type"], "value_error", "{email:?}");
        assert_eq!(detail["loc"], json!(["body", "email"]));
        assert!(
            detail["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("value is not a valid email address: ")),
            "{detail}"
        );
        assert_eq!(detail["input"], json!(email));
    }
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_422_in_fastapis_shape() {
    let app = spawn_app().await;
    let response = app.post_register(&json!({"full_name": 5})).await;
    let expected = json!({"detail": [
        {"type": "missing", "loc": ["body", "email"], "msg": "Field required", "input": {"full_name": 5}},
        {"type": "string_type", "loc": ["body", "full_name"], "msg": "Input should be a valid string", "input": 5},
        {"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": {"full_name": 5}},
    ]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;

    let response = app
        .post_register(&json!({"email": "x@example.com", "password": 12345678}))
        .await;
    let expected = json!({"detail": [
        {"type": "string_type", "loc": ["body", "password"], "msg": "Input should be a valid string"},
    ]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
}

#[tokio::test]
async fn malformed_or_non_object_bodies_are_422_at_body() {
    let app = spawn_app().await;
    let send = |body: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/register"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = send("{\"email\": ").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = &body(response).await["detail"][0];
    assert_eq!(detail["type"], "json_invalid");
    assert_eq!(detail["loc"][0], "body");
    assert_eq!(detail["msg"], "JSON decode error");

    let response = send("[]").await.unwrap();
    let expected = json!({"detail": [{"type": "model_attributes_type", "loc": ["body"],
        "msg": "Input should be a valid dictionary or object to extract fields from", "input": []}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;

    let response = send("").await.unwrap();
    let expected = json!({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
}

#[tokio::test]
async fn fields_a_client_must_not_set_are_ignored() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({
            "email": "sneaky@example.com", "password": PASSWORD,
            "id": 999, "is_active": false, "is_verified": true, "is_superuser": true
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = body(response).await;
    assert_ne!(user["id"], 999);
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_verified"], false);
}

#[tokio::test]
async fn an_overlong_full_name_is_422_not_a_server_error() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "long@example.com", "password": PASSWORD, "full_name": "x".repeat(256)}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body(response).await["detail"][0]["type"], "string_too_long");
}

// ---- addresses: one account whatever the letter case, Unicode form or spaces; control
// characters and other junk refused ---------------------------------------------------

#[tokio::test]
async fn emails_differing_only_by_case_are_one_account() {
    let app = spawn_app().await;
    let first = app.register("Foo@Example.com").await;
    assert_eq!(
        first["email"], "Foo@example.com",
        "shown as typed, domain lower-cased"
    );
    let again = app
        .post_register(&json!({"email": "foo@example.com", "password": PASSWORD}))
        .await;
    assert_already_registered(again).await;
    let response = app.login("FOO@EXAMPLE.COM", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "login is case-insensitive"
    );
    assert!(body(response).await["access_token"].is_string());
}

#[tokio::test]
async fn two_unicode_spellings_of_an_email_are_one_account() {
    let app = spawn_app().await;
    app.register("jose\u{301}@example.com").await;
    let again = app
        .post_register(&json!({"email": "jos\u{e9}@example.com", "password": PASSWORD}))
        .await;
    assert_already_registered(again).await;
    assert_eq!(
        app.login_status("JOS\u{c9}@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn surrounding_spaces_are_trimmed() {
    let app = spawn_app().await;
    // Spaces only: a tab or newline is a control character, refused (see below).
    let user = app.register("  spaced@example.com  ").await;
    assert_eq!(user["email"], "spaced@example.com");
    assert_eq!(
        app.login_status("spaced@example.com", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn internationalised_domains_are_accepted() {
    let app = spawn_app().await;
    let user = app.register("user@münchen.de").await;
    assert_eq!(user["email"], "user@münchen.de");
}

#[tokio::test]
async fn bad_emails_are_422_at_the_email_field() {
    let app = spawn_app().await;
    let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
    for (email, message) in [
        (
            json!(long),
            "value is not a valid email address: The email address is too long (5 characters more than 254).",
        ),
        (
            json!("a\u{0}b@example.com"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!("a\nb@example.com"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        // Control characters at an end are refused too, never trimmed away.
        (
            json!("a@b.co\n"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!("a@b.co\t"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!("\u{0}a@b.co"),
            "value is not a valid email address: The email address contains a control character.",
        ),
        (
            json!(""),
            "value is not a valid email address: An email address cannot be empty.",
        ),
        (
            json!("user@localhost"),
            "value is not a valid email address: The part after the @-sign is not valid. It should have a period.",
        ),
    ] {
        let error = only_error(
            app.post_register(&json!({"email": email, "password": PASSWORD}))
                .await,
        )
        .await;
        assert_eq!(error["type"], "value_error");
        assert_eq!(error["loc"], json!(["body", "email"]));
        assert_eq!(error["msg"], message, "{email}");
        assert_eq!(error["input"], email);
    }
}

#[tokio::test]
async fn non_string_emails_are_422_string_type() {
    let app = spawn_app().await;
    for email in [json!(null), json!(42), json!(["a@b.co"]), json!({"x": 1})] {
        let error = only_error(
            app.post_register(&json!({"email": email, "password": PASSWORD}))
                .await,
        )
        .await;
        assert_eq!(
            error,
            json!({"type": "string_type", "loc": ["body", "email"], "msg": "Input should be a valid string", "input": email})
        );
    }
}

#[tokio::test]
async fn addresses_differing_by_an_accent_are_two_accounts_on_every_backend() {
    let app = spawn_app().await;
    app.register("jose@example.com").await;
    let accented = app
        .post_register(&json!({"email": "josé@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(accented.status(), StatusCode::CREATED, "é is not e");
    assert_eq!(body(accented).await["email"], "josé@example.com");
    assert_refused(app.login("jose@example.com", "Wrong1234").await).await;
}

#[tokio::test]
async fn a_control_character_in_an_email_is_refused_at_login_too_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "acc@example.com\n", "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        only_error(app.login("acc@example.com\r", PASSWORD).await).await["loc"],
        json!(["body", "email"])
    );
    // The clean address was never registered by the refused attempt.
    app.register("acc@example.com").await;
}

// ---- passwords and other fields ------------------------------------------------------

#[tokio::test]
async fn passwords_longer_than_72_bytes_are_refused_at_registration() {
    let app = spawn_app().await;
    for password in [
        format!("Aa1{}", "x".repeat(70)),
        format!("Aa1{}", "€".repeat(25)),
    ] {
        let response = app
            .post_register(&json!({"email": "long@example.com", "password": password}))
            .await;
        let expected = json!({"detail": [{"type": "value_error", "loc": ["body", "password"],
            "msg": "Value error, Password must be at most 72 bytes", "ctx": {"error": {}}}]});
        assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
    }
}

#[tokio::test]
async fn nul_in_a_password_is_refused_at_registration_and_never_logs_in() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "nul@example.com", "password": "Test\u{0}1234"}))
        .await;
    let expected = json!({"detail": [{"type": "value_error", "loc": ["body", "password"],
        "msg": "Value error, Password must not contain NUL characters", "ctx": {"error": {}}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
    app.register("nul@example.com").await;
    assert_refused(app.login("nul@example.com", "Test1234\u{0}").await).await;
}

#[tokio::test]
async fn a_nul_in_full_name_is_422() {
    let app = spawn_app().await;
    let response = app
        .post_register(
            &json!({"email": "n@example.com", "password": PASSWORD, "full_name": "Ada\u{0}"}),
        )
        .await;
    let expected = json!({"detail": [{"type": "value_error", "loc": ["body", "full_name"],
        "msg": "Value error, must not contain NUL characters", "ctx": {"error": {}}}]});
    assert_json(response, StatusCode::UNPROCESSABLE_ENTITY, expected).await;
}

#[tokio::test]
async fn privileged_fields_sent_by_a_client_are_never_stored() {
    let app = spawn_app().await;
    let response = app
        .post_register(&json!({"email": "p@example.com", "password": PASSWORD,
            "is_superuser": true, "is_verified": true, "is_active": false, "id": 77,
            "hashed_password": "$2b$04$forged", "created_at": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = body(response).await;
    assert_eq!(
        (user["is_active"].clone(), user["is_verified"].clone()),
        (json!(true), json!(false))
    );
    assert_ne!(user["created_at"], "2000-01-01T00:00:00.000000Z");
    let stored = app
        .query_string("SELECT CONCAT(CASE WHEN is_superuser THEN 'yes' ELSE 'no' END, ':', hashed_password) AS v FROM users")
        .await;
    assert!(
        stored.starts_with("no:$2b$04$") && !stored.contains("forged"),
        "{stored}"
    );
    assert_eq!(
        app.login_status("p@example.com", PASSWORD).await,
        StatusCode::OK
    );
}
