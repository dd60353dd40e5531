//! The queue's settings, shared by both backends.

use crate::QueueError;
use redis_connect::RedisSettings;
use std::time::Duration;

/// Settings of one job queue and of the events stream beside it.
///
/// `redis` chooses the backend: `None` runs everything in-process.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// How to reach Redis (URL or Sentinel, TLS, ACL user); its secrets never appear in `Debug`.
    pub redis: Option<RedisSettings>,
    /// Replicas that must hold a submission before it is acknowledged to the submitter (Redis
    /// `WAIT`), so that a failover to a replica cannot lose an acknowledged job. `None`: 1 when
    /// Redis is reached through Sentinel, else 0.
    pub wait_replicas: Option<u32>,
    /// Every Redis key and channel starts with `<prefix>:`, so that tests and
    /// several deployments can share one Redis.
    pub prefix: String,
    /// The queue's name (`provisioning`); it labels metrics and keys.
    pub queue: String,
    /// The events stream's name (`events`).
    pub events_stream: String,
    /// A running job whose worker has not renewed its lease for this long is
    /// given to another worker. Also the idle time after which an event
    /// delivered to a consumer that vanished goes to another consumer of its group.
    pub visibility_timeout: Duration,
    /// Attempts (first run, retries and redeliveries) before a job is dead-lettered.
    pub max_attempts: u32,
    /// Backoff before the first retry; it doubles at every retry.
    pub backoff_base: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// Finished jobs' stream entries and events are kept at least this long
    /// (unfinished ones and events not acknowledged by every group, always).
    pub retention: Duration,
    /// Dead letters are kept this long for inspection.
    pub dead_letter_retention: Duration,
    /// A finished job's result, and its idempotency key, are kept this long.
    pub result_ttl: Duration,
    /// How often workers promote due retries written by other processes,
    /// reclaim stalled jobs, trim the streams and publish metrics.
    pub maintenance_interval: Duration,
    /// How long one call keeps retrying while Redis is unreachable before it
    /// gives up with [`QueueError::Unavailable`].
    pub op_timeout: Duration,
    /// The largest payload accepted by `submit` and `publish`.
    pub max_payload_bytes: usize,
    /// How long the jobs in progress may run on once a graceful shutdown of `run_workers` starts;
    /// those still running then are released: back to the queue at once, for another worker,
    /// instead of after their visibility timeout.
    pub release_after: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            redis: None,
            wait_replicas: None,
            prefix: "scimc".to_owned(),
            queue: "provisioning".to_owned(),
            events_stream: "events".to_owned(),
            visibility_timeout: Duration::from_secs(30),
            max_attempts: 8,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(60),
            retention: Duration::from_secs(24 * 3600),
            dead_letter_retention: Duration::from_secs(7 * 24 * 3600),
            result_ttl: Duration::from_secs(24 * 3600),
            maintenance_interval: Duration::from_secs(1),
            op_timeout: Duration::from_secs(10),
            max_payload_bytes: 4 * 1024 * 1024,
            release_after: Duration::from_secs(5),
        }
    }
}

impl QueueConfig {
    /// Replicas a submission waits for (see [`QueueConfig::wait_replicas`]).
    pub fn replicas_to_wait_for(&self) -> u32 {
        self.wait_replicas.unwrap_or_else(|| u32::from(self.redis.as_ref().is_some_and(RedisSettings::is_sentinel)))
    }

    /// Checks the settings once, at startup, so that a mistake fails with one
    /// line naming the setting instead of misbehaving later.
    ///
    /// # Errors
    /// [`QueueError::Config`] naming the first invalid setting.
    pub fn validate(&self) -> Result<(), QueueError> {
        let bad = |msg: String| Err(QueueError::Config(msg));
        for (name, value) in [("prefix", &self.prefix), ("queue", &self.queue), ("events_stream", &self.events_stream)]
        {
            if value.is_empty() || value.len() > 64 {
                return bad(format!("{name} must be 1 to 64 characters, got {} characters", value.len()));
            }
            if let Some(c) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
            {
                return bad(format!("{name} {value:?} contains {c:?}; use letters, digits, '-', '_', '.', ':'"));
            }
        }
        if self.visibility_timeout < Duration::from_millis(300) {
            return bad(format!("visibility_timeout must be at least 300ms, got {:?}", self.visibility_timeout));
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1".to_owned());
        }
        if self.backoff_base.is_zero() || self.backoff_base > self.backoff_max {
            return bad(format!(
                "backoff_base must be above zero and at most backoff_max ({:?} > {:?})",
                self.backoff_base, self.backoff_max
            ));
        }
        for (name, value) in [
            ("result_ttl", self.result_ttl),
            ("maintenance_interval", self.maintenance_interval),
            ("op_timeout", self.op_timeout),
        ] {
            if value < Duration::from_millis(1) {
                return bad(format!("{name} must be at least 1ms"));
            }
        }
        if self.max_payload_bytes == 0 {
            return bad("max_payload_bytes must be above zero".to_owned());
        }
        if let Some(redis) = &self.redis {
            redis.validate().map_err(|e| QueueError::Config(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        QueueConfig::default().validate().unwrap();
    }

    #[test]
    fn debug_never_shows_the_redis_url() {
        let config = QueueConfig {
            redis: Some(RedisSettings::url("redis://queue:hunter2@localhost")),
            ..QueueConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn submissions_wait_for_a_replica_with_sentinel_unless_told_otherwise() {
        let sentinel = RedisSettings::sentinel(redis_connect::SentinelSettings {
            addresses: vec!["127.0.0.1:26379".to_owned()],
            master_name: "scim".to_owned(),
            username: None,
            password: None,
        });
        let with_sentinel = QueueConfig { redis: Some(sentinel), ..QueueConfig::default() };
        assert_eq!(with_sentinel.replicas_to_wait_for(), 1);
        assert_eq!(QueueConfig { wait_replicas: Some(0), ..with_sentinel }.replicas_to_wait_for(), 0);
        let standalone = QueueConfig { redis: Some(RedisSettings::url("redis://localhost")), ..QueueConfig::default() };
        assert_eq!(standalone.replicas_to_wait_for(), 0);
    }

    #[test]
    fn an_invalid_redis_setting_is_refused_with_its_name() {
        let config = QueueConfig { redis: Some(RedisSettings::url("http://localhost")), ..QueueConfig::default() };
        assert!(matches!(config.validate(), Err(QueueError::Config(m)) if m.contains("redis_url")));
    }

    #[test]
    fn a_prefix_with_spaces_is_refused_with_its_name() {
        let config = QueueConfig { prefix: "my prefix".to_owned(), ..QueueConfig::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("prefix"), "{err}");
    }

    #[test]
    fn backoff_base_above_max_is_refused() {
        let config = QueueConfig {
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(1),
            ..QueueConfig::default()
        };
        assert!(matches!(config.validate(), Err(QueueError::Config(m)) if m.contains("backoff_base")));
    }

    #[test]
    fn zero_attempts_is_refused() {
        let config = QueueConfig { max_attempts: 0, ..QueueConfig::default() };
        assert!(matches!(config.validate(), Err(QueueError::Config(m)) if m.contains("max_attempts")));
    }
}
