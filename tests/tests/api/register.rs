//! SPEC row `POST /api/v1/auth/register`: 201 user, 400 taken email, 422 validation.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    PASSWORD, assert_already_registered, assert_json, body, header, sorted_keys, spawn_app,
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
