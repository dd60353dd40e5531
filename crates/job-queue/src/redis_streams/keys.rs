//! Every Redis name the backend uses, in one place, all under the configured prefix.

use crate::QueueConfig;

/// The consumer group of the workers on a job stream.
pub(crate) const WORKER_GROUP: &str = "workers";

#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `<prefix>:q:<queue>`; the Lua scripts derive the per-job keys from it.
    pub(crate) base: String,
    pub(crate) ready: String,
    pub(crate) dead: String,
    pub(crate) done_channel: String,
    pub(crate) events: String,
}

impl Keys {
    pub(crate) fn new(config: &QueueConfig) -> Self {
        let base = format!("{}:q:{}", config.prefix, config.queue);
        Self {
            ready: format!("{base}:ready"),
            dead: format!("{base}:dead"),
            done_channel: format!("{base}:done"),
            events: format!("{}:ev:{}", config.prefix, config.events_stream),
            base,
        }
    }

    pub(crate) fn job(&self, id: &str) -> String {
        format!("{}:job:{id}", self.base)
    }
}
