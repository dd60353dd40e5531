//! The tests' shared harness, so that no crate's tests grow their own copy: the Redis the tests use
//! ([`redis_url`]) and a key prefix no other test uses ([`unique_prefix`]); the job queue, event bus
//! and state store, in process or on Redis ([`Backends`]); the Secret Server emulator's token
//! request ([`emulator`]); every value under a prefix, for the checks of secrets at rest
//! ([`at_rest`]); with the `stack` feature, the one stack spawner ([`stack`]: the emulator,
//! the adapter bound to it and the gateway, each on port 0) that the gateway's and the adapter's
//! harnesses stand on; with the `trace` feature, span export to an
//! in-process OTLP receiver ([`trace`]).
//!
//! It is a dev-dependency only: integration tests (`tests/`) and benches use it, never a
//! production crate's library nor its unit tests.

pub mod at_rest;
pub mod backends;
pub mod emulator;
#[cfg(feature = "stack")]
pub mod stack;
#[cfg(feature = "trace")]
pub mod trace;

pub use backends::{Backend, Backends};

/// Where the tests find Redis when `REDIS_URL` does not say.
pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379";

/// The Redis the tests use: `REDIS_URL`, or the local default. A test that needs Redis fails when
/// it is missing; it never skips.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| LOCAL_REDIS.to_owned())
}

/// The Redis settings of [`redis_url`].
pub fn redis_settings() -> job_queue::RedisSettings {
    job_queue::RedisSettings::url(redis_url())
}

/// A key prefix no other test (nor an earlier run) uses: `<label>-<32 hex digits>`.
pub fn unique_prefix(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

/// Sends `request` and reads the answer's body as JSON.
///
/// # Panics
/// When the request cannot be sent or the body is not JSON.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.expect("the request is sent").json().await.expect("a JSON body")
}

/// Polls `check` until it yields a value and returns it, or `None` once `within` has passed. For
/// conditions that another task or process brings about on its own schedule.
pub async fn poll_until<T, F, Fut>(within: std::time::Duration, every: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
