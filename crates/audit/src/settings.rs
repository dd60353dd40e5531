//! The audit service's settings.

use crate::chain::ChainKey;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default `batch_linger`: at a few thousand events a second (two per create),
/// batches of tens of events, each recorded a few milliseconds later than it could be.
const DEFAULT_BATCH_LINGER: Duration = Duration::from_millis(5);

/// The longest [`AuditSettings::batch_linger`]: events wait for it before they are recorded.
const MAX_BATCH_LINGER: Duration = Duration::from_secs(1);

/// Settings of the audit service (`scim-connector audit`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// The database lives at `<data_dir>/audit/audit.db`.
    pub data_dir: PathBuf,
    /// Where the query API listens.
    pub listen: SocketAddr,
    /// SHA-256 hex digests of the admin tokens the query API accepts (tokens themselves are never
    /// configured). Empty: every request to the API is refused.
    pub admin_token_sha256: Vec<String>,
    /// Records older than this are removed (`90d`); `None` keeps everything.
    #[serde(with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// How often retention runs.
    #[serde(with = "humantime_serde")]
    pub retention_interval: Duration,
    /// The consumer group on the events stream.
    pub consumer_group: String,
    /// This consumer's name within the group; default `<hostname>-<pid>`.
    pub consumer_name: Option<String>,
    /// Events recorded per transaction (one fsync each).
    pub batch_size: usize,
    /// How long the consumer waits for events before looking again (and noticing shutdown).
    #[serde(with = "humantime_serde")]
    pub poll_wait: Duration,
    /// After a batch smaller than `batch_size`, how long the consumer waits before reading again,
    /// so that the events arriving meanwhile are recorded together: one transaction and one fsync
    /// for many events instead of one each when they come one by one. Zero reads again at once.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
    /// The key of the chain's HMAC; required to run. Never in the configuration's serialized form.
    #[serde(skip)]
    pub key: Option<ChainKey>,
    /// The append-only file the chain's head is exported to; default `<data_dir>/audit/heads.jsonl`.
    pub head_file: Option<PathBuf>,
    /// How often the head is exported (when it changed).
    #[serde(with = "humantime_serde")]
    pub head_interval: Duration,
    /// The certificate and key of the audit API: with them, HTTPS only (files re-read when they change).
    #[serde(skip)]
    pub tls: Option<transport_tls::ServerTlsFiles>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            admin_token_sha256: Vec::new(),
            retention: None,
            retention_interval: Duration::from_secs(3600),
            consumer_group: "audit".to_owned(),
            consumer_name: None,
            batch_size: 256,
            poll_wait: Duration::from_secs(1),
            batch_linger: DEFAULT_BATCH_LINGER,
            key: None,
            head_file: None,
            head_interval: Duration::from_secs(60),
            tls: None,
        }
    }
}

/// An invalid setting, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid audit setting {setting}: {reason}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub reason: String,
}

impl AuditSettings {
    /// The database path.
    pub fn database_path(&self) -> PathBuf {
        crate::store::AuditStore::path_in(&self.data_dir)
    }

    /// What retention allows to be pruned, for `verify`.
    pub fn pruning(&self) -> crate::Pruning {
        crate::Pruning { retention: self.retention, head_interval: self.head_interval }
    }

    /// Where the chain's heads are exported: `head_file`, else `<data_dir>/audit/heads.jsonl`.
    pub fn heads_path(&self) -> PathBuf {
        self.head_file.clone().unwrap_or_else(|| self.data_dir.join("audit").join("heads.jsonl"))
    }

    /// The consumer name: the configured one, else `<hostname>-<pid>`.
    pub fn consumer_name(&self) -> String {
        self.consumer_name.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "audit".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first invalid setting, named.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let fail = |setting, reason: String| Err(SettingsError { setting, reason });
        for digest in &self.admin_token_sha256 {
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return fail("admin_token_sha256", "each entry must be a SHA-256 digest in hex (64 digits)".to_owned());
            }
        }
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return fail("batch_size", format!("{} is outside 1..=10000", self.batch_size));
        }
        if self.consumer_group.trim().is_empty() {
            return fail("consumer_group", "must not be empty".to_owned());
        }
        if self.retention.is_some_and(|r| r.is_zero()) {
            return fail("retention", "must be longer than zero (leave it unset to keep everything)".to_owned());
        }
        if self.retention_interval.is_zero() {
            return fail("retention_interval", "must be longer than zero".to_owned());
        }
        if self.poll_wait.is_zero() {
            return fail("poll_wait", "must be longer than zero".to_owned());
        }
        if self.batch_linger > MAX_BATCH_LINGER {
            return fail("batch_linger", format!("{:?} is longer than {MAX_BATCH_LINGER:?}", self.batch_linger));
        }
        if self.head_interval.is_zero() {
            return fail("head_interval", "must be longer than zero".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_listen_on_8090() {
        let settings = AuditSettings::default();
        assert!(settings.validate().is_ok());
        assert_eq!(settings.listen.port(), 8090);
        assert_eq!(settings.consumer_group, "audit");
        assert!(settings.database_path().ends_with("audit/audit.db"));
    }

    #[test]
    fn retention_reads_humantime() {
        let settings: AuditSettings = serde_json::from_value(serde_json::json!({"retention": "90d"})).unwrap();
        assert_eq!(settings.retention, Some(Duration::from_secs(90 * 86_400)));
    }

    #[test]
    fn a_batch_linger_of_zero_is_valid_and_one_longer_than_a_second_is_refused() {
        let settings = AuditSettings { batch_linger: Duration::ZERO, ..AuditSettings::default() };
        assert!(settings.validate().is_ok());
        let settings = AuditSettings { batch_linger: Duration::from_secs(2), ..AuditSettings::default() };
        assert_eq!(settings.validate().unwrap_err().setting, "batch_linger");
    }

    #[test]
    fn a_token_in_clear_instead_of_its_digest_is_refused() {
        let settings = AuditSettings { admin_token_sha256: vec!["my-token".into()], ..AuditSettings::default() };
        let error = settings.validate().unwrap_err();
        assert_eq!(error.setting, "admin_token_sha256");
        assert!(!error.to_string().contains("my-token"), "the value is never echoed");
    }
}
