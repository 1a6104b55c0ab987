//! Start-up on a database an earlier release left behind.

use migration::sea_orm::{ConnectionTrait, Database};
use migration::{Migrator, MigratorTrait};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app_on_database;
use flowrex_infrastructure::test_support;

/// `Test1234` hashed by the original service (passlib, cost 12).
const TEST1234: &str = "$2b$12$53bKYujvn6hfO17ca2dZAOfSyt0zPJ8hr3gcAZm.R/Na0v9r5ca82";

/// A database one release behind (only the first migration applied, a user in its shape)
/// is brought up to date when the server starts on it, and the user can log in; a restart
/// finds nothing to do and serves on.
#[tokio::test]
async fn an_older_database_is_upgraded_at_start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = test_support::fresh_database(dir.path())
        .await
        .expect("test database")
        .expose()
        .to_owned();
    // A new SQLite file must be created: sqlx opens existing files only by default.
    let create = if url.starts_with("sqlite:") {
        format!("{url}?mode=rwc")
    } else {
        url.clone()
    };
    let db = Database::connect(&create).await.expect("connect");
    Migrator::up(&db, Some(1)).await.expect("first migration");
    db.execute_unprepared(&format!(
        "INSERT INTO users (email, hashed_password, full_name, is_active, is_verified, \
         is_superuser, created_at, updated_at) VALUES ('Older@Example.com', '{TEST1234}', NULL, \
         true, false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    ))
    .await
    .expect("insert");
    db.close().await.expect("close");

    let app = spawn_app_on_database(url, &[]).await;
    let login = json!({"email": "older@example.com", "password": "Test1234"});
    assert_eq!(app.post_login(&login).await.status(), StatusCode::OK);
    let app = app.restart().await;
    assert_eq!(app.post_login(&login).await.status(), StatusCode::OK);
    let me = app.register_and_login("newer@example.com").await;
    assert!(me["access_token"].is_string());
}
