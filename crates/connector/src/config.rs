//! The configuration file (TOML), and how it layers under the environment and
//! the flags.
//!
//! ```toml
//! data_dir = "/var/lib/scim-connector"
//! redis_url = "rediss://:password@redis:6380"   # or REDIS_URL
//! admin_token_sha256 = ["9f86d08..."]
//!
//! [gateway]
//! listen = "0.0.0.0:8080"
//! adapter_url = "http://adapter:50051"
//! public_url = "https://scim.example.com"
//! audit_when_behind = "refuse"                 # or "drop": see scim_gateway::AuditBacklogPolicy
//!
//! [adapter]
//! listen = "0.0.0.0:50051"
//! http_listen = "0.0.0.0:9091"
//! workers = 8
//! resync_interval = "5m"
//!
//! [audit]
//! listen = "0.0.0.0:8090"
//! retention = "400d"
//!
//! [[secret_servers]]
//! name = "primary"
//! url = "https://vault.example.com/SecretServer"
//! username = "svc-scim"
//! password_file = "/run/secrets/secret-server-password"
//!
//! [[connections]]
//! id = "sailpoint"
//! displayName = "SailPoint IdentityIQ"
//! secretServer = "primary"
//! credentials = { bearerTokens = [{ id = "t1", sha256 = "..." }] }
//! ```
//!
//! Secrets are never required in the file: each has an environment variable
//! or a `*_file` key pointing at a mounted secret.

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub redis_url: Option<SecretString>,
    pub redis_prefix: Option<String>,
    pub admin_token_sha256: Vec<String>,
    pub log_format: Option<crate::cli::LogFormat>,
    pub gateway: GatewaySection,
    pub adapter: AdapterSection,
    pub audit: AuditSection,
    pub sim: secret_server_sim::Settings,
    pub secret_servers: Vec<SecretServerSection>,
    pub connections: Vec<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySection {
    pub listen: Option<SocketAddr>,
    pub adapter_url: Option<String>,
    pub public_url: Option<String>,
    /// Largest request body in bytes (Bulk has its own limit).
    pub max_body_bytes: Option<usize>,
    /// How long a write waits for its provisioning job.
    #[serde(with = "humantime_serde::option")]
    pub job_timeout: Option<Duration>,
    pub bulk_max_operations: Option<usize>,
    pub bulk_max_payload_bytes: Option<usize>,
    /// When the audit trail cannot keep up: `refuse` SCIM calls (`503`, the default) or `drop` events.
    pub audit_when_behind: Option<scim_gateway::AuditBacklogPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdapterSection {
    pub listen: Option<SocketAddr>,
    pub http_listen: Option<SocketAddr>,
    pub workers: Option<usize>,
    #[serde(with = "humantime_serde::option")]
    pub resync_interval: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    pub listen: Option<SocketAddr>,
    #[serde(with = "humantime_serde::option")]
    pub retention: Option<Duration>,
}

/// One Secret Server instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretServerSection {
    pub name: String,
    pub url: String,
    pub username: String,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default, with = "humantime_serde::option")]
    pub request_timeout: Option<Duration>,
    #[serde(default)]
    pub max_concurrent_requests: Option<usize>,
}

impl FileConfig {
    /// Reads the file, or the defaults when there is none.
    ///
    /// # Errors
    /// When the file cannot be read or does not parse; the message names the file and the key.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
    }
}

/// Reads a secret from a file (trailing newline removed).
///
/// # Errors
/// When the file cannot be read or is empty.
pub fn read_secret_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read secret file {}", path.display()))?;
    let trimmed = text.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        bail!("secret file {} is empty", path.display());
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or("").to_owned() + "\n")
            .collect();
        let config: FileConfig = toml::from_str(&example).unwrap();
        assert_eq!(config.secret_servers[0].name, "primary");
        assert_eq!(config.adapter.resync_interval, Some(Duration::from_secs(300)));
        assert_eq!(config.connections.len(), 1);
        assert_eq!(config.gateway.audit_when_behind, Some(scim_gateway::AuditBacklogPolicy::Refuse));
    }

    #[test]
    fn the_audit_backlog_policy_is_refuse_or_drop() {
        let config: FileConfig = toml::from_str("[gateway]\naudit_when_behind = \"drop\"\n").unwrap();
        assert_eq!(config.gateway.audit_when_behind, Some(scim_gateway::AuditBacklogPolicy::Drop));
        let err = toml::from_str::<FileConfig>("[gateway]\naudit_when_behind = \"ignore\"\n").unwrap_err();
        assert!(err.to_string().contains("refuse"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let err = toml::from_str::<FileConfig>("[gateway]\nlisten_port = 8080\n").unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
    }
}
