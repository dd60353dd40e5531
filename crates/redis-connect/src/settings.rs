//! What a process needs to reach Redis: where (a URL, or Sentinel), as whom (ACL user and
//! password), and how to trust it (a CA bundle, a client certificate).

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::PathBuf;

/// The port Sentinel listens on when an address names none.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// How to reach Redis. Shared by the job queue, the events stream and the state store, so that
/// every connection a process opens follows the same settings.
#[derive(Clone)]
pub struct RedisSettings {
    /// A fixed server, or the primary that Sentinel names.
    pub endpoint: Endpoint,
    /// The ACL user; replaces a user named in the URL.
    pub username: Option<String>,
    /// The ACL password (or the `requirepass` password); replaces a password in the URL.
    pub password: Option<SecretString>,
    /// Certificates for TLS (`rediss://` URLs, or Sentinel over TLS).
    pub tls: TlsFiles,
}

/// Where Redis is.
#[derive(Clone)]
pub enum Endpoint {
    /// `redis://[user:password@]host:port[/db]`, `rediss://` for TLS, or `unix://` and
    /// `redis+unix://` for a socket. A secret: it may carry a password.
    Url(SecretString),
    /// The primary of a group that Sentinel monitors, found through Sentinel at every
    /// (re)connection, so that a failover moves every connection to the new primary.
    Sentinel(SentinelSettings),
}

/// Sentinel: the addresses of some of its processes and the name of the monitored group.
#[derive(Clone)]
pub struct SentinelSettings {
    /// `host:port` (port 26379 when left out), or `redis://host:port`, or `rediss://host:port`
    /// for TLS to Sentinel and to the Redis servers it names. At least one; all with the same scheme.
    pub addresses: Vec<String>,
    /// The name under which Sentinel monitors the group (`sentinel monitor <name> ...`).
    pub master_name: String,
    /// Sentinel's own ACL user, when Sentinel requires authentication.
    pub username: Option<String>,
    /// Sentinel's own password (`requirepass` of the Sentinel processes).
    pub password: Option<SecretString>,
}

/// PEM files for TLS. Read when the connection settings are built, so that a missing file fails
/// at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA bundle that signed the server's certificate, for servers whose CA is not in the
    /// system's trust store.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (chain), for servers that require one (`tls-auth-clients yes`).
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub key_file: Option<PathBuf>,
}

impl TlsFiles {
    fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }
}

/// A setting that cannot work, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Redis setting {setting}: {reason}")]
pub struct SettingsError {
    /// The setting's name as the configuration file spells it (`redis_url`, `redis_tls_ca_file`...).
    pub setting: &'static str,
    pub reason: String,
}

impl SettingsError {
    pub(crate) fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self { setting, reason: reason.into() }
    }
}

impl RedisSettings {
    /// A server by URL, with no other setting.
    pub fn url(url: impl Into<String>) -> Self {
        Self::with_endpoint(Endpoint::Url(SecretString::from(url.into())))
    }

    /// The primary that `sentinel` names, with no other setting.
    pub fn sentinel(sentinel: SentinelSettings) -> Self {
        Self::with_endpoint(Endpoint::Sentinel(sentinel))
    }

    fn with_endpoint(endpoint: Endpoint) -> Self {
        Self { endpoint, username: None, password: None, tls: TlsFiles::default() }
    }

    /// Whether connections use TLS: a `rediss://` URL, or Sentinel addresses in `rediss://`.
    pub fn uses_tls(&self) -> bool {
        match &self.endpoint {
            Endpoint::Url(url) => url.expose_secret().starts_with("rediss://"),
            Endpoint::Sentinel(sentinel) => sentinel.addresses.iter().any(|a| a.starts_with("rediss://")),
        }
    }

    /// Whether the primary is found through Sentinel.
    pub fn is_sentinel(&self) -> bool {
        matches!(self.endpoint, Endpoint::Sentinel(_))
    }

    /// Checks the settings without connecting, so that a mistake fails at start with one line
    /// naming the setting.
    ///
    /// # Errors
    /// The first setting that cannot work. A URL is never echoed: it may hold a password.
    pub fn validate(&self) -> Result<(), SettingsError> {
        match &self.endpoint {
            Endpoint::Url(url) => {
                let url = url.expose_secret();
                let known = ["redis://", "rediss://", "unix://", "redis+unix://"];
                if !known.iter().any(|scheme| url.starts_with(scheme)) {
                    return Err(SettingsError::new("redis_url", "must start with redis:// or rediss://"));
                }
            }
            Endpoint::Sentinel(sentinel) => {
                if sentinel.master_name.trim().is_empty() {
                    return Err(SettingsError::new(
                        "redis_sentinel_master",
                        "the name of the group Sentinel monitors is required with redis_sentinels",
                    ));
                }
                if sentinel.addresses.is_empty() {
                    return Err(SettingsError::new("redis_sentinels", "at least one Sentinel address is required"));
                }
                let schemes: std::collections::BTreeSet<bool> =
                    sentinel.addresses.iter().map(|a| a.starts_with("rediss://")).collect();
                if schemes.len() > 1 {
                    return Err(SettingsError::new(
                        "redis_sentinels",
                        "mixes rediss:// and plain addresses; TLS is on for every Sentinel or for none",
                    ));
                }
                for address in &sentinel.addresses {
                    crate::connect::sentinel_address(address)?;
                }
            }
        }
        if !self.tls.is_empty() && !self.uses_tls() {
            let what = if self.is_sentinel() {
                "the Sentinel addresses are not rediss://"
            } else {
                "redis_url is not rediss://"
            };
            let setting = if self.tls.ca_file.is_some() {
                "redis_tls_ca_file"
            } else if self.tls.cert_file.is_some() {
                "redis_tls_cert_file"
            } else {
                "redis_tls_key_file"
            };
            return Err(SettingsError::new(setting, format!("is set but {what}: TLS would not be used")));
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) => {
                return Err(SettingsError::new("redis_tls_key_file", "is required with redis_tls_cert_file"));
            }
            (None, Some(_)) => {
                return Err(SettingsError::new("redis_tls_cert_file", "is required with redis_tls_key_file"));
            }
            _ => {}
        }
        if self.password.is_none() && self.username.is_some() {
            return Err(SettingsError::new("redis_password", "is required with redis_username"));
        }
        Ok(())
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("endpoint", &self.endpoint)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Url(_) => f.write_str("Url([REDACTED])"),
            Endpoint::Sentinel(sentinel) => f.debug_tuple("Sentinel").field(sentinel).finish(),
        }
    }
}

impl fmt::Debug for SentinelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelSettings")
            .field("addresses", &self.addresses)
            .field("master_name", &self.master_name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(addresses: &[&str]) -> RedisSettings {
        RedisSettings::sentinel(SentinelSettings {
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            master_name: "scim".to_owned(),
            username: None,
            password: Some(SecretString::from("sentinel-Pa55")),
        })
    }

    #[test]
    fn debug_never_shows_a_url_or_a_password() {
        let mut settings = RedisSettings::url("redis://queue:hunter2@localhost");
        settings.password = Some(SecretString::from("acl-Pa55"));
        let shown = format!("{settings:?} {:?}", sentinel(&["a:1"]));
        for secret in ["hunter2", "acl-Pa55", "sentinel-Pa55"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn a_url_of_another_scheme_is_refused_without_echoing_it() {
        let err = RedisSettings::url("http://user:hunter2@host").validate().unwrap_err();
        assert_eq!(err.setting, "redis_url");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn tls_files_without_tls_are_refused_naming_the_file_setting() {
        let mut settings = RedisSettings::url("redis://localhost");
        settings.tls.ca_file = Some("ca.pem".into());
        assert_eq!(settings.validate().unwrap_err().setting, "redis_tls_ca_file");
        settings.endpoint = Endpoint::Url(SecretString::from("rediss://localhost"));
        settings.validate().unwrap();
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let mut settings = RedisSettings::url("rediss://localhost");
        settings.tls.cert_file = Some("client.pem".into());
        assert_eq!(settings.validate().unwrap_err().setting, "redis_tls_key_file");
    }

    #[test]
    fn sentinel_needs_a_master_name_and_one_scheme_for_every_address() {
        sentinel(&["10.0.0.1:26379", "redis://10.0.0.2", "10.0.0.3"]).validate().unwrap();
        let err = sentinel(&["rediss://a:26379", "b:26379"]).validate().unwrap_err();
        assert_eq!(err.setting, "redis_sentinels");
        let mut nameless = sentinel(&["a:26379"]);
        if let Endpoint::Sentinel(s) = &mut nameless.endpoint {
            s.master_name = " ".to_owned();
        }
        assert_eq!(nameless.validate().unwrap_err().setting, "redis_sentinel_master");
        assert_eq!(sentinel(&["a:port"]).validate().unwrap_err().setting, "redis_sentinels");
    }

    #[test]
    fn sentinel_over_tls_uses_tls() {
        assert!(sentinel(&["rediss://a:26379"]).uses_tls());
        assert!(!sentinel(&["a:26379"]).uses_tls());
        assert!(RedisSettings::url("rediss://a").uses_tls());
    }
}
