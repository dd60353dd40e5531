//! What every role shares, from the resolved configuration ([`crate::config::load`]), and the
//! backends built from it.

use crate::cli::LogFormat;
use crate::config::{Config, read_secret_file};
use anyhow::{Context, bail};
use job_queue::{RedisSettings, SentinelSettings};
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;

/// The settings every role shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub data_dir: PathBuf,
    /// How to reach Redis; `None`: no Redis (an in-process queue and local state, `dev` only).
    pub redis: Option<RedisSettings>,
    pub redis_prefix: String,
    /// Replicas a job's submission waits for (`None`: the queue's default).
    pub redis_wait_replicas: Option<u32>,
    pub log_format: Option<LogFormat>,
    /// How long a role may take to stop (`shutdown_grace`).
    pub shutdown_grace: std::time::Duration,
}

impl Common {
    /// The shared settings, with the secrets of `*_file` settings read.
    ///
    /// # Errors
    /// A Redis setting that cannot work (one line naming it), or a secret file that cannot be read.
    pub fn resolve(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            data_dir: config.data_dir.clone(),
            redis: redis_settings(config)?,
            redis_prefix: config.redis_prefix.clone(),
            redis_wait_replicas: config.redis_wait_replicas,
            log_format: config.log_format,
            shutdown_grace: config.shutdown_grace,
        })
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
            redis: self.redis.clone(),
            wait_replicas: self.redis_wait_replicas,
            prefix: self.redis_prefix.clone(),
            // Jobs in flight get half the grace period to finish, then are released to other workers.
            release_after: self.shutdown_grace / 2,
            ..job_queue::QueueConfig::default()
        }
    }

    /// The job queue and the events stream. A Redis that does not answer yet (starting, or loading
    /// its data after a restart) is waited for during [`STARTUP_WAIT`].
    pub async fn queue(&self) -> anyhow::Result<job_queue::Backends> {
        let config = self.queue_config();
        until_available("the job queue", || job_queue::connect(&config), job_queue::QueueError::is_transient)
            .await
            .context("cannot open the job queue (REDIS_URL)")
    }

    /// The shared state: Redis, or (without Redis) a SQLite file in the data directory that only
    /// this process may use. A Redis that does not answer yet is waited for, as for [`Self::queue`].
    pub async fn state(&self) -> anyhow::Result<Arc<dyn state_store::StateStore>> {
        let local = self.data_dir.join("state.db");
        until_available(
            "the state store",
            || state_store::open(self.redis.as_ref(), &self.redis_prefix, Some(&local)),
            |e| matches!(e, state_store::StoreError::Unavailable(_)),
        )
        .await
        .context("cannot open the state store (REDIS_URL or the data directory)")
    }

    /// Fails unless Redis is configured: a role running alone shares its queue and state with the others.
    pub fn require_redis(&self, role: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.redis.is_some(),
            "`scim-connector {role}` shares its queue and state with the other services through Redis: set \
             REDIS_URL (or redis_sentinels); `scim-connector dev` runs everything in one process without it"
        );
        Ok(())
    }
}

/// A secret from its setting or, else, from the file its `*_file` setting names.
fn secret(
    value: Option<&secrecy::SecretString>,
    file: Option<&PathBuf>,
    setting: &str,
) -> anyhow::Result<Option<secrecy::SecretString>> {
    match (value, file) {
        (Some(value), _) => Ok(Some(value.clone())),
        (None, Some(path)) => read_secret_file(path).with_context(|| format!("{setting}_file")).map(Some),
        (None, None) => Ok(None),
    }
}

/// How to reach Redis, from the `redis_*` settings: `redis_url`, or Sentinel (`redis_sentinels`
/// and `redis_sentinel_master`), with the ACL user, the password and the TLS files.
///
/// # Errors
/// Both or neither of a URL and Sentinel while other Redis settings are given, a secret file that
/// cannot be read, or what [`RedisSettings::validate`] refuses.
fn redis_settings(config: &Config) -> anyhow::Result<Option<RedisSettings>> {
    let sentinel = !config.redis_sentinels.is_empty() || config.redis_sentinel_master.is_some();
    let mut settings = match (&config.redis_url, sentinel) {
        (Some(_), true) => bail!(
            "invalid setting redis_sentinels: Redis is either redis_url or the primary Sentinel names \
             (redis_sentinels, redis_sentinel_master), not both"
        ),
        (Some(url), false) => RedisSettings::url(url.expose_secret()),
        (None, true) => RedisSettings::sentinel(SentinelSettings {
            addresses: config.redis_sentinels.iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect(),
            master_name: config.redis_sentinel_master.clone().unwrap_or_default(),
            username: config.redis_sentinel_username.clone(),
            password: secret(
                config.redis_sentinel_password.as_ref(),
                config.redis_sentinel_password_file.as_ref(),
                "redis_sentinel_password",
            )?,
        }),
        (None, false) => {
            let stray = [
                ("redis_username", config.redis_username.is_some()),
                ("redis_password", config.redis_password.is_some() || config.redis_password_file.is_some()),
                ("redis_tls_ca_file", config.redis_tls_ca_file.is_some()),
                ("redis_tls_cert_file", config.redis_tls_cert_file.is_some()),
                ("redis_tls_key_file", config.redis_tls_key_file.is_some()),
                ("redis_sentinel_username", config.redis_sentinel_username.is_some()),
                ("redis_sentinel_password", config.redis_sentinel_password.is_some()),
                ("redis_wait_replicas", config.redis_wait_replicas.is_some()),
            ];
            if let Some((setting, _)) = stray.iter().find(|(_, set)| *set) {
                bail!("invalid setting {setting}: no Redis is configured (set REDIS_URL or redis_sentinels)");
            }
            return Ok(None);
        }
    };
    settings.username = config.redis_username.clone();
    settings.password = secret(config.redis_password.as_ref(), config.redis_password_file.as_ref(), "redis_password")?;
    settings.tls.ca_file = config.redis_tls_ca_file.clone();
    settings.tls.cert_file = config.redis_tls_cert_file.clone();
    settings.tls.key_file = config.redis_tls_key_file.clone();
    settings.validate()?;
    Ok(Some(settings))
}

/// How long a starting role waits for a Redis that does not answer yet (a pod started before
/// Redis, or a Redis loading its append-only file after a crash) before it gives up.
pub(crate) const STARTUP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `open` again while its error is `transient`, for at most [`STARTUP_WAIT`]; other errors (a
/// setting that cannot work) at once.
async fn until_available<T, E, F, Fut>(what: &str, open: F, transient: impl Fn(&E) -> bool) -> Result<T, E>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match open().await {
            Err(e) if transient(&e) && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, retry_in = ?pause, "{what} is not available yet; waiting for Redis");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn without_redis_settings_there_is_no_redis() {
        assert!(redis_settings(&Config::default()).unwrap().is_none());
    }

    #[test]
    fn a_url_with_tls_files_and_an_acl_user_makes_one_redis_setting() {
        let settings = redis_settings(&config(
            "redis_url = \"rediss://redis:6380\"\nredis_username = \"scim\"\nredis_password = \"pw\"\n\
             redis_tls_ca_file = \"ca.pem\"\n",
        ))
        .unwrap()
        .unwrap();
        assert!(settings.uses_tls() && !settings.is_sentinel());
        assert_eq!(settings.username.as_deref(), Some("scim"));
        assert_eq!(settings.tls.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
    }

    #[test]
    fn sentinel_addresses_and_a_master_name_choose_sentinel() {
        let settings =
            redis_settings(&config("redis_sentinels = [\"s1:26379\", \"s2\"]\nredis_sentinel_master = \"scim\"\n"))
                .unwrap()
                .unwrap();
        assert!(settings.is_sentinel());
    }

    #[test]
    fn a_url_and_sentinel_together_are_refused() {
        let err = redis_settings(&config(
            "redis_url = \"redis://r\"\nredis_sentinels = [\"s1\"]\nredis_sentinel_master = \"scim\"\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("redis_sentinels"), "{err}");
    }

    #[test]
    fn a_redis_setting_without_redis_is_refused_naming_it() {
        let err = redis_settings(&config("redis_tls_ca_file = \"ca.pem\"\n")).unwrap_err();
        assert!(err.to_string().contains("redis_tls_ca_file"), "{err}");
    }

    #[test]
    fn sentinel_without_a_master_name_is_refused_naming_it() {
        let err = redis_settings(&config("redis_sentinels = [\"s1\"]\n")).unwrap_err();
        assert!(err.to_string().contains("redis_sentinel_master"), "{err}");
    }
}
