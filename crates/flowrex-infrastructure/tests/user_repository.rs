//! Contract tests of the sea-orm user repository on a real, migrated SQLite database (users
//! are written through the account store, as the service does).

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_matches::assert_matches;

mod support;

use chrono::{SubsecRound, Utc};
use flowrex_domain::ports::{AccountStore, AccountStoreError, Changes, UserRepository};
use flowrex_domain::{EmailAddress, FullName, NewUser, PasswordHash, User, UserId};
use flowrex_infrastructure::database::{self, DatabaseSettings, DatabaseUrl};
use flowrex_infrastructure::{SeaOrmAccountStore, SeaOrmUserRepository, test_support};
use tempfile::TempDir;

/// The repository, with an `insert` of the account store beside it.
#[derive(Clone)]
struct Users {
    repository: SeaOrmUserRepository,
    accounts: SeaOrmAccountStore,
}

impl std::ops::Deref for Users {
    type Target = SeaOrmUserRepository;
    fn deref(&self) -> &Self::Target {
        &self.repository
    }
}

impl Users {
    async fn insert(&self, new: NewUser) -> Result<User, AccountStoreError> {
        let at = new.created_at;
        let changes = Changes {
            insert_user: Some(new),
            ..Changes::default()
        };
        Ok(self
            .accounts
            .apply(changes, at)
            .await?
            .user
            .expect("inserted"))
    }
}

async fn repository() -> (Users, sea_orm::DatabaseConnection, TempDir) {
    let (db, dir) = support::migrated_pool().await;
    let users = Users {
        repository: SeaOrmUserRepository::new(db.clone()),
        accounts: test_support::account_store(db.clone()),
    };
    (users, db, dir)
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: EmailAddress::parse(email).unwrap(),
        password_hash: PasswordHash::new("$2b$04$hash".to_owned()),
        full_name: Some(FullName::parse("Ada".to_owned()).unwrap()),
        created_at: Utc::now().trunc_subsecs(6),
        is_superuser: false,
        is_verified: false,
    }
}

#[tokio::test]
async fn an_inserted_user_is_found_by_email_and_id() {
    let (users, _db, _dir) = repository().await;
    let new = new_user("ada@example.com");
    let created_at = new.created_at;
    let user = users.insert(new).await.expect("insert");
    assert_eq!(user.email().as_str(), "ada@example.com");
    assert_eq!(user.full_name(), Some("Ada"));
    assert!(user.is_active() && !user.is_verified() && !user.is_superuser());
    assert_eq!(
        user.created_at(),
        created_at,
        "timestamps read back exactly"
    );
    assert_eq!(user.updated_at(), created_at);

    let by_email = users.find_by_email(user.email()).await.ok().flatten();
    let by_id = users.find_by_id(user.id()).await.ok().flatten();
    assert_eq!(by_email.as_ref(), Some(&user));
    assert_eq!(by_id.as_ref(), Some(&user));
}

#[tokio::test]
async fn unknown_users_are_none_even_beyond_the_id_range() {
    let (users, _db, _dir) = repository().await;
    let email = EmailAddress::parse("nobody@example.com").unwrap();
    assert_matches!(users.find_by_email(&email).await, Ok(None));
    assert_matches!(users.find_by_id(UserId::new(7)).await, Ok(None));
    assert_matches!(users.find_by_id(UserId::new(i64::MAX)).await, Ok(None));
}

#[tokio::test]
async fn a_second_insert_of_an_email_is_email_taken() {
    let (users, _db, _dir) = repository().await;
    users.insert(new_user("dup@example.com")).await.unwrap();
    let second = users.insert(new_user("dup@example.com")).await;
    assert_matches!(second, Err(AccountStoreError::EmailTaken));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_inserts_of_one_email_store_exactly_one() {
    let (users, _db, _dir) = repository().await;
    let inserts = (0..20).map(|_| {
        let users = users.clone();
        tokio::spawn(async move { users.insert(new_user("race@example.com")).await })
    });
    let results = futures::future::join_all(inserts).await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(AccountStoreError::EmailTaken))))
        .count();
    assert_eq!((ok, taken), (1, 19));
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    let url = DatabaseUrl::parse("postgres://nobody@127.0.0.1:1/none").unwrap();
    let mut settings = DatabaseSettings::new(url);
    settings.acquire_timeout = std::time::Duration::from_millis(300);
    // Connecting fails fast; the error is the driver's, reported by `connect`.
    assert!(database::connect(&settings).await.is_err());
}
