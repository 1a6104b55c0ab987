//! Every migration's `down` undoes its `up`, and `up` works again after it.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_matches::assert_matches;

use std::path::Path;

use migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, QueryResult, Statement};
use migration::{Migrator, MigratorTrait, SchemaManager};

async fn sqlite_memory() -> DatabaseConnection {
    Database::connect("sqlite::memory:").await.expect("connect")
}

/// A connection to a fresh database in `dir`, or on the server `TEST_DATABASE_URL` names,
/// with at most `max_connections` (the settings' default otherwise).
async fn configured_database(dir: &Path, max_connections: Option<u32>) -> DatabaseConnection {
    let url = flowrex_infrastructure::test_support::fresh_database(dir)
        .await
        .unwrap();
    let mut settings = flowrex_infrastructure::DatabaseSettings::new(url);
    if let Some(max) = max_connections {
        settings.max_connections = max;
    }
    flowrex_infrastructure::database::connect(&settings)
        .await
        .expect("connect")
}

/// The rows `sql` returns on `db`.
async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs `sql` on `db`; `what` names it when it fails.
async fn execute(db: &DatabaseConnection, sql: &str, what: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

async fn objects(db: &DatabaseConnection) -> Vec<String> {
    rows(
        db,
        "SELECT type || ':' || name AS object FROM sqlite_master \
         WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'seaql_migrations%' ORDER BY name",
    )
    .await
    .iter()
    .filter_map(|row| row.try_get::<String>("", "object").ok())
    .collect()
}

#[tokio::test]
async fn up_creates_users_with_its_unique_email_index() {
    let db = sqlite_memory().await;
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(objects(&db).await, ALL_OBJECTS);
    let index = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT sql FROM sqlite_master WHERE name = 'ix_users_email'",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<String>("", "sql").ok())
        .unwrap_or_default();
    assert!(index.contains("UNIQUE"), "{index}");
}

#[tokio::test]
async fn down_leaves_an_empty_schema_and_up_works_again() {
    let db = sqlite_memory().await;
    Migrator::up(&db, None).await.expect("up");
    Migrator::down(&db, None).await.expect("down");
    assert!(
        objects(&db).await.is_empty(),
        "down removes every table and index"
    );
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(objects(&db).await, ALL_OBJECTS);
}

const ALL_OBJECTS: [&str; 46] = [
    "table:account_events",
    "table:audit_events",
    "table:email_logins",
    "table:event_deliveries",
    "table:federation_flows",
    "table:identities",
    "index:ix_account_events_created_at",
    "index:ix_account_events_event_id",
    "index:ix_audit_events_action",
    "index:ix_audit_events_actor_id",
    "index:ix_audit_events_created_at",
    "index:ix_audit_events_subject_id",
    "index:ix_email_logins_email",
    "index:ix_email_logins_token_hash",
    "index:ix_event_deliveries_due",
    "index:ix_event_deliveries_endpoint_id",
    "index:ix_event_deliveries_event_row_id",
    "index:ix_event_deliveries_lane_user",
    "index:ix_federation_flows_code_hash",
    "index:ix_federation_flows_expires_at",
    "index:ix_federation_flows_state_hash",
    "index:ix_identities_provider_subject",
    "index:ix_identities_user_id",
    "index:ix_mfa_challenges_token_hash",
    "index:ix_one_time_tokens_token_hash",
    "index:ix_one_time_tokens_user_id_purpose",
    "index:ix_outbox_next_attempt_at",
    "index:ix_passkeys_credential_hash",
    "index:ix_passkeys_user_id",
    "index:ix_recovery_codes_user_id_code_hash",
    "index:ix_sessions_expires_at",
    "index:ix_sessions_user_id",
    "index:ix_totp_factors_user_id",
    "index:ix_users_email",
    "index:ix_users_email_key",
    "index:ix_webauthn_ceremonies_expires_at",
    "table:mfa_challenges",
    "table:one_time_tokens",
    "table:outbox",
    "table:passkeys",
    "table:recovery_codes",
    "table:sessions",
    "table:totp_factors",
    "table:users",
    "table:webauthn_ceremonies",
    "table:webhook_endpoints",
];

#[tokio::test]
async fn the_first_migration_makes_the_specs_table() {
    let db = sqlite_memory().await;
    Migrator::up(&db, Some(1)).await.expect("up");
    let sql = "SELECT name, type, \"notnull\" AS required, dflt_value AS dflt FROM pragma_table_info('users') ORDER BY cid";
    let columns: Vec<String> = rows(&db, sql)
        .await
        .iter()
        .map(|row| {
            let name: String = row.try_get("", "name").unwrap_or_default();
            let kind: String = row.try_get("", "type").unwrap_or_default();
            let required: i32 = row.try_get("", "required").unwrap_or_default();
            let default: Option<String> = row.try_get("", "dflt").unwrap_or_default();
            format!(
                "{name} {kind} {} {}",
                if required == 1 { "not null" } else { "null" },
                default.unwrap_or_default()
            )
            .trim()
            .to_owned()
        })
        .collect();
    assert_eq!(
        columns,
        [
            "id INTEGER not null",
            "email varchar(255) not null",
            "hashed_password varchar(255) not null",
            "full_name varchar(255) null",
            "is_active boolean not null TRUE",
            "is_verified boolean not null FALSE",
            "is_superuser boolean not null FALSE",
            "created_at timestamp_with_timezone_text not null",
            "updated_at timestamp_with_timezone_text not null",
        ]
    );
}

/// The same round trip on the database `TEST_DATABASE_URL` names (SQLite otherwise),
/// checked through the schema manager so that it holds on every backend.
#[tokio::test]
async fn up_down_up_on_the_configured_backend() {
    let dir = tempfile::tempdir().unwrap();
    let db = configured_database(dir.path(), None).await;
    let manager = SchemaManager::new(&db);
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(present(&manager).await, (true, true));
    Migrator::down(&db, None).await.expect("down");
    assert!(
        !manager.has_table("users").await.unwrap_or(true),
        "down drops users"
    );
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(present(&manager).await, (true, true));
}

async fn present(manager: &SchemaManager<'_>) -> (bool, bool) {
    let table = manager.has_table("users").await.unwrap();
    let index = manager.has_index("users", "ix_users_email").await.unwrap();
    (table, index)
}

async fn insert_legacy_user(db: &DatabaseConnection, email: &str) {
    let sql = format!(
        "INSERT INTO users (email, hashed_password, is_active, is_verified, is_superuser, created_at, updated_at) \
         VALUES ('{email}', '$2b$12$x', 1, 0, 0, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
    );
    execute(db, &sql, &format!("insert {email}")).await;
}

/// A SQLite database with the first migration applied and a user of each of `emails`.
async fn at_the_first_migration_with(emails: &[&str]) -> DatabaseConnection {
    let db = sqlite_memory().await;
    Migrator::up(&db, Some(1)).await.expect("up");
    for email in emails {
        insert_legacy_user(&db, email).await;
    }
    db
}

#[tokio::test]
async fn the_email_key_migration_fills_keys_of_existing_users() {
    let db = at_the_first_migration_with(&["Alice@Example.com", "bob@example.com"]).await;
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(
        keys(&db).await,
        [
            (
                "Alice@Example.com".to_owned(),
                Some("alice@example.com".to_owned())
            ),
            (
                "bob@example.com".to_owned(),
                Some("bob@example.com".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn the_email_key_migration_stops_on_accounts_that_differ_only_by_case() {
    let db = at_the_first_migration_with(&["carol@example.com", "Carol@example.com"]).await;
    let error = Migrator::up(&db, None).await.map_err(|e| e.to_string());
    assert_matches!(&error, Err(message) if message.contains("carol@example.com: users [1, 2]"), "names the clashing accounts: {error:?}");
    let columns = rows(
        &db,
        "SELECT name FROM pragma_table_info('users') WHERE name = 'email_key'",
    )
    .await;
    assert!(
        columns.is_empty(),
        "a refused migration leaves the table as it was"
    );
}

/// Inserts a user with the SPEC's columns only, as the original service writes one.
async fn insert_as_the_original(db: &DatabaseConnection, email: &str) {
    let sql = format!(
        "INSERT INTO users (email, hashed_password, full_name, is_active, is_verified, \
         is_superuser, created_at, updated_at) VALUES ('{email}', '$2b$12$x', NULL, true, false, \
         false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    );
    execute(db, &sql, &format!("insert {email}")).await;
}

async fn keys(db: &DatabaseConnection) -> Vec<(String, Option<String>)> {
    rows(db, "SELECT email, email_key FROM users ORDER BY id")
        .await
        .iter()
        .map(|row| {
            (
                row.try_get("", "email").unwrap_or_default(),
                row.try_get("", "email_key").unwrap_or_default(),
            )
        })
        .collect()
}

/// Migration 4 on the configured backend (applied alone, then rolled back alone): a row the original wrote under the old schema
/// (`''` key) gets its key; afterwards any number of rows without a key can be inserted;
/// `down` gives them keys and restores `NOT NULL DEFAULT ''`.
#[tokio::test]
async fn the_nullable_email_key_migration_lets_the_original_insert_any_number_of_users() {
    let dir = tempfile::tempdir().unwrap();
    let db = configured_database(dir.path(), Some(1)).await;
    Migrator::up(&db, Some(3)).await.expect("up to 3");
    insert_as_the_original(&db, "Before@Example.com").await;
    Migrator::up(&db, Some(1)).await.expect("up");
    insert_as_the_original(&db, "one@example.com").await;
    insert_as_the_original(&db, "two@example.com").await;
    assert_eq!(
        keys(&db).await,
        [
            (
                "Before@Example.com".to_owned(),
                Some("before@example.com".to_owned())
            ),
            ("one@example.com".to_owned(), None),
            ("two@example.com".to_owned(), None),
        ]
    );
    Migrator::down(&db, Some(1)).await.expect("down");
    let filled = keys(&db).await;
    assert!(
        filled
            .iter()
            .all(|(email, key)| key.as_deref() == Some(email.to_lowercase().as_str())),
        "down gives every row its key: {filled:?}"
    );
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(keys(&db).await.len(), 3);
}
