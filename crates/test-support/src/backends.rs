//! The job queue, the event bus and the state store a test runs on: in process, or on Redis
//! under a fresh key prefix, as a multi-replica deployment has them.

use job_queue::{EventBus, JobQueue, QueueConfig};
use state_store::StateStore;
use std::sync::Arc;

/// Where the queue, the events and the state live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// In this process: the queue and events in memory, the state in an in-memory SQLite.
    #[default]
    InProcess,
    /// On Redis ([`crate::redis_url`]) under a fresh key prefix; the test fails when Redis is missing.
    Redis,
}

/// The three backends, opened together.
#[derive(Debug, Clone)]
pub struct Backends {
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub state: Arc<dyn StateStore>,
    /// The key prefix in Redis, when they are on Redis.
    pub redis_prefix: Option<String>,
}

impl Backends {
    /// Opens the backends of `backend` with the queue settings of `config` (its `redis` and
    /// `prefix` are set here); on Redis, under a fresh prefix that starts with `label`.
    ///
    /// # Panics
    /// When a backend cannot open, Redis being missing included: the test cannot go on without it.
    pub async fn open(backend: Backend, label: &str, config: &QueueConfig) -> Self {
        match backend {
            Backend::InProcess => {
                let config = QueueConfig { redis: None, ..config.clone() };
                let queue = job_queue::connect(&config).await.expect("the in-process queue opens");
                let state = state_store::open(None, &config.prefix, None).await.expect("the in-memory state opens");
                Self { queue: queue.queue, events: queue.events, state, redis_prefix: None }
            }
            Backend::Redis => {
                let redis = crate::redis_settings();
                let prefix = crate::unique_prefix(label);
                let config = QueueConfig { redis: Some(redis.clone()), prefix: prefix.clone(), ..config.clone() };
                let queue = job_queue::connect(&config).await.unwrap_or_else(|e| needs_redis(e));
                let state = state_store::open(Some(&redis), &prefix, None).await.unwrap_or_else(|e| needs_redis(e));
                Self { queue: queue.queue, events: queue.events, state, redis_prefix: Some(prefix) }
            }
        }
    }

    /// An event bus alone, on Redis under a fresh prefix that starts with `label`.
    ///
    /// # Panics
    /// When Redis is missing.
    pub async fn redis_event_bus(label: &str) -> Arc<dyn EventBus> {
        let config = QueueConfig {
            redis: Some(crate::redis_settings()),
            prefix: crate::unique_prefix(label),
            ..QueueConfig::default()
        };
        job_queue::connect(&config).await.unwrap_or_else(|e| needs_redis(e)).events
    }
}

/// Fails the test, saying which Redis it needs.
///
/// # Panics
/// Always.
pub fn needs_redis(error: impl std::fmt::Display) -> ! {
    panic!("this test needs Redis at {} (set REDIS_URL): {error}", crate::redis_url())
}
