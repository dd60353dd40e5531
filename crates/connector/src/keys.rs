//! The keys at rest: the keys that seal passwords in provisioning jobs (`job_encryption_keys`,
//! used by the gateway and the adapter) and the audit chain's HMAC key (`audit.key`, used by the
//! audit service and `audit verify`).
//!
//! A deployment gives them (a variable, or a `*_file` setting naming a mounted secret); a
//! deployed role refuses to start without one, with one line naming the setting. `dev` makes each
//! once, in its data directory (`job-encryption-keys`, `audit-key`, private files), and reuses it.
//! `audit verify` takes the configured key, else the one `dev` made in the data directory.

use crate::config::{Config, read_secret_file};
use crate::credentials::write_private;
use adapter_api::JobKeys;
use anyhow::{Context, bail};
use audit::ChainKey;
use secrecy::ExposeSecret;
use std::path::Path;

/// What to do when no key is configured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Missing<'a> {
    /// A deployed role: refuse to start.
    Refuse,
    /// `dev`: make one in this data directory (or reuse the one made before).
    Generate(&'a Path),
    /// `audit verify`: read the one `dev` made in this data directory, if any.
    Read(&'a Path),
}

/// The file in the data directory that holds `dev`'s job keys.
const DEV_JOB_KEYS: &str = "job-encryption-keys";
/// The file in the data directory that holds `dev`'s audit chain key.
const DEV_AUDIT_KEY: &str = "audit-key";

/// The keys that seal and open passwords in provisioning jobs.
///
/// # Errors
/// Keys that do not parse (naming the setting, never showing a key), a file that cannot be read,
/// or no key where one is required.
pub(crate) fn job_keys(config: &Config, missing: Missing<'_>) -> anyhow::Result<JobKeys> {
    if let Some(text) = &config.job_encryption_keys {
        return JobKeys::parse(text.expose_secret())
            .map_err(|e| anyhow::anyhow!("invalid setting job_encryption_keys (SCIMC_JOB_ENCRYPTION_KEYS): {e}"));
    }
    if let Some(path) = &config.job_encryption_keys_file {
        let text = read_secret_file(path).context("job_encryption_keys_file")?;
        return JobKeys::parse(text.expose_secret())
            .map_err(|e| anyhow::anyhow!("invalid setting job_encryption_keys_file: {}: {e}", path.display()));
    }
    let dir = match missing {
        Missing::Generate(dir) | Missing::Read(dir) => dir,
        Missing::Refuse => bail!(
            "the job encryption key is required: set SCIMC_JOB_ENCRYPTION_KEYS or job_encryption_keys_file to \
             <id>:<base64 of 32 random bytes> (e.g. k1:$(openssl rand -base64 32)); `scim-connector dev` makes its own"
        ),
    };
    let path = dir.join(DEV_JOB_KEYS);
    if path.is_file() {
        let text = read_secret_file(&path)?;
        return JobKeys::parse(text.expose_secret()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    if matches!(missing, Missing::Read(_)) {
        bail!("no job encryption key is configured (SCIMC_JOB_ENCRYPTION_KEYS)");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let (keys, text) = JobKeys::generate("dev");
    write_private(&path, &format!("{}\n", *text))?;
    tracing::info!(file = %path.display(), "made a job encryption key for dev");
    Ok(keys)
}

/// The audit chain's key.
///
/// # Errors
/// A key shorter than 32 bytes, a file that cannot be read, or no key where one is required.
pub(crate) fn audit_key(config: &Config, missing: Missing<'_>) -> anyhow::Result<ChainKey> {
    if let Some(text) = &config.audit.key {
        return ChainKey::from_text(text.expose_secret())
            .map_err(|e| anyhow::anyhow!("invalid setting audit.key (SCIMC_AUDIT_KEY): {e}"));
    }
    if let Some(path) = &config.audit.key_file {
        let text = read_secret_file(path).context("audit.key_file")?;
        return ChainKey::from_text(text.expose_secret())
            .map_err(|e| anyhow::anyhow!("invalid setting audit.key_file: {}: {e}", path.display()));
    }
    let required = "the audit chain key is required: set SCIMC_AUDIT_KEY or audit.key_file (at least 32 bytes, e.g. \
                    $(openssl rand -hex 32)), kept out of the data directory; `scim-connector dev` makes its own";
    let dir = match missing {
        Missing::Generate(dir) | Missing::Read(dir) => dir,
        Missing::Refuse => bail!("{required}"),
    };
    let path = dir.join(DEV_AUDIT_KEY);
    if path.is_file() {
        let text = read_secret_file(&path)?;
        return ChainKey::from_text(text.expose_secret()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    if matches!(missing, Missing::Read(_)) {
        bail!("{required}");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let (key, text) = ChainKey::generate();
    write_private(&path, &format!("{}\n", *text))?;
    tracing::info!(file = %path.display(), "made an audit chain key for dev");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployed_role_without_a_job_key_refuses_naming_the_settings() {
        let err = job_keys(&Config::default(), Missing::Refuse).unwrap_err().to_string();
        assert!(err.contains("SCIMC_JOB_ENCRYPTION_KEYS") && err.contains("job_encryption_keys_file"), "{err}");
        let err = audit_key(&Config::default(), Missing::Refuse).unwrap_err().to_string();
        assert!(err.contains("SCIMC_AUDIT_KEY") && err.contains("audit.key_file"), "{err}");
    }

    #[test]
    fn dev_makes_its_keys_once_in_private_files_and_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = job_keys(&Config::default(), Missing::Generate(dir.path())).unwrap();
        let again = job_keys(&Config::default(), Missing::Generate(dir.path())).unwrap();
        assert_eq!(first.ids(), again.ids());
        let sealed = adapter_api::Job::new(
            "c",
            scim::ResourceKind::User,
            adapter_api::Operation::Create,
            "",
            serde_json::json!({"userName": "a", "password": "Pa55-word!"}),
        )
        .unwrap()
        .seal(&first);
        assert!(adapter_api::Job::open(&sealed.payload, &sealed.secrets, &again).is_ok(), "the same key");

        let key = audit_key(&Config::default(), Missing::Generate(dir.path())).unwrap();
        assert_eq!(audit_key(&Config::default(), Missing::Read(dir.path())).unwrap(), key);
        #[cfg(unix)]
        for file in [DEV_JOB_KEYS, DEV_AUDIT_KEY] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    #[test]
    fn verify_reads_dev_s_key_but_never_makes_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(audit_key(&Config::default(), Missing::Read(dir.path())).is_err());
        assert!(!dir.path().join(DEV_AUDIT_KEY).exists());
    }

    #[test]
    fn a_configured_key_wins_and_a_bad_one_is_named_without_being_shown() {
        let dir = tempfile::tempdir().unwrap();
        let config: Config = toml::from_str("job_encryption_keys = \"k1:c2hvcnQ=\"\n").unwrap();
        let err = job_keys(&config, Missing::Generate(dir.path())).unwrap_err().to_string();
        assert!(err.contains("job_encryption_keys") && !err.contains("c2hvcnQ"), "{err}");
        assert!(!dir.path().join(DEV_JOB_KEYS).exists(), "nothing is made when a key is configured");
        let config: Config = toml::from_str("[audit]\nkey = \"short\"\n").unwrap();
        let err = audit_key(&config, Missing::Refuse).unwrap_err().to_string();
        assert!(err.contains("audit.key") && !err.contains("short\""), "{err}");
    }
}
