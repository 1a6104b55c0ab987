//! The Redis connection: one auto-reconnecting multiplexed connection per process, made
//! lazily so that the service starts (and falls back) while Redis is down.

use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use flowrex_domain::ports::{Probe, ProbeError};
pub use redis::aio::ConnectionManager;
use redis::aio::ConnectionManagerConfig;

/// Opens a lazy connection to `url` whose commands fail within `timeout` while Redis is
/// unreachable, instead of waiting for it.
///
/// # Errors
/// When the URL is not a Redis URL.
pub fn connect(url: &str, timeout: Duration) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).context("REDIS_URL is not a Redis URL")?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(timeout);
    ConnectionManager::new_lazy_with_config(client, config).context("creating the Redis connection")
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
