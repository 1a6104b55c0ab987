//! The Redis connection: one auto-reconnecting multiplexed connection per process, made
//! lazily so that the service starts (and falls back) while Redis is down.

use std::time::Duration;

use anyhow::Context;
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
