//! Connecting to Redis (through `redis-connect`: URL or Sentinel, TLS, ACL user) and retrying
//! a call while the connection is lost.

use crate::{QueueConfig, QueueError};
use redis::aio::ConnectionManagerConfig;
use redis::{ErrorKind, RedisError, ServerErrorKind};
use redis_connect::{Connection, Redis};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Prepares the connections of the configured Redis. Errors never echo the URL: it may hold a password.
pub(crate) fn redis(config: &QueueConfig) -> Result<Redis, QueueError> {
    let settings = config.redis.as_ref().ok_or_else(|| QueueError::Config("no Redis is configured".to_owned()))?;
    Redis::new(settings).map_err(|e| QueueError::Config(e.to_string()))
}

/// A self-healing multiplexed connection (it follows a Sentinel failover). `response_timeout`
/// must exceed any `BLOCK` sent on it.
pub(crate) async fn manager(redis: &Redis, response_timeout: Duration) -> Result<Connection, QueueError> {
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(4)
        .set_max_delay(Duration::from_secs(2))
        // The default (50) throttles a busy process's submissions and outcomes.
        .set_pipeline_buffer_size(1024);
    redis.connect(config).await.map_err(|e| unavailable("connect", &e))
}

/// Whether the same call may succeed after a reconnect or a short wait.
pub(crate) fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
                    | ServerErrorKind::ClusterDown
                    // A primary that has not seen the script yet (a failover between loading it and
                    // running it): the next attempt loads it again.
                    | ServerErrorKind::NoScript
            )
        )
}

pub(crate) fn is_nogroup(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP")
}

pub(crate) fn unavailable(what: &str, e: &RedisError) -> QueueError {
    QueueError::Unavailable(format!("redis {what}: {e}"))
}

/// Runs `call` until it succeeds, fails for good, or `budget` runs out while
/// Redis is unreachable. Only calls that are safe to repeat go through here.
pub(crate) async fn retrying<T, F, Fut>(what: &str, budget: Duration, mut call: F) -> Result<T, QueueError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let deadline = Instant::now() + budget;
    let mut delay = Duration::from_millis(50);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(e) if is_transient(&e) && Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, operation = what, retry_in_ms = delay.as_millis() as u64, "redis unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(unavailable(what, &e)),
        }
    }
}
