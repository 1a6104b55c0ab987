//! Readiness probes (`GET /health/ready`): the [`Probe`] port and its adapters for the
//! database and Redis, each bounded in time.

use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use sea_orm::DatabaseConnection;

use crate::redis_connection::ConnectionManager;

/// A dependency is not ready.
#[derive(Debug, thiserror::Error)]
#[error("{0} unavailable")]
pub struct ProbeError(pub &'static str, #[source] pub anyhow::Error);

/// A readiness check of one dependency.
#[async_trait]
pub trait Probe: Send + Sync {
    /// The dependency's name, as reported by `GET /health/ready`.
    fn name(&self) -> &'static str;

    /// Checks that the dependency answers, within a bounded time.
    ///
    /// # Errors
    /// [`ProbeError`] when it does not.
    async fn check(&self) -> Result<(), ProbeError>;
}

/// Readiness of the database: a ping through the pool, bounded by the acquire timeout.
pub struct DatabaseProbe {
    db: DatabaseConnection,
    timeout: Duration,
}

impl DatabaseProbe {
    /// A probe over the pool, giving up after `timeout`.
    pub fn new(db: DatabaseConnection, timeout: Duration) -> Self {
        Self { db, timeout }
    }
}

#[async_trait]
impl Probe for DatabaseProbe {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), ProbeError> {
        match tokio::time::timeout(self.timeout, self.db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ProbeError("database", anyhow!(error))),
            Err(_) => Err(ProbeError("database", anyhow!("timed out"))),
        }
    }
}

/// Readiness of Redis: `PING`.
pub struct RedisProbe {
    connection: ConnectionManager,
    timeout: Duration,
}

impl RedisProbe {
    /// A probe over `connection`, giving up after `timeout`.
    pub fn new(connection: ConnectionManager, timeout: Duration) -> Self {
        Self {
            connection,
            timeout,
        }
    }
}

#[async_trait]
impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), ProbeError> {
        let mut connection = self.connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        match tokio::time::timeout(self.timeout, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(ProbeError("redis", anyhow!(error))),
            Err(_) => Err(ProbeError("redis", anyhow!("timed out"))),
        }
    }
}
