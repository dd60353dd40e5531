//! The factory the binary and the tests use: Redis when a URL is configured, in-process otherwise.

use crate::{
    EventBus, InProcessEventBus, InProcessQueue, JobQueue, QueueConfig, QueueError, RedisEventBus, RedisJobQueue,
};
use std::sync::Arc;

/// A queue and the events stream beside it, on the same backend.
#[derive(Debug, Clone)]
pub struct Backends {
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
}

/// Builds both backends from the settings: Redis when `redis` is set,
/// otherwise in-process (see [`crate::memory`] for what that cannot survive).
///
/// # Errors
/// [`QueueError::Config`] for invalid settings, [`QueueError::Unavailable`]
/// when Redis cannot be reached.
pub async fn connect(config: &QueueConfig) -> Result<Backends, QueueError> {
    config.validate()?;
    if config.redis.is_some() {
        let queue = RedisJobQueue::connect(config).await?;
        let events = RedisEventBus::connect(config).await?;
        Ok(Backends { queue: Arc::new(queue), events: Arc::new(events) })
    } else {
        tracing::info!(queue = %config.queue, "using the in-process job queue: nothing survives this process");
        Ok(Backends {
            queue: Arc::new(InProcessQueue::new(config)?),
            events: Arc::new(InProcessEventBus::new(config)?),
        })
    }
}
