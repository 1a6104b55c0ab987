//! Registration races and persistence.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_registrations_of_one_email_create_exactly_one_user() {
    let app = spawn_app().await;
    let attempts = (0..20).map(|_| {
        app.client
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"email": "race@example.com", "password": PASSWORD}))
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!(
        (created, refused),
        (1, 19),
        "exactly one 201 and nineteen 400: {statuses:?}"
    );
}

#[tokio::test]
async fn a_restart_keeps_registered_users() {
    let app = spawn_app().await;
    app.register("kept@example.com").await;
    let app = app.restart().await;
    let response = app.login("kept@example.com", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the user survives a restart"
    );
}
