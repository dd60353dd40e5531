//! The adapter's settings: where it listens, which Secret Server instances it serves, and how hard
//! it works. The `connector` binary fills them from its layered configuration; tests build them
//! directly with port 0.

use secrecy::{ExposeSecret, SecretString};
use secret_server_client::ClientConfig;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything [`crate::start`] needs besides its dependencies.
#[derive(Debug, Clone)]
pub struct AdapterSettings {
    /// The gRPC `Directory` listener (default `127.0.0.1:50051`; port 0 in tests).
    pub grpc_listen: SocketAddr,
    /// `/healthz`, `/readyz` and `/metrics` (default `127.0.0.1:9091`); `None`: not served.
    pub http_listen: Option<SocketAddr>,
    /// The Secret Server instances, by name; each connection is bound to one of them.
    pub instances: Vec<InstanceSettings>,
    /// Provisioning jobs applied at once (default 8).
    pub workers: usize,
    /// How often the read model is compared with Secret Server to pick up changes made there
    /// directly (default 5 minutes).
    pub resync_interval: Duration,
    /// How many records one resync may drop (a share of those held, or a number; default 5 % or
    /// 1,000) before it keeps the read model and waits for the next resync to agree.
    pub resync_removal_bound: crate::read_model::confirm::RemovalBound,
    /// Requests to Secret Server in flight at once while loading (pages of users, groups' members...;
    /// default 8). The client's own `max_concurrent_requests` bounds all calls together.
    pub load_concurrency: usize,
    /// Page size of list answers when the caller does not ask for one (default 100).
    pub default_page_size: u32,
    /// The largest page size a caller may ask for (default 1000); larger `count`s are capped.
    pub max_page_size: u32,
    /// How long a provisioning job waits for its instance's first load before it is retried later
    /// (default 60 s).
    pub job_wait_for_load: Duration,
    /// Draw load progress with `indicatif` when stderr is a terminal (log lines otherwise).
    pub progress_bars: bool,
    /// This replica's name. With several adapter replicas, each applies the others' changes to
    /// its read model through the events stream, reading it with its own consumer group
    /// `adapter-<replica_id>`; `None` runs as the only replica and does not listen.
    pub replica_id: Option<String>,
    /// With `replica_id`: how long a read waits for this replica to have followed every change
    /// published before it began (default 2 s; see [`crate::replication`]); then it is served as is (a `GET` that finds nothing answers a retryable `503`).
    pub read_fence_wait: Duration,
    /// Where the read model's snapshots are kept (one file per instance); `None`: no snapshot, a
    /// restart loads everything from Secret Server (see [`crate::snapshot`]).
    pub snapshot_dir: Option<std::path::PathBuf>,
    /// How often a snapshot is written while running (default 5 minutes); one is also written at
    /// shutdown.
    pub snapshot_interval: Duration,
    /// A snapshot older than this is discarded at start (default 1 hour). Keep it below the events
    /// stream's retention, so that the changes since the snapshot are still in the stream.
    pub snapshot_max_age: Duration,
    /// gRPC connections are closed (gracefully, `GOAWAY`) after this long, so that callers
    /// reconnect and their calls spread again over the replicas behind a Service (default 5
    /// minutes); `None`: kept as long as they last.
    pub max_connection_age: Option<Duration>,
    /// The key that seals list cursors (RFC 9865), so that clients cannot forge them. Give every
    /// adapter replica the same key; `None` uses a random key kept in the state store, created by
    /// the first adapter to start and shared by every adapter on that store (see
    /// [`crate::cursor_key`]), so that cursors survive a restart either way.
    pub cursor_secret: Option<SecretString>,
    /// How long a cursor stays valid (default 10 minutes).
    pub cursor_timeout: Duration,
    /// Expensive requests (unindexed searches and sorts, PATCHes with filtered member paths) one
    /// connection may have running at once (default 4); beyond, its expensive requests are `429`
    /// (see [`crate::bounds`]).
    pub expensive_per_connection: usize,
    /// A read of a group of more members than this that renders them is expensive work too
    /// (default 5,000).
    pub large_group_members: usize,
    /// The keys that open the passwords sealed in provisioning jobs (every key the gateways seal
    /// with). Default: the process's own random key, which suits a gateway in the same process only.
    pub job_keys: adapter_api::JobKeys,
    /// The adapter's certificate and key: with them the gRPC listener speaks TLS only (and the
    /// health listener HTTPS); the files are re-read when they change.
    pub grpc_tls: Option<transport_tls::ServerTlsFiles>,
    /// The CA that callers' client certificates must chain to (needs `grpc_tls`): only callers
    /// with such a certificate complete a handshake.
    pub grpc_client_ca: Option<std::path::PathBuf>,
    /// The secret every gRPC call carries (`authorization: Bearer <secret>`), compared in constant
    /// time. Required unless `grpc_client_ca` is set; when both are set, both are required.
    /// Default: a random secret of this process, which suits a gateway in the same process only.
    pub grpc_secret: Option<SecretString>,
    /// How often the TLS files are checked for a change.
    pub tls_poll: Duration,
}

/// The fewest characters of the gateway-adapter shared secret.
pub const MIN_GRPC_SECRET_CHARS: usize = 32;

/// A random shared secret (64 hex digits).
pub fn random_grpc_secret() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl Default for AdapterSettings {
    fn default() -> Self {
        Self {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9091))),
            instances: Vec::new(),
            workers: 8,
            resync_interval: Duration::from_secs(5 * 60),
            resync_removal_bound: crate::read_model::confirm::RemovalBound::default(),
            load_concurrency: 8,
            default_page_size: 100,
            max_page_size: 1000,
            job_wait_for_load: Duration::from_secs(60),
            progress_bars: true,
            replica_id: None,
            read_fence_wait: Duration::from_secs(2),
            snapshot_dir: None,
            snapshot_interval: Duration::from_secs(5 * 60),
            snapshot_max_age: Duration::from_secs(3600),
            max_connection_age: Some(Duration::from_secs(5 * 60)),
            cursor_secret: None,
            cursor_timeout: Duration::from_secs(600),
            expensive_per_connection: 4,
            large_group_members: 5_000,
            job_keys: adapter_api::JobKeys::ephemeral(),
            grpc_tls: None,
            grpc_client_ca: None,
            grpc_secret: Some(random_grpc_secret()),
            tls_poll: transport_tls::DEFAULT_POLL_INTERVAL,
        }
    }
}

/// One Secret Server instance: its name (what connections refer to), how to reach it, and the
/// principals there that no connection may change.
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    pub name: String,
    pub client: ClientConfig,
    /// Besides the API account (always protected): listed users and groups, and the holders of
    /// the administrator role (by default).
    pub protected: crate::ProtectedPrincipals,
    /// The Secret Server group (`Name` for a local group, `DOMAIN\Name` for a directory group: a
    /// plain name never matches a directory group) whose members may sign in to the web console
    /// with their Secret Server credentials; `None`: this instance's accounts cannot.
    pub console_group: Option<String>,
}

impl InstanceSettings {
    /// Instance `name` reached with `client`, with the default protected principals and no
    /// console group.
    pub fn new(name: impl Into<String>, client: ClientConfig) -> Self {
        Self { name: name.into(), client, protected: crate::ProtectedPrincipals::default(), console_group: None }
    }
}

/// A setting that cannot work, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid adapter setting {setting}: {message}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub message: String,
}

impl AdapterSettings {
    /// Checks the settings once, at startup.
    ///
    /// # Errors
    /// A [`SettingsError`] naming the first setting that cannot work.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |setting, message: String| Err(SettingsError { setting, message });
        if self.instances.is_empty() {
            return bad("instances", "at least one Secret Server instance is required".to_owned());
        }
        let mut names = std::collections::HashSet::new();
        for instance in &self.instances {
            let name = instance.name.as_str();
            if name.is_empty()
                || name.len() > 64
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return bad("instances.name", format!("{name:?} must be 1-64 characters among a-z, 0-9, '-' and '_'"));
            }
            if !names.insert(name.to_ascii_lowercase()) {
                return bad("instances.name", format!("{name:?} is configured twice"));
            }
        }
        if self.workers == 0 {
            return bad("workers", "must be at least 1".to_owned());
        }
        if self.grpc_client_ca.is_some() && self.grpc_tls.is_none() {
            return bad(
                "grpc_client_ca",
                "client certificates need the adapter's own certificate (tls_cert, tls_key)".into(),
            );
        }
        match &self.grpc_secret {
            None if self.grpc_client_ca.is_none() => {
                return bad(
                    "grpc_secret",
                    "the gRPC listener needs the gateway's shared secret (adapter_secret) or client certificates \
                     (tls_client_ca): it never serves unauthenticated callers"
                        .to_owned(),
                );
            }
            Some(secret) if secret.expose_secret().chars().count() < MIN_GRPC_SECRET_CHARS => {
                return bad(
                    "grpc_secret",
                    format!(
                        "the shared secret needs at least {MIN_GRPC_SECRET_CHARS} characters (`openssl rand -hex 32`)"
                    ),
                );
            }
            _ => {}
        }
        if self.load_concurrency == 0 {
            return bad("load_concurrency", "must be at least 1".to_owned());
        }
        if self.resync_removal_bound.max_percent > 100 {
            return bad(
                "resync_max_removal_percent",
                format!("must be at most 100, got {}", self.resync_removal_bound.max_percent),
            );
        }
        if self.resync_interval < Duration::from_millis(100) {
            return bad("resync_interval", format!("must be at least 100ms, got {:?}", self.resync_interval));
        }
        if self.default_page_size == 0 || self.default_page_size > self.max_page_size {
            return bad(
                "default_page_size",
                format!("must be between 1 and max_page_size ({}), got {}", self.max_page_size, self.default_page_size),
            );
        }
        if let Some(replica) = &self.replica_id
            && (replica.is_empty() || !replica.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return bad("replica_id", format!("{replica:?} must be letters, digits, '-' or '_'"));
        }
        if self.snapshot_interval < Duration::from_secs(1) {
            return bad("snapshot_interval", format!("must be at least 1s, got {:?}", self.snapshot_interval));
        }
        if self.max_connection_age.is_some_and(|age| age < Duration::from_secs(1)) {
            return bad("max_connection_age", "must be at least 1s".to_owned());
        }
        if self.expensive_per_connection == 0 {
            return bad("expensive_per_connection", "must be at least 1".to_owned());
        }
        if self.cursor_timeout < Duration::from_secs(1) {
            return bad("cursor_timeout", "must be at least 1s".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str) -> InstanceSettings {
        InstanceSettings::new(
            name,
            ClientConfig::new(
                url::Url::parse("http://127.0.0.1:1/SecretServer").unwrap(),
                "api",
                SecretString::from("pw"),
            )
            .allowing_http(),
        )
    }

    #[test]
    fn settings_without_instances_are_refused_naming_the_setting() {
        let err = AdapterSettings::default().validate().unwrap_err();
        assert_eq!(err.setting, "instances");
    }

    #[test]
    fn an_instance_configured_twice_is_refused() {
        let settings =
            AdapterSettings { instances: vec![instance("primary"), instance("PRIMARY")], ..AdapterSettings::default() };
        assert_eq!(settings.validate().unwrap_err().setting, "instances.name");
    }

    #[test]
    fn zero_workers_are_refused() {
        let settings =
            AdapterSettings { instances: vec![instance("primary")], workers: 0, ..AdapterSettings::default() };
        assert_eq!(settings.validate().unwrap_err().setting, "workers");
    }

    #[test]
    fn the_defaults_with_one_instance_are_valid() {
        let settings = AdapterSettings { instances: vec![instance("primary")], ..AdapterSettings::default() };
        settings.validate().unwrap();
    }
}
