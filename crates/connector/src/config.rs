//! The configuration: the file (TOML), with the environment variables and the flags layered over
//! it, every setting by the same rule (flag, then variable, then file, then default). Which flag and
//! variable set which key is the table of [`crate::settings`]; docs/configuration.md lists them all.
//!
//! ```toml
//! data_dir = "/var/lib/scim-connector"
//! shutdown_grace = "10s"                       # SIGTERM: every role stops within it
//! redis_url = "rediss://redis:6380"            # or REDIS_URL; or Sentinel, below
//! redis_username = "scim-connector"            # ACL user; the password: SCIMC_REDIS_PASSWORD or:
//! redis_password_file = "/run/secrets/redis-password"
//! redis_tls_ca_file = "/etc/scim-connector/redis-ca.pem"
//! redis_tls_cert_file = "/etc/scim-connector/redis-client.pem"   # when Redis asks for client certificates
//! redis_tls_key_file = "/etc/scim-connector/redis-client.key"
//! # redis_sentinels = ["sentinel-0:26379", "sentinel-1:26379", "sentinel-2:26379"]   # instead of redis_url
//! # redis_sentinel_master = "scim"
//! # redis_sentinel_password_file = "/run/secrets/sentinel-password"
//! # redis_wait_replicas = 1                    # default with Sentinel
//! admin_token_sha256 = ["9f86d08..."]
//! admin_token_file = "/run/secrets/admin-token" # or SCIMC_ADMIN_TOKEN
//! job_encryption_keys_file = "/run/secrets/job-encryption-keys"   # or SCIMC_JOB_ENCRYPTION_KEYS
//! adapter_secret_file = "/run/secrets/adapter-secret"   # or SCIMC_ADAPTER_SECRET; gateway and adapter alike
//!
//! [gateway]
//! listen = "0.0.0.0:8080"
//! tls_cert = "/etc/scim-connector/tls/tls.crt"  # HTTPS only (TLS 1.2/1.3); both files re-read when they change
//! tls_key = "/etc/scim-connector/tls/tls.key"
//! adapter_url = "https://adapter:50051"        # https: TLS to the adapter, verified against adapter_tls_ca
//! adapter_tls_ca = "/etc/scim-connector/tls/ca.crt"
//! adapter_tls_cert = "/etc/scim-connector/tls/client.crt"   # the gateway's client certificate (mTLS)
//! adapter_tls_key = "/etc/scim-connector/tls/client.key"
//! public_url = "https://scim.example.com"
//! max_body_bytes = 1048576
//! job_timeout = "30s"
//! bulk_max_operations = 1000
//! bulk_max_payload_bytes = 1048576
//! bulk_deadline = "60s"
//! default_rate_limit = 50                      # per second, for connections without their own (0: none)
//! default_rate_burst = 100
//! audit_when_behind = "refuse"                 # or "drop": see scim_gateway::AuditBacklogPolicy
//! audit_spool_max_bytes = 268435456            # the audit spool in <data_dir>/gateway-audit-spool
//! audit_append_timeout = "500ms"               # beyond it, a call's audit event is spooled
//! metrics_listen = "0.0.0.0:9090"              # /metrics and the detailed /readyz, apart
//! trusted_proxies = ["10.0.0.0/8"]             # whose X-Forwarded-For names the client
//! password_check_concurrency = 2               # Argon2 checks at once (default: one per CPU)
//!
//! [adapter]
//! listen = "0.0.0.0:50051"
//! http_listen = "0.0.0.0:9091"
//! tls_cert = "/etc/scim-connector/tls/tls.crt"  # gRPC over TLS (and HTTPS on http_listen)
//! tls_key = "/etc/scim-connector/tls/tls.key"
//! tls_client_ca = "/etc/scim-connector/tls/ca.crt"   # callers must present a certificate from this CA
//! workers = 8
//! resync_interval = "5m"
//! expensive_per_connection = 4
//!
//! [audit]
//! listen = "0.0.0.0:8090"
//! tls_cert = "/etc/scim-connector/tls/tls.crt"  # HTTPS only
//! tls_key = "/etc/scim-connector/tls/tls.key"
//! retention = "400d"
//! key_file = "/run/secrets/audit-key"          # or SCIMC_AUDIT_KEY; never in the data directory
//! head_file = "/var/log/scim-connector/audit-heads.jsonl"
//! head_interval = "1m"
//!
//! [sim]                                        # the emulator (`sim`, `dev`)
//! seed = "demo"
//!
//! [admin]                                      # `scim-connector admin`
//! url = "https://scim.example.com"
//!
//! [[secret_servers]]                           # `primary`: also the SECRET_SERVER_* variables
//! name = "primary"
//! url = "https://vault.example.com/SecretServer"
//! username = "svc-scim"
//! password_file = "/run/secrets/secret-server-password"
//! request_timeout = "30s"
//! ca_file = "/etc/scim-connector/secret-server-ca.pem"   # a private CA (default: the system's trust store)
//! # allow_insecure_http = true                 # only for an emulator on the same host: http:// is refused otherwise
//! protected_users = ["break.glass"]            # no connection may change them (nor the API account)
//! protected_groups = ["Vault Owners"]
//! protect_administrators = true                # holders of administrator_role, directly or through a group
//! administrator_role = "Administrator"
//! console_group = "SCIM Console Admins"        # its members sign in to the console with their Secret Server credentials
//!
//! [[connections]]
//! id = "sailpoint"
//! displayName = "SailPoint IdentityIQ"
//! secretServer = "primary"
//! credentials = { bearerTokens = [{ id = "t1", sha256 = "..." }] }
//! scope = { resourceTypes = { User = { read = true, create = true, update = true } }, principals = { reach = "createdByConnection" } }
//! policies = { passwordChange = "createdByConnection", unknownAttributes = "reject" }  # unknownAttributes: refuse attributes the schema does not define (default: ignore)
//! ```
//!
//! Secrets are never required in the file: each has an environment variable
//! or a `*_file` key pointing at a mounted secret.
//!
//! Every key has its default here (taken from the role's own settings type), so the roles read the
//! resolved values without a layer of their own.

use crate::settings::Override;
use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration, resolved. Every key is optional in the file.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// How long a role may take to stop on SIGTERM (finishing or releasing its work, flushing).
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    pub redis_url: Option<SecretString>,
    pub redis_prefix: String,
    /// The ACL user (replaces one in `redis_url`).
    pub redis_username: Option<String>,
    pub redis_password: Option<SecretString>,
    pub redis_password_file: Option<PathBuf>,
    pub redis_tls_ca_file: Option<PathBuf>,
    pub redis_tls_cert_file: Option<PathBuf>,
    pub redis_tls_key_file: Option<PathBuf>,
    /// Sentinel addresses: Redis is the primary they name (`redis_sentinel_master`), not `redis_url`.
    pub redis_sentinels: Vec<String>,
    pub redis_sentinel_master: Option<String>,
    pub redis_sentinel_username: Option<String>,
    pub redis_sentinel_password: Option<SecretString>,
    pub redis_sentinel_password_file: Option<PathBuf>,
    /// Replicas that must hold a job's submission before it is acknowledged; `None`: 1 with Sentinel, else 0.
    pub redis_wait_replicas: Option<u32>,
    /// The keys that seal passwords in provisioning jobs (`<id>:<base64>`, oldest first).
    pub job_encryption_keys: Option<SecretString>,
    pub job_encryption_keys_file: Option<PathBuf>,
    pub log_format: Option<crate::cli::LogFormat>,
    pub admin_token_sha256: Vec<String>,
    /// The connector's admin token in clear (from `SCIMC_ADMIN_TOKEN`, preferably).
    pub admin_token: Option<SecretString>,
    pub admin_token_file: Option<PathBuf>,
    /// The gateway-adapter shared secret.
    pub adapter_secret: Option<SecretString>,
    pub adapter_secret_file: Option<PathBuf>,
    pub gateway: GatewaySection,
    pub adapter: AdapterSection,
    pub audit: AuditSection,
    pub sim: secret_server_sim::Settings,
    pub admin: AdminSection,
    pub secret_servers: Vec<SecretServerSection>,
    pub connections: Vec<serde_json::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".scim-connector"),
            shutdown_grace: Duration::from_secs(10),
            redis_url: None,
            redis_prefix: "scimc".to_owned(),
            redis_username: None,
            redis_password: None,
            redis_password_file: None,
            redis_tls_ca_file: None,
            redis_tls_cert_file: None,
            redis_tls_key_file: None,
            redis_sentinels: Vec::new(),
            redis_sentinel_master: None,
            redis_sentinel_username: None,
            redis_sentinel_password: None,
            redis_sentinel_password_file: None,
            redis_wait_replicas: None,
            job_encryption_keys: None,
            job_encryption_keys_file: None,
            log_format: None,
            admin_token_sha256: Vec::new(),
            admin_token: None,
            admin_token_file: None,
            adapter_secret: None,
            adapter_secret_file: None,
            gateway: GatewaySection::default(),
            adapter: AdapterSection::default(),
            audit: AuditSection::default(),
            sim: secret_server_sim::Settings::default(),
            admin: AdminSection::default(),
            secret_servers: Vec::new(),
            connections: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySection {
    pub listen: SocketAddr,
    pub adapter_url: String,
    pub public_url: Option<String>,
    /// Largest request body in bytes (Bulk has its own limit).
    pub max_body_bytes: usize,
    /// How long a write waits for its provisioning job.
    #[serde(with = "humantime_serde")]
    pub job_timeout: Duration,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    /// How long a Bulk request may run.
    #[serde(with = "humantime_serde")]
    pub bulk_deadline: Duration,
    /// Requests per second of a connection without a limit of its own; 0: unlimited.
    pub default_rate_limit: u32,
    /// Burst of a connection without a limit of its own.
    pub default_rate_burst: u32,
    /// When the audit trail cannot keep up: `refuse` SCIM calls (`503`, the default) or `drop` events.
    pub audit_when_behind: scim_gateway::AuditBacklogPolicy,
    /// The most bytes of unpublished audit events the gateway's spool (in the data directory) holds.
    pub audit_spool_max_bytes: u64,
    /// How long appending a call's audit event to the events stream may take before it is spooled.
    #[serde(with = "humantime_serde")]
    pub audit_append_timeout: Duration,
    /// Where `/metrics` and the detailed `/readyz` are served, apart from the SCIM listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Addresses or networks of the proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Argon2 verifications at once; `None`: one per CPU.
    pub password_check_concurrency: Option<usize>,
    /// The listeners' certificate and key (HTTPS only when set).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// TLS to the adapter: the CA of its certificate, the gateway's certificate and key.
    pub adapter_tls_ca: Option<PathBuf>,
    /// A PEM CA bundle for the JWKS endpoints of connections' JWT issuers; `None`: the system's.
    pub jwks_ca_file: Option<PathBuf>,
    pub adapter_tls_cert: Option<PathBuf>,
    pub adapter_tls_key: Option<PathBuf>,
    /// The web console's idle and absolute session lifetimes.
    #[serde(with = "humantime_serde")]
    pub console_session_idle: Duration,
    #[serde(with = "humantime_serde")]
    pub console_session_lifetime: Duration,
    /// The audit service the console's audit pages read, and the CA of its certificate.
    pub audit_url: Option<String>,
    pub audit_ca_file: Option<PathBuf>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        let d = scim_gateway::GatewaySettings::default();
        Self {
            listen: d.listen,
            adapter_url: d.adapter_url,
            public_url: None,
            max_body_bytes: d.limits.max_body_bytes,
            job_timeout: d.job_deadline,
            bulk_max_operations: d.limits.bulk_max_operations,
            bulk_max_payload_bytes: d.limits.bulk_max_payload_bytes,
            bulk_deadline: d.bulk_deadline,
            default_rate_limit: d.default_rate_limit.map_or(0, |l| l.requests_per_second as u32),
            default_rate_burst: d.default_rate_limit.map_or(0, |l| l.burst),
            audit_when_behind: d.audit.when_behind,
            audit_spool_max_bytes: d.audit.spool_max_bytes,
            audit_append_timeout: d.audit.append_timeout,
            metrics_listen: d.metrics_listen,
            trusted_proxies: Vec::new(),
            password_check_concurrency: None,
            tls_cert: None,
            tls_key: None,
            adapter_tls_ca: None,
            jwks_ca_file: None,
            adapter_tls_cert: None,
            adapter_tls_key: None,
            console_session_idle: d.console.session_idle,
            console_session_lifetime: d.console.session_lifetime,
            audit_url: None,
            audit_ca_file: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdapterSection {
    pub listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub workers: usize,
    #[serde(with = "humantime_serde")]
    pub resync_interval: Duration,
    /// Share of the records held (percent) one resync may drop.
    pub resync_max_removal_percent: u32,
    /// Records one resync may drop.
    pub resync_max_removals: usize,
    /// The key that seals list cursors; `None`: a random key kept in the shared state.
    pub cursor_secret: Option<SecretString>,
    /// Expensive requests one connection may run at once.
    pub expensive_per_connection: usize,
    /// A read of a group of more members than this that renders them is expensive.
    pub large_group_members: usize,
    /// The adapter's certificate and key (gRPC over TLS when set), and the CA of its callers' certificates.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    /// This replica's stable name; `None`: the only replica.
    pub replica_id: Option<String>,
    /// Where the read model's snapshot is kept; `None`: `<data-dir>/adapter`; empty: none.
    pub snapshot_dir: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    pub snapshot_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub snapshot_max_age: Duration,
    #[serde(with = "humantime_serde")]
    pub max_connection_age: Duration,
}

impl Default for AdapterSection {
    fn default() -> Self {
        let d = secret_server_adapter::AdapterSettings::default();
        Self {
            listen: d.grpc_listen,
            http_listen: d.http_listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9091))),
            workers: d.workers,
            resync_interval: d.resync_interval,
            resync_max_removal_percent: d.resync_removal_bound.max_percent,
            resync_max_removals: d.resync_removal_bound.max_count,
            cursor_secret: None,
            expensive_per_connection: d.expensive_per_connection,
            large_group_members: d.large_group_members,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            replica_id: None,
            snapshot_dir: None,
            snapshot_interval: d.snapshot_interval,
            snapshot_max_age: d.snapshot_max_age,
            max_connection_age: d.max_connection_age.unwrap_or(Duration::from_secs(300)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    pub listen: SocketAddr,
    #[serde(with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// The audit chain's HMAC key (at least 32 bytes).
    pub key: Option<SecretString>,
    pub key_file: Option<PathBuf>,
    /// Where the chain's head is exported; `None`: `<data-dir>/audit/heads.jsonl`.
    pub head_file: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    pub head_interval: Duration,
    /// After a batch that did not fill, how long the consumer waits before reading again.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
    /// The audit API's certificate and key (HTTPS only when set).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for AuditSection {
    fn default() -> Self {
        let d = audit::AuditSettings::default();
        Self {
            listen: d.listen,
            retention: d.retention,
            key: None,
            key_file: None,
            head_file: d.head_file,
            head_interval: d.head_interval,
            batch_linger: d.batch_linger,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// Where `scim-connector admin` finds the gateway.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    pub url: String,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self { url: "http://127.0.0.1:8080".to_owned() }
    }
}

/// One Secret Server instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretServerSection {
    pub name: String,
    /// Required; empty when the flags of `primary` left it out (reported when the adapter starts).
    #[serde(default)]
    pub url: String,
    /// Required, as `url`.
    #[serde(default)]
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
    /// Whether the bound on calls in flight adapts to the server (default true).
    #[serde(default = "yes")]
    pub adaptive_concurrency: bool,
    /// The adaptive bound's floor (default 8).
    #[serde(default)]
    pub min_concurrent_requests: Option<usize>,
    /// Where the adaptive bound starts (default 8).
    #[serde(default)]
    pub initial_concurrent_requests: Option<usize>,
    /// Whether calls fail at once while the instance is not answering (default true): see
    /// `secret_server_client::CircuitBreaker`.
    #[serde(default = "yes")]
    pub circuit_breaker: bool,
    /// Calls in a row without an answer before the circuit opens (default 5).
    #[serde(default)]
    pub circuit_breaker_failures: Option<u32>,
    /// How long calls fail at once before one probes the instance (default 10 s).
    #[serde(default, with = "humantime_serde::option")]
    pub circuit_breaker_cooldown: Option<Duration>,
    /// The longest cooldown, doubled after each probe without an answer (default 2 minutes).
    #[serde(default, with = "humantime_serde::option")]
    pub circuit_breaker_max_cooldown: Option<Duration>,
    /// Users no connection may change, by name (the API account always is).
    #[serde(default)]
    pub protected_users: Vec<String>,
    /// Groups no connection may change, by name.
    #[serde(default)]
    pub protected_groups: Vec<String>,
    /// Whether the holders of `administrator_role` (directly or through a group), and the groups
    /// that hold it, are protected (default true).
    #[serde(default = "yes")]
    pub protect_administrators: bool,
    /// Secret Server's administrator role (default `Administrator`).
    #[serde(default)]
    pub administrator_role: Option<String>,
    /// The group whose members may sign in to the web console with their Secret Server
    /// credentials (`Name` for a local group, `DOMAIN\Name` for a directory group; default none:
    /// they cannot).
    #[serde(default)]
    pub console_group: Option<String>,
    /// How the adapter signs in: `password` (default), `api-token` or `platform`.
    #[serde(default)]
    pub sign_in: Option<String>,
    /// A pre-issued API token (`sign_in = "api-token"`).
    #[serde(default)]
    pub api_token: Option<SecretString>,
    #[serde(default)]
    pub api_token_file: Option<PathBuf>,
    /// The Delinea Platform's URL (`sign_in = "platform"`).
    #[serde(default)]
    pub platform_url: Option<String>,
    /// The platform service user's client id and secret.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// PEM bundle of the CAs Secret Server's certificate must chain to (instead of the system's
    /// trust store). Verification cannot be turned off.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept an `http://` url (the password in clear): an emulator on the same host only.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

fn yes() -> bool {
    true
}

/// The instance that the `SECRET_SERVER_*` variables and `--secret-server-*` flags describe.
pub const PRIMARY: &str = "primary";

/// Reads the file (or nothing), then puts the values of the flags and variables over it.
///
/// # Errors
/// A file that cannot be read or does not parse (the message names the file and the key), or a
/// value that does not fit its key (the message names the key).
pub fn load(path: Option<&Path>, overrides: &[Override]) -> anyhow::Result<Config> {
    let mut table = match path {
        None => toml::Table::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            // The file alone first, so that its mistakes are reported with their line and key.
            let invalid = |e: toml::de::Error| {
                anyhow::anyhow!("invalid configuration file {}: {}", path.display(), one_line(&text, &e))
            };
            toml::from_str::<Config>(&text).map_err(invalid)?;
            toml::from_str::<toml::Table>(&text).map_err(invalid)?
        }
    };
    for (key, value) in overrides {
        set(&mut table, key, value.clone()).with_context(|| format!("cannot set {key}"))?;
    }
    Config::deserialize(toml::Value::Table(table)).map_err(|e| {
        // One line: the error names the key on a line of its own.
        let text = e.to_string();
        anyhow::anyhow!("invalid configuration: {}", text.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// A TOML error as one line: where (line, and the key written there under its table header) and what.
fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    let Some(span) = error.span() else { return message.to_owned() };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let this_line = text.lines().nth(line - 1).unwrap_or_default();
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let key = this_line.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.starts_with('['));
    match (table, key) {
        (Some(table), Some(key)) => format!("line {line}, {table}.{key}: {message}"),
        (None, Some(key)) => format!("line {line}, {key}: {message}"),
        _ => format!("line {line}: {message}"),
    }
}

/// Puts `value` at the dotted `key` of `table`; `secret_servers.primary.<key>` is a key of the
/// `[[secret_servers]]` entry named `primary` (created when the file has none).
fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> anyhow::Result<()> {
    if let Some(field) = key.strip_prefix("secret_servers.primary.") {
        let list = table.entry("secret_servers").or_insert_with(|| toml::Value::Array(Vec::new()));
        let toml::Value::Array(list) = list else { bail!("secret_servers is not a list") };
        let position = list.iter().position(|s| s.get("name").and_then(toml::Value::as_str) == Some(PRIMARY));
        let secret = matches!(field, "password" | "password_file");
        if position.is_none() && secret {
            // A password alone describes no instance (a deployment may set it for every service).
            return Ok(());
        }
        let index = position.unwrap_or_else(|| {
            list.push(toml::Value::Table(toml::Table::from_iter([("name".to_owned(), PRIMARY.into())])));
            list.len() - 1
        });
        let Some(entry) = list[index].as_table_mut() else { bail!("secret_servers[{index}] is not a table") };
        // A password from a higher layer replaces the lower layer's password and password file alike.
        if secret {
            entry.remove("password");
            entry.remove("password_file");
        }
        entry.insert(field.to_owned(), value);
        return Ok(());
    }
    let (path, last) = key.rsplit_once('.').map_or((None, key), |(path, last)| (Some(path), last));
    let mut here = table;
    for part in path.into_iter().flat_map(|p| p.split('.')) {
        let next = here.entry(part).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = next.as_table_mut().with_context(|| format!("{part} is not a table"))?;
    }
    here.insert(last.to_owned(), value);
    Ok(())
}

/// A certificate and key given together, or neither; `setting` is their prefix (`gateway.tls`).
///
/// # Errors
/// One without the other, or a file that does not exist (one line naming the setting and the file).
pub fn server_tls(
    setting: &str,
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
) -> anyhow::Result<Option<transport_tls::ServerTlsFiles>> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(transport_tls::ServerTlsFiles { cert: cert.clone(), key: key.clone() })),
        (Some(_), None) => bail!("invalid setting {setting}_key: {setting}_cert needs its key"),
        (None, Some(_)) => bail!("invalid setting {setting}_cert: {setting}_key needs its certificate"),
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

    fn documented_example() -> String {
        let doc = include_str!("config.rs");
        doc.lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or("").to_owned() + "\n")
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn the_documented_example_parses() {
        let config: Config = toml::from_str(&documented_example()).unwrap();
        assert_eq!(config.secret_servers[0].name, "primary");
        assert_eq!(config.adapter.resync_interval, Duration::from_secs(300));
        assert_eq!(config.connections.len(), 1);
        assert_eq!(config.gateway.audit_when_behind, scim_gateway::AuditBacklogPolicy::Refuse);
    }

    #[test]
    fn the_documented_connection_reads_as_a_connection_with_its_principal_scope_and_password_policy() {
        let config: Config = toml::from_str(&documented_example()).unwrap();
        let connection: connections::Connection = serde_json::from_value(config.connections[0].clone()).unwrap();
        assert_eq!(connection.scope.principals.reach, connections::PrincipalReach::CreatedByConnection);
        assert_eq!(connection.policies.password_change, connections::PasswordChangePolicy::CreatedByConnection);
        assert_eq!(config.secret_servers[0].protected_users, ["break.glass"]);
    }

    #[test]
    fn without_a_file_every_setting_has_its_role_s_default() {
        let config = load(None, &[]).unwrap();
        let gateway = scim_gateway::GatewaySettings::default();
        assert_eq!(config.gateway.listen, gateway.listen);
        assert_eq!(config.gateway.job_timeout, gateway.job_deadline);
        assert_eq!(config.gateway.max_body_bytes, gateway.limits.max_body_bytes);
        assert_eq!(config.adapter.workers, secret_server_adapter::AdapterSettings::default().workers);
        assert_eq!(config.redis_prefix, "scimc");
        assert_eq!(config.data_dir, PathBuf::from(".scim-connector"));
    }

    #[test]
    fn a_flag_or_variable_wins_over_the_file_and_the_file_over_the_default() {
        let file = file("[gateway]\nmax_body_bytes = 10\njob_timeout = \"7s\"\n");
        let config = load(Some(file.path()), &[("gateway.max_body_bytes", toml::Value::Integer(20))]).unwrap();
        assert_eq!(config.gateway.max_body_bytes, 20, "the flag or variable wins");
        assert_eq!(config.gateway.job_timeout, Duration::from_secs(7), "the file wins over the default");
        assert_eq!(config.gateway.bulk_max_operations, 1000, "the default where nothing is said");
    }

    #[test]
    fn flags_for_the_primary_instance_change_only_what_they_say_of_the_file_s_entry() {
        let file = file(
            "[[secret_servers]]\nname = \"primary\"\nurl = \"https://a.example/SecretServer\"\nusername = \"svc\"\n\
             password_file = \"/run/secrets/pw\"\n\n[[secret_servers]]\nname = \"other\"\n\
             url = \"https://b.example/SecretServer\"\nusername = \"svc-b\"\npassword = \"b\"\n",
        );
        let overrides = [
            ("secret_servers.primary.url", toml::Value::String("https://c.example/SecretServer".into())),
            ("secret_servers.primary.password", toml::Value::String("from-the-environment".into())),
        ];
        let config = load(Some(file.path()), &overrides).unwrap();
        let primary = &config.secret_servers[0];
        assert_eq!((primary.name.as_str(), primary.url.as_str()), ("primary", "https://c.example/SecretServer"));
        assert_eq!(primary.username, "svc", "the file's user name stays");
        assert!(
            primary.password.is_some() && primary.password_file.is_none(),
            "the variable's password replaces the file"
        );
        assert_eq!(config.secret_servers[1].name, "other", "other instances are the file's");
    }

    #[test]
    fn flags_alone_describe_the_primary_instance() {
        let overrides = [
            ("secret_servers.primary.url", toml::Value::String("https://c.example/SecretServer".into())),
            ("secret_servers.primary.username", toml::Value::String("svc".into())),
        ];
        let config = load(None, &overrides).unwrap();
        assert_eq!(config.secret_servers.len(), 1);
        assert_eq!(config.secret_servers[0].name, PRIMARY);
    }

    #[test]
    fn protected_principals_come_from_the_file_and_from_the_flags_for_the_primary_instance() {
        let file = file(
            "[[secret_servers]]\nname = \"primary\"\nurl = \"https://a.example/SecretServer\"\nusername = \"svc\"\n\
             protected_groups = [\"Vault Owners\"]\nprotect_administrators = false\n",
        );
        let overrides =
            [("secret_servers.primary.protected_users", toml::Value::Array(vec!["break.glass".into(), "cto".into()]))];
        let config = load(Some(file.path()), &overrides).unwrap();
        let primary = &config.secret_servers[0];
        assert_eq!(primary.protected_users, ["break.glass", "cto"]);
        assert_eq!(primary.protected_groups, ["Vault Owners"]);
        assert!(!primary.protect_administrators);
        let defaults = load(None, &[("secret_servers.primary.url", toml::Value::String("u".into()))]).unwrap();
        assert!(defaults.secret_servers[0].protect_administrators, "administrators are protected by default");
        assert_eq!(defaults.secret_servers[0].administrator_role, None);
    }

    #[test]
    fn the_audit_backlog_policy_is_refuse_or_drop() {
        let config: Config = toml::from_str("[gateway]\naudit_when_behind = \"drop\"\n").unwrap();
        assert_eq!(config.gateway.audit_when_behind, scim_gateway::AuditBacklogPolicy::Drop);
        let err = toml::from_str::<Config>("[gateway]\naudit_when_behind = \"ignore\"\n").unwrap_err();
        assert!(err.to_string().contains("refuse"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let file = file("[gateway]\nlisten_port = 8080\n");
        let err = format!("{:#}", load(Some(file.path()), &[]).unwrap_err());
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_in_the_file_is_an_error_naming_its_key() {
        let file = file("[adapter]\nworkers = \"many\"\n");
        let err = format!("{:#}", load(Some(file.path()), &[]).unwrap_err());
        assert!(err.contains("workers"), "{err}");
    }
}
