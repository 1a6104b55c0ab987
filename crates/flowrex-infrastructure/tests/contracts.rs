//! Every store port's contract suite (`flowrex_domain::test_support::contracts`) over the
//! sea-orm adapters on a real, migrated database (SQLite, or the server named by
//! `TEST_DATABASE_URL`): the same rules the in-memory fakes are held to, each over a fresh
//! database.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use flowrex_domain::test_support::contracts::{Stores, check_all};
use flowrex_infrastructure::{
    SeaOrmAuditLog, SeaOrmFederationStore, SeaOrmMfaStore, SeaOrmOutbox, SeaOrmPasskeyStore,
    SeaOrmSessionStore, SeaOrmUserRepository, test_support,
};
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sea_orm_adapters_keep_every_store_contract() {
    // The databases' directories live until the end of the test.
    let dirs: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());
    check_all(|| async {
        let (db, dir) = support::migrated_pool().await;
        dirs.lock().unwrap().push(dir);
        let users = Arc::new(SeaOrmUserRepository::new(db.clone()));
        Stores {
            users: users.clone(),
            sessions: Arc::new(SeaOrmSessionStore::new(db.clone())),
            accounts: Arc::new(test_support::account_store(db.clone())),
            factors: Arc::new(SeaOrmMfaStore::new(db.clone())),
            passkeys: Arc::new(SeaOrmPasskeyStore::new(db.clone())),
            federation: Arc::new(SeaOrmFederationStore::new(db.clone())),
            outbox: Arc::new(SeaOrmOutbox::new(db.clone(), test_support::test_sealer())),
            audit: Arc::new(SeaOrmAuditLog::new(db)),
            directory: users,
        }
    })
    .await;
}
