//! One contract suite per store port: each rule the ports' docs state (the MUST lists of
//! [`crate::ports`]), run against the in-memory fakes (this crate's tests) and against the
//! sea-orm adapters on SQLite, PostgreSQL and MariaDB (the infrastructure crate's
//! `tests/contracts.rs`), so that a rule is written once and checked everywhere. A contract
//! gets fresh stores and fails by panicking with what should have happened.
//!
//! The suites: [`accounts`] (atomic changes, tokens, the stamp, superusers, factors and
//! passkeys changed with the account), [`sessions`], [`factors`] (TOTP steps, sign-in
//! challenges), [`passkeys`] (credentials and ceremonies), [`outbox`] and [`audit`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

use crate::ports::{
    AccountStore, AuditLog, Changes, FederationStore, MfaStore, OutboxStore, PasskeyStore,
    SessionStore, UserDirectory, UserRepository,
};
use crate::{EmailAddress, NewUser, PasswordHash, User};

pub mod accounts;
pub mod audit;
pub mod factors;
pub mod federation;
pub mod outbox;
pub mod passkeys;
pub mod sessions;

/// The stores a suite runs over, all on one database.
pub struct Stores {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Account changes.
    pub accounts: Arc<dyn AccountStore>,
    /// Second factors.
    pub factors: Arc<dyn MfaStore>,
    /// Passkeys.
    pub passkeys: Arc<dyn PasskeyStore>,
    /// Linked identities and their flows.
    pub federation: Arc<dyn FederationStore>,
    /// The mail outbox.
    pub outbox: Arc<dyn OutboxStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// The user directory.
    pub directory: Arc<dyn UserDirectory>,
}

/// A contract: a named rule, checked over fresh stores.
pub type Contract = (
    &'static str,
    for<'a> fn(&'a Stores) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
);

/// Panics unless `$value` matches `$pattern`, printing what it was instead.
macro_rules! assert_matches {
    ($value:expr, $pattern:pat) => {
        assert_matches!($value, $pattern, "")
    };
    ($value:expr, $pattern:pat, $($message:tt)+) => {
        match $value {
            $pattern => {}
            #[allow(unreachable_patterns)]
            ref other => panic!(
                "expected {}, got {other:?} {}",
                stringify!($pattern),
                format_args!($($message)+)
            ),
        }
    };
}
pub(crate) use assert_matches;

/// Declares `$list`, the contracts of the async functions named, each run over fresh stores.
macro_rules! contracts {
    ($list:ident: $($name:ident),+ $(,)?) => {
        /// The contracts of this suite.
        pub const $list: &[super::Contract] = &[
            $((stringify!($name), |stores| Box::pin($name(stores)))),+
        ];
    };
}
pub(crate) use contracts;

/// Runs every contract of every suite, each over the stores `fresh` makes; panics with
/// the first broken one (its name first, on standard error).
pub async fn check_all<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Stores>,
{
    let suites = [
        accounts::CONTRACTS,
        sessions::CONTRACTS,
        factors::CONTRACTS,
        passkeys::CONTRACTS,
        federation::CONTRACTS,
        outbox::CONTRACTS,
        audit::CONTRACTS,
    ];
    for (name, contract) in suites.into_iter().flatten() {
        eprintln!("contract: {name}");
        contract(&fresh().await).await;
    }
}

/// Now, as every backend stores it (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Inserts an unverified user `email` (password hash `hash-of-<email>`).
pub(crate) async fn user(stores: &Stores, email: &str) -> User {
    insert(stores, email, false).await
}

/// Inserts a user `email`, a superuser when `superuser`.
pub(crate) async fn insert(stores: &Stores, email: &str, superuser: bool) -> User {
    let changes = Changes {
        insert_user: Some(NewUser {
            email: EmailAddress::parse(email).unwrap(),
            password_hash: PasswordHash::new(format!("hash-of-{email}")),
            full_name: None,
            created_at: now(),
            is_superuser: superuser,
            is_verified: false,
        }),
        ..Changes::default()
    };
    stores
        .accounts
        .apply(changes, now())
        .await
        .unwrap()
        .user
        .expect("the inserted user")
}

/// `user` as stored now.
pub(crate) async fn reread(stores: &Stores, user: &User) -> User {
    stores
        .users
        .find_by_id(user.id())
        .await
        .unwrap()
        .expect("the user is stored")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Stores, check_all};
    use crate::test_support::InMemoryStore;

    #[tokio::test]
    async fn the_in_memory_fakes_keep_every_store_contract() {
        check_all(|| async {
            let store = Arc::new(InMemoryStore::default());
            Stores {
                users: store.clone(),
                sessions: store.clone(),
                accounts: store.clone(),
                factors: store.clone(),
                passkeys: store.clone(),
                federation: store.clone(),
                outbox: store.clone(),
                audit: store.clone(),
                directory: store,
            }
        })
        .await;
    }
}
