//! What a database error means, on every backend: the connection or the server is gone
//! (answered 503, and a read may be retried once), a named unique key was violated, or
//! anything else. Drivers report these differently — PostgreSQL by SQLSTATE, MySQL/MariaDB
//! by error number, SQLite by result code, and all of them by I/O errors when a socket or
//! a file goes away — so the adapters ask here instead of matching `DbErr` themselves.

use std::future::Future;

use sea_orm::sqlx::Error as Sqlx;
use sea_orm::sqlx::error::DatabaseError;
use sea_orm::{DbErr, RuntimeErr};

/// PostgreSQL SQLSTATEs that mean the server is going away or cannot serve: class 08
/// (connection exception) is matched by prefix; then `57P01` admin shutdown (what
/// `pg_ctl stop -m fast` and a failover send), `57P02` crash shutdown, `57P03` cannot
/// connect now (starting up or shutting down), `57P05` idle session timeout, `53300` too
/// many connections, `53100` disk full, `25006` read-only transaction (a standby after a
/// failover).
const POSTGRES_GONE: [&str; 7] = [
    "57P01", "57P02", "57P03", "57P05", "53300", "53100", "25006",
];

/// MySQL/MariaDB error numbers of the same kind: 1053 server shutdown in progress, 1927
/// connection killed, 2006 server has gone away, 2013 lost connection during query, 2002
/// and 2003 cannot connect, 1040 too many connections, 1290 running with `--read-only`,
/// 1836 read-only mode, 4031 disconnected by the server for inactivity.
const MYSQL_GONE: [u16; 10] = [1053, 1927, 2006, 2013, 2002, 2003, 1040, 1290, 1836, 4031];

/// SQLite primary result codes of the same kind: 5 busy (after the busy timeout), 6
/// locked, 10 I/O error (any extended code), 13 disk full, 14 cannot open the file.
const SQLITE_GONE: [u32; 5] = [5, 6, 10, 13, 14];

fn sqlx_error(error: &DbErr) -> Option<&Sqlx> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Query(RuntimeErr::SqlxError(inner))
        | DbErr::Conn(RuntimeErr::SqlxError(inner)) => Some(inner.as_ref()),
        _ => None,
    }
}

/// Whether the database said, in its own terms, that it is gone or cannot serve.
fn database_is_gone(error: &dyn DatabaseError) -> bool {
    if let Some(mysql) = error.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
        return MYSQL_GONE.contains(&mysql.number());
    }
    if let Some(sqlite) = error.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>() {
        return sqlite
            .code()
            .and_then(|code| code.parse::<u32>().ok())
            .is_some_and(|code| SQLITE_GONE.contains(&(code & 0xff)));
    }
    error.code().is_some_and(|code| {
        let code = code.as_ref();
        code.starts_with("08") || POSTGRES_GONE.contains(&code)
    })
}

/// The connection a statement ran on turned out to be dead, or the server said it is going
/// away: the statement did not run, or its outcome is unknown. A read may be retried once
/// on another connection; a write must not be.
pub fn is_connection_lost(error: &DbErr) -> bool {
    match sqlx_error(error) {
        Some(Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::Protocol(_) | Sqlx::WorkerCrashed) => true,
        Some(Sqlx::Database(database)) => database_is_gone(database.as_ref()),
        _ => false,
    }
}

/// The database cannot serve now: a lost connection, a pool that timed out waiting for
/// one (the server is down or saturated) or was closed, a connect that failed. Answered
/// 503; it heals by itself when the database is back.
pub fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        _ => {
            is_connection_lost(error)
                || matches!(
                    sqlx_error(error),
                    Some(Sqlx::PoolTimedOut | Sqlx::PoolClosed)
                )
        }
    }
}

/// Whether `error` is a unique-key violation of one of `indexes` (their names, as
/// PostgreSQL and MySQL report them) or, for SQLite, which names columns rather than
/// indexes, of one of `columns` (`table.column`).
pub fn violates_unique(error: &DbErr, indexes: &[&str], columns: &[&str]) -> bool {
    let Some(Sqlx::Database(database)) = sqlx_error(error) else {
        return false;
    };
    if !matches!(
        database.kind(),
        sea_orm::sqlx::error::ErrorKind::UniqueViolation
    ) {
        return false;
    }
    if let Some(constraint) = database.constraint() {
        return indexes.contains(&constraint);
    }
    let message = database.message();
    // MySQL/MariaDB: "Duplicate entry 'x' for key 'ix_users_email_key'" (MySQL 8 writes
    // 'users.ix_users_email_key').
    if let Some((_, key)) = message.rsplit_once(" for key '") {
        let key = key.trim_end_matches('\'');
        let key = key.rsplit_once('.').map_or(key, |(_, name)| name);
        return indexes.contains(&key);
    }
    // SQLite: "UNIQUE constraint failed: users.email_key" (columns, comma-separated).
    if let Some((_, failed)) = message.split_once("constraint failed: ") {
        return failed
            .split(',')
            .map(str::trim)
            .any(|column| columns.contains(&column));
    }
    false
}

/// Runs a read, and once more if the connection it ran on turned out to be dead (a
/// database restart leaves every pooled connection dead; the pool replaces each one only
/// when it is next used). A read has no effect, so running it twice is safe; whatever the
/// second attempt answers is final.
///
/// # Errors
/// The second attempt's error, or the first one's when it was not a lost connection.
pub async fn read_retrying<T, F, Fut>(read: F) -> Result<T, DbErr>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    match read().await {
        Err(error) if is_connection_lost(&error) => {
            tracing::debug!(%error, "database connection lost during a read: retrying once");
            read().await
        }
        result => result,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn io_error() -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(Sqlx::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ))))
    }

    #[test]
    fn lost_connections_and_pool_timeouts_are_unavailable() {
        assert!(is_connection_lost(&io_error()));
        assert!(is_unavailable(&io_error()));
        let timed_out = DbErr::Query(RuntimeErr::SqlxError(Arc::new(Sqlx::PoolTimedOut)));
        assert!(is_unavailable(&timed_out));
        assert!(!is_connection_lost(&timed_out), "nothing to retry on");
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        assert!(!is_unavailable(&DbErr::Custom("bug".to_owned())));
        let decode = DbErr::Query(RuntimeErr::SqlxError(Arc::new(Sqlx::ColumnNotFound(
            "x".to_owned(),
        ))));
        assert!(!is_unavailable(&decode));
    }

    #[tokio::test]
    async fn a_read_on_a_lost_connection_is_retried_once_and_no_more() {
        let calls = AtomicU32::new(0);
        let result: Result<(), DbErr> = read_retrying(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(io_error())
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let calls = AtomicU32::new(0);
        let result = read_retrying(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(io_error())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.ok(), Some(7), "the retry's answer counts");

        let calls = AtomicU32::new(0);
        let result: Result<(), DbErr> = read_retrying(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(DbErr::Custom("bug".to_owned()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "other errors are final");
    }
}
