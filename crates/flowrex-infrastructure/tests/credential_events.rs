//! The stamp rule's table (`flowrex_domain::test_support::credential_events`) over the
//! sea-orm adapters on a real, migrated database (SQLite, or the server named by
//! `TEST_DATABASE_URL`): every kind of link, challenge and ceremony issued to a user is
//! refused after every kind of credential event, and honoured without one — the same
//! cases the domain runs over its in-memory fakes.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use flowrex_domain::test_support::credential_events::{Stores, run};
use flowrex_infrastructure::{
    SeaOrmAuditLog, SeaOrmFederationStore, SeaOrmMfaStore, SeaOrmOutbox, SeaOrmPasskeyStore,
    SeaOrmSessionStore, SeaOrmUserRepository, test_support,
};

#[tokio::test]
async fn everything_issued_dies_with_every_credential_event_on_the_database() {
    let (db, _dir) = support::migrated_pool().await;
    let stores = Stores {
        users: Arc::new(SeaOrmUserRepository::new(db.clone())),
        sessions: Arc::new(SeaOrmSessionStore::new(db.clone())),
        accounts: Arc::new(test_support::account_store(db.clone())),
        factors: Arc::new(SeaOrmMfaStore::new(db.clone())),
        passkeys: Arc::new(SeaOrmPasskeyStore::new(db.clone())),
        federation: Arc::new(SeaOrmFederationStore::new(db.clone())),
        outbox: Arc::new(SeaOrmOutbox::new(db.clone(), test_support::test_sealer())),
        audit: Arc::new(SeaOrmAuditLog::new(db.clone())),
        directory: Arc::new(SeaOrmUserRepository::new(db)),
    };
    let (failures, cases) = run(&stores).await;
    assert_eq!(cases, 73);
    assert!(failures.is_empty(), "{failures:#?}");
}
