//! What every role shares, from the resolved configuration ([`crate::config::load`]), and the
//! backends built from it.

use crate::cli::LogFormat;
use crate::config::Config;
use anyhow::Context;
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::Arc;

/// The settings every role shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub data_dir: PathBuf,
    pub redis_url: Option<SecretString>,
    pub redis_prefix: String,
    pub log_format: Option<LogFormat>,
}

impl Common {
    pub fn resolve(config: &Config) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            redis_url: config.redis_url.clone(),
            redis_prefix: config.redis_prefix.clone(),
            log_format: config.log_format,
        }
    }

    /// Logs and traces for `service`.
    pub fn telemetry(&self, service: &str) -> telemetry::TelemetrySettings {
        let settings = telemetry::TelemetrySettings::new(service, env!("CARGO_PKG_VERSION"));
        match self.log_format {
            Some(LogFormat::Json) => settings.with_log_format(telemetry::LogFormat::Json),
            Some(LogFormat::Pretty) => settings.with_log_format(telemetry::LogFormat::Pretty),
            None => settings,
        }
    }

    /// The queue's settings: Redis when a URL is configured, in-process otherwise.
    pub fn queue_config(&self) -> job_queue::QueueConfig {
        job_queue::QueueConfig {
            redis_url: self.redis_url.clone(),
            prefix: self.redis_prefix.clone(),
            ..job_queue::QueueConfig::default()
        }
    }

    /// The job queue and the events stream.
    pub async fn queue(&self) -> anyhow::Result<job_queue::Backends> {
        job_queue::connect(&self.queue_config()).await.context("cannot open the job queue (REDIS_URL)")
    }

    /// The shared state: Redis, or (without Redis) a SQLite file in the data directory that only
    /// this process may use.
    pub async fn state(&self) -> anyhow::Result<Arc<dyn state_store::StateStore>> {
        let local = self.data_dir.join("state.db");
        state_store::open(self.redis_url.as_ref(), &self.redis_prefix, Some(&local))
            .await
            .context("cannot open the state store (REDIS_URL or the data directory)")
    }

    /// Fails unless Redis is configured: a role running alone shares its queue and state with the others.
    pub fn require_redis(&self, role: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.redis_url.is_some(),
            "`scim-connector {role}` shares its queue and state with the other services through Redis: set \
             REDIS_URL (or --redis-url); `scim-connector dev` runs everything in one process without it"
        );
        Ok(())
    }
}
