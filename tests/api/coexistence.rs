//! The original service and Flowrex on one database (a rolling cutover, or users imported
//! with plain SQL): rows written with only the SPEC's columns log in, in any letter case,
//! and their addresses stay taken; a hash at the original's cost is upgraded at the first
//! login. Runs on whichever backend the suite runs on (SQLite, PostgreSQL, MariaDB in CI).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    PASSWORD, TestApp, access, assert_already_registered, assert_refused, body, refresh, spawn_app,
};

/// `Test1234` hashed as passlib does (`$2b$`), at the test suite's cost 4 so that no
/// rehash runs (the cost-12 hash of the original is [`PASSLIB_TEST1234`]).
const ORIGINAL_HASH: &str = "$2b$04$./XCL/qWkxY6T3H9tB4SA./p/TEWfHLOv1v93ZRckvCScaunjuLBm";

/// A passlib hash of "Test1234" at cost 12, as the original service stored it.
const PASSLIB_TEST1234: &str = "$2b$12$53bKYujvn6hfO17ca2dZAOfSyt0zPJ8hr3gcAZm.R/Na0v9r5ca82";

/// Inserts a user as the original's SQLAlchemy model does: the SPEC's columns, nothing else.
async fn insert_as_the_original(app: &TestApp, email: &str) {
    app.execute_sql(&format!(
        "INSERT INTO users (email, hashed_password, full_name, is_active, is_verified, \
         is_superuser, created_at, updated_at) VALUES ('{email}', '{ORIGINAL_HASH}', NULL, \
         true, false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ))
    .await;
}

async fn login_status(app: &TestApp, email: &str) -> StatusCode {
    app.login(email, PASSWORD).await.status()
}

#[tokio::test]
async fn users_the_original_inserts_log_in_in_any_letter_case() {
    let app = spawn_app().await;
    // Two rows, as the original registering two users writes them.
    insert_as_the_original(&app, "First@example.com").await;
    insert_as_the_original(&app, "second@example.com").await;

    assert_eq!(
        login_status(&app, "First@example.com").await,
        StatusCode::OK
    );
    assert_eq!(
        login_status(&app, "second@EXAMPLE.com").await,
        StatusCode::OK,
        "a keyless row, another letter case"
    );
    assert_eq!(
        login_status(&app, "SECOND@example.com").await,
        StatusCode::OK,
        "and again, now by its filled key"
    );
    assert_eq!(
        login_status(&app, "first@example.com").await,
        StatusCode::OK
    );

    let response = app.login("first@example.com", PASSWORD).await;
    let tokens = body(response).await;
    let me = app.get_me(access(&tokens)).await;
    let user = body(me).await;
    assert_eq!(user["email"], "First@example.com", "shown as stored");
    let refreshed = app.post_refresh(refresh(&tokens)).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_address_the_original_holds_cannot_be_registered_again_in_any_case() {
    let app = spawn_app().await;
    insert_as_the_original(&app, "taken@example.com").await;
    insert_as_the_original(&app, "other@example.com").await;
    for spelling in [
        "TAKEN@EXAMPLE.COM",
        "taken@example.com",
        "Taken@Example.com",
    ] {
        assert_already_registered(
            app.post_register(&json!({"email": spelling, "password": PASSWORD}))
                .await,
        )
        .await;
    }
    // A third original row after Flowrex filled the others' keys still inserts.
    assert_eq!(
        login_status(&app, "other@example.com").await,
        StatusCode::OK
    );
    insert_as_the_original(&app, "third@example.com").await;
    assert_eq!(
        login_status(&app, "THIRD@example.com").await,
        StatusCode::OK
    );
    assert_eq!(
        app.post_register(&json!({"email": "new@example.com", "password": PASSWORD}))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_wrong_password_for_a_keyless_row_is_the_usual_401() {
    let app = spawn_app().await;
    insert_as_the_original(&app, "legacy@example.com").await;
    assert_refused(app.login("LEGACY@example.com", "Wrong1234").await).await;
}

#[tokio::test]
async fn a_user_of_the_original_service_logs_in_and_the_hash_is_upgraded() {
    let app = spawn_app().await; // BCRYPT_COST=4, not passlib's 12
    app.execute_sql(&format!(
        "INSERT INTO users (email, email_key, hashed_password, full_name, is_active, is_verified, is_superuser, created_at, updated_at) \
         VALUES ('Legacy@example.com', 'legacy@example.com', '{PASSLIB_TEST1234}', NULL, true, false, false, \
         CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ))
    .await;
    let response = app.login("legacy@example.com", "Test1234").await;
    assert_eq!(response.status(), StatusCode::OK, "passlib's hash verifies");
    assert!(body(response).await["access_token"].is_string());
    let stored = app
        .query_string(
            "SELECT hashed_password AS v FROM users WHERE email_key = 'legacy@example.com'",
        )
        .await;
    assert!(
        stored.starts_with("$2b$04$"),
        "upgraded to the configured cost: {stored}"
    );
    assert_eq!(
        app.login_status("legacy@example.com", "Test1234").await,
        StatusCode::OK,
        "the new hash works"
    );
    assert_refused(app.login("legacy@example.com", "Test12345").await).await;
}
