//! Account changes on sea-orm: every [`Changes`] set in one database transaction — the
//! user and its security stamp, its tokens, second factors, passkeys and sessions, and the
//! mails queued in the outbox — or none of it.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{AccountStore, AccountStoreError, Applied, Changes, UserUpdate};
use flowrex_domain::{
    EmailLoginKey, EventSubject, FullName, NewOneTimeToken, SecurityStamp, StoredEmailLogin,
    StoredToken, TokenFingerprint, TokenOwner, TokenPurpose, User, UserId,
};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use crate::database::unique_row;
use crate::db_error::{is_unavailable, violates_unique};
use crate::entity::outbox::queued_row;
use crate::entity::users::{EMAIL_COLUMNS, EMAIL_INDEXES, hold_stamp, id_column, move_stamp_on};
use crate::entity::{mfa_challenges, one_time_tokens, outbox, sessions, users};
use crate::event_queue::{EventRouting, announce};
use crate::event_rows::{EventRow, insert_events, log_rows};
use crate::secret_box::SecretBox;

mod email_logins;
mod identities;
mod passkeys;
mod second_factors;

use identities::{apply_identity, delete_flows, delete_identities};
use passkeys::{apply_passkey, delete_passkeys};
use second_factors::{apply_recovery_codes, apply_totp, delete_challenges, delete_factors};

/// Accounts in the `users`, `sessions`, `one_time_tokens` and `outbox` tables.
#[derive(Clone)]
pub struct SeaOrmAccountStore {
    db: DatabaseConnection,
    sealer: Arc<SecretBox>,
    routing: EventRouting,
}

impl SeaOrmAccountStore {
    /// A store over a pool; queued mails are sealed with `sealer`. The account events it
    /// queues go to the webhook endpoints only, until [`Self::routing_events`].
    pub fn new(db: DatabaseConnection, sealer: Arc<SecretBox>) -> Self {
        Self {
            db,
            sealer,
            routing: EventRouting::default(),
        }
    }

    /// The store, queueing account events for the sinks `routing` names.
    #[must_use]
    pub fn routing_events(mut self, routing: EventRouting) -> Self {
        self.routing = routing;
        self
    }
}

/// What a database error means here: a taken email key, a lost connection, or a bug.
fn account_error(error: DbErr) -> AccountStoreError {
    if violates_unique(&error, &EMAIL_INDEXES, &EMAIL_COLUMNS) {
        AccountStoreError::EmailTaken
    } else if is_unavailable(&error) {
        AccountStoreError::Unavailable(anyhow!(error))
    } else {
        AccountStoreError::Unexpected(anyhow!(error))
    }
}

fn user_column(id: UserId) -> Result<i32, AccountStoreError> {
    id_column(id).ok_or_else(|| AccountStoreError::Unexpected(anyhow!("user id out of range")))
}

fn stored_token(row: one_time_tokens::Model) -> Option<StoredToken> {
    Some(StoredToken {
        id: row.id,
        user: UserId::new(i64::from(row.user_id)),
        purpose: TokenPurpose::parse(&row.purpose)?,
        expires_at: row.expires_at,
        used_at: row.used_at,
        new_email: row.new_email,
        stamp: SecurityStamp::new(row.stamp),
    })
}

#[async_trait]
impl AccountStore for SeaOrmAccountStore {
    async fn find_token(
        &self,
        fingerprint: &TokenFingerprint,
        purpose: TokenPurpose,
    ) -> Result<Option<StoredToken>, AccountStoreError> {
        let select = || {
            one_time_tokens::Entity::find()
                .filter(one_time_tokens::Column::TokenHash.eq(fingerprint.as_str()))
                .filter(one_time_tokens::Column::Purpose.eq(purpose.as_str()))
        };
        unique_row(select, &self.db)
            .await
            .map(|row| row.and_then(stored_token))
            .map_err(account_error)
    }

    async fn find_email_login(
        &self,
        key: EmailLoginKey,
    ) -> Result<Option<StoredEmailLogin>, AccountStoreError> {
        email_logins::find(&self.db, key).await
    }

    async fn reserve_code_try(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, AccountStoreError> {
        email_logins::reserve_code_try(&self.db, id, at).await
    }

    async fn purge_email_logins(&self, before: DateTime<Utc>) -> Result<u64, AccountStoreError> {
        email_logins::purge(&self.db, before).await
    }

    async fn apply(
        &self,
        changes: Changes,
        at: DateTime<Utc>,
    ) -> Result<Applied, AccountStoreError> {
        let txn = self.db.begin().await.map_err(account_error)?;
        let (applied, events, announced) = self.apply_in(&txn, changes, at).await?;
        txn.commit().await.map_err(account_error)?;
        log_rows(&events);
        if announced && let Some(wake) = &self.routing.wake {
            wake.notify_one();
        }
        Ok(applied)
    }
}

impl SeaOrmAccountStore {
    /// The steps of [`AccountStore::apply`], in its documented order, inside `txn` (an
    /// error drops `txn` uncommitted: nothing happened).
    async fn apply_in(
        &self,
        txn: &DatabaseTransaction,
        changes: Changes,
        at: DateTime<Utc>,
    ) -> Result<(Applied, Vec<EventRow>, bool), AccountStoreError> {
        // Row locks in one order for every change set (the superusers' first, then the
        // user's), so that two sets cannot wait on each other.
        if changes.keep_a_superuser {
            lock_superusers(txn).await?;
        }
        if let Some(issued) = changes.issued_under
            && !hold_stamp(txn, user_column(issued.user)?, issued.stamp)
                .await
                .map_err(account_error)?
        {
            return Err(AccountStoreError::StampMoved);
        }
        // A credential event's user row next, before any other row of theirs (passkeys,
        // sessions, factors) is written: the order every change set locks in.
        if let Some(user) = changes.credential_event() {
            move_stamp_on(txn, user_column(user)?)
                .await
                .map_err(account_error)?;
        }
        // What the changes announce, and the user's row before them (locked, so that
        // what they change is read off a row no one else changes meanwhile).
        let plan = changes.event_plan();
        let before = match plan.read_before() {
            Some(user) => user_row(txn, user_column(user)?, true).await?,
            None => None,
        };
        if let Some(id) = changes.consume_token {
            let consumed = one_time_tokens::Entity::update_many()
                .col_expr(one_time_tokens::Column::UsedAt, Expr::value(at))
                .filter(one_time_tokens::Column::Id.eq(id))
                .filter(one_time_tokens::Column::UsedAt.is_null())
                .exec(txn)
                .await
                .map_err(account_error)?;
            if consumed.rows_affected != 1 {
                return Err(AccountStoreError::TokenUsed);
            }
        }
        if let Some(id) = changes.consume_email_login {
            email_logins::consume(txn, id, at).await?;
        }
        if let Some(change) = changes.totp {
            apply_totp(txn, change, at).await?;
        }
        if let Some(change) = changes.recovery_codes {
            apply_recovery_codes(txn, change, at).await?;
        }
        if let Some(id) = changes.complete_challenge
            && !mfa_challenges::complete(txn, id, at)
                .await
                .map_err(account_error)?
        {
            return Err(AccountStoreError::TokenUsed);
        }
        let passkey = match changes.passkey {
            Some(change) => apply_passkey(txn, change, at).await?,
            None => None,
        };
        if let Some(user) = changes.reclaim {
            let user = user_column(user)?;
            delete_factors(txn, user).await?;
            delete_passkeys(txn, user).await?;
            delete_identities(txn, user).await?;
        }
        let mut touched = None;
        let mut inserted = None;
        if let Some(new) = changes.insert_user {
            let row = users::ActiveModel {
                email: Set(new.email.as_str().to_owned()),
                email_key: Set(Some(new.email.key().to_owned())),
                hashed_password: Set(new.password_hash.as_str().to_owned()),
                full_name: Set(new.full_name.map(FullName::into_inner)),
                is_active: Set(true),
                is_verified: Set(new.is_verified),
                is_superuser: Set(new.is_superuser),
                created_at: Set(new.created_at),
                updated_at: Set(new.created_at),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(account_error)?;
            touched = Some(row.id);
            inserted = Some(row.id);
        }
        if let Some(update) = changes.update_user {
            touched = Some(update_user(txn, update, at).await?);
        }
        if let Some(change) = changes.identity {
            apply_identity(txn, change, inserted, at).await?;
        }
        for token in changes.issue_tokens {
            issue_token(txn, token, touched, at).await?;
        }
        if let Some(login) = changes.issue_email_login {
            email_logins::issue(txn, login, at).await?;
        }
        let mut revoked = 0;
        if let Some(revocation) = changes.revoke_sessions {
            let mut update = sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(at))
                .col_expr(
                    sessions::Column::RevokedReason,
                    Expr::value(revocation.reason.as_str()),
                )
                .filter(sessions::Column::UserId.eq(user_column(revocation.user)?))
                .filter(sessions::Column::RevokedAt.is_null());
            if let Some(keep) = &revocation.keep {
                update = update.filter(sessions::Column::Id.ne(keep.as_str()));
            }
            revoked = update.exec(txn).await.map_err(account_error)?.rows_affected;
        }
        for mail in &changes.mails {
            outbox::Entity::insert(queued_row(&self.sealer, mail, at))
                .exec(txn)
                .await
                .map_err(account_error)?;
        }
        if let Some(id) = changes.delete_user {
            // The foreign keys cascade too; deleted by name so that no backend setting
            // (SQLite's `foreign_keys` pragma) can leave a session behind.
            let id = user_column(id)?;
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(account_error)?;
            one_time_tokens::Entity::delete_many()
                .filter(one_time_tokens::Column::UserId.eq(id))
                .exec(txn)
                .await
                .map_err(account_error)?;
            email_logins::delete_of(txn, id).await?;
            delete_factors(txn, id).await?;
            delete_challenges(txn, id).await?;
            delete_passkeys(txn, id).await?;
            delete_identities(txn, id).await?;
            delete_flows(txn, id).await?;
            users::Entity::delete_by_id(id)
                .exec(txn)
                .await
                .map_err(account_error)?;
        }
        if changes.keep_a_superuser && active_superusers(txn).await? == 0 {
            // Dropped uncommitted: nothing happened.
            return Err(AccountStoreError::LastSuperuser);
        }
        let subject = match plan.subject() {
            Some(EventSubject::User(user)) => Some(user_column(user)?),
            Some(EventSubject::Inserted) => inserted,
            None => None,
        };
        // The touched user as stored now, read once: the answer, and the events' subject
        // after the changes when it is the same user.
        let user = match touched {
            Some(id) => user_row(txn, id, false).await?,
            None => None,
        };
        let mut announced = false;
        if let Some(subject) = subject {
            let after = match touched {
                Some(id) if id == subject => user.clone(),
                _ => user_row(txn, subject, false).await?,
            };
            let events = plan.events(before.as_ref(), after.as_ref(), passkey.as_ref(), at);
            announced = !events.is_empty();
            announce(txn, &events, &self.routing, at)
                .await
                .map_err(account_error)?;
        }
        let events = insert_events(txn, &changes.audit, at, inserted)
            .await
            .map_err(account_error)?;
        Ok((
            Applied {
                user,
                revoked,
                passkey,
            },
            events,
            announced,
        ))
    }
}

/// The user `id`, its row locked until `txn` ends when `lock`: `FOR UPDATE` on PostgreSQL
/// and MySQL/MariaDB; on SQLite a write of the row first (a read before the first write
/// would let two transactions deadlock on upgrading their locks).
async fn user_row(
    txn: &DatabaseTransaction,
    id: i32,
    lock: bool,
) -> Result<Option<User>, AccountStoreError> {
    let mut select = users::Entity::find_by_id(id);
    if lock && txn.get_database_backend() == DbBackend::Sqlite {
        users::Entity::update_many()
            .col_expr(users::Column::Id, Expr::col(users::Column::Id))
            .filter(users::Column::Id.eq(id))
            .exec(txn)
            .await
            .map_err(account_error)?;
    } else if lock {
        select = select.lock(LockType::Update);
    }
    select
        .one(txn)
        .await
        .map(|row| row.map(User::from))
        .map_err(account_error)
}

fn superusers() -> sea_orm::Select<users::Entity> {
    users::Entity::find()
        .filter(users::Column::IsSuperuser.eq(true))
        .filter(users::Column::IsActive.eq(true))
}

/// Locks the active superusers' rows until `txn` ends (PostgreSQL, MySQL/MariaDB; SQLite
/// has one writer at a time anyway), so that two changes that each remove one of the last
/// two superusers run one after the other and the second sees the first.
async fn lock_superusers(txn: &DatabaseTransaction) -> Result<(), AccountStoreError> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        return Ok(());
    }
    superusers()
        .order_by_asc(users::Column::Id)
        .lock(LockType::Update)
        .all(txn)
        .await
        .map(|_| ())
        .map_err(account_error)
}

async fn active_superusers(txn: &DatabaseTransaction) -> Result<u64, AccountStoreError> {
    superusers().count(txn).await.map_err(account_error)
}

/// Sets the fields `update` names, and `updated_at`; the row's id.
async fn update_user(
    txn: &DatabaseTransaction,
    update: UserUpdate,
    at: DateTime<Utc>,
) -> Result<i32, AccountStoreError> {
    let id = user_column(update.id)?;
    let mut statement = users::Entity::update_many()
        .col_expr(users::Column::UpdatedAt, Expr::value(at))
        .filter(users::Column::Id.eq(id));
    if let Some(hash) = update.password_hash.or(update.rehashed) {
        statement = statement.col_expr(
            users::Column::HashedPassword,
            Expr::value(hash.as_str().to_owned()),
        );
    }
    if let Some(email) = update.email {
        statement = statement
            .col_expr(users::Column::Email, Expr::value(email.as_str().to_owned()))
            .col_expr(users::Column::EmailKey, Expr::value(email.key().to_owned()));
    }
    if let Some(name) = update.full_name {
        statement = statement.col_expr(
            users::Column::FullName,
            Expr::value(name.map(FullName::into_inner)),
        );
    }
    if let Some(verified) = update.is_verified {
        statement = statement.col_expr(users::Column::IsVerified, Expr::value(verified));
    }
    if let Some(active) = update.is_active {
        statement = statement.col_expr(users::Column::IsActive, Expr::value(active));
    }
    if let Some(superuser) = update.is_superuser {
        statement = statement.col_expr(users::Column::IsSuperuser, Expr::value(superuser));
    }
    statement.exec(txn).await.map_err(account_error)?;
    Ok(id)
}

/// Stores `token`, first marking its owner's unused tokens of its purpose used: a new
/// link replaces the older ones.
async fn issue_token(
    txn: &DatabaseTransaction,
    token: NewOneTimeToken,
    inserted: Option<i32>,
    at: DateTime<Utc>,
) -> Result<(), AccountStoreError> {
    let stamp = token.owner.stamp();
    let owner = match token.owner {
        TokenOwner::User(issued) => user_column(issued.user)?,
        TokenOwner::Inserted => {
            inserted.ok_or_else(|| AccountStoreError::Unexpected(anyhow!("no user inserted")))?
        }
    };
    one_time_tokens::Entity::update_many()
        .col_expr(one_time_tokens::Column::UsedAt, Expr::value(at))
        .filter(one_time_tokens::Column::UserId.eq(owner))
        .filter(one_time_tokens::Column::Purpose.eq(token.purpose.as_str()))
        .filter(one_time_tokens::Column::UsedAt.is_null())
        .exec(txn)
        .await
        .map_err(account_error)?;
    one_time_tokens::ActiveModel {
        user_id: Set(owner),
        purpose: Set(token.purpose.as_str().to_owned()),
        token_hash: Set(token.fingerprint.as_str().to_owned()),
        new_email: Set(token.new_email),
        created_at: Set(at),
        expires_at: Set(token.expires_at),
        used_at: Set(None),
        stamp: Set(stamp.get()),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map(|_| ())
    .map_err(account_error)
}

impl std::fmt::Debug for SeaOrmAccountStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaOrmAccountStore").finish_non_exhaustive()
    }
}
