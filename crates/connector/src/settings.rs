//! Every setting of every role, defined once: its key in the configuration file, its flag, its
//! environment variable, the roles that take it, and its default. The command line's setting flags
//! are built from this table ([`augment`]), and what the flags and variables say is read back
//! through it ([`overrides`]) to be layered over the file ([`crate::config::load`]).
//!
//! Layering is done here rather than with `figment`: clap already reads each flag and its variable
//! (flag first) with a typed parser that names the flag in its error, and the file is TOML that the
//! `toml` crate parses with line and key in its errors. What is left, putting the values clap read
//! over the file's table, is a few lines; figment would bring a second TOML parser and an
//! environment provider that cannot keep the variable names the connector already has
//! (`REDIS_URL`, `SECRET_SERVER_URL`, `SCIMC_RESYNC_INTERVAL` for an `adapter` key...).
//!
//! docs/configuration.md is the table for people; a test checks that every flag is in it.

use clap::builder::PossibleValuesParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use std::net::SocketAddr;

/// A role: the subcommand a setting is given to. `Global` settings are given to every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Global,
    Dev,
    Gateway,
    Adapter,
    Audit,
    Sim,
    Admin,
    Doctor,
}

impl Role {
    /// Every role that runs with settings (the order of `--help`).
    pub const COMMANDS: [Role; 7] =
        [Role::Dev, Role::Gateway, Role::Adapter, Role::Audit, Role::Sim, Role::Admin, Role::Doctor];

    /// The subcommand's name (`None` for the global settings).
    pub fn command(self) -> Option<&'static str> {
        match self {
            Role::Global => None,
            Role::Dev => Some("dev"),
            Role::Gateway => Some("gateway"),
            Role::Adapter => Some("adapter"),
            Role::Audit => Some("audit"),
            Role::Sim => Some("sim"),
            Role::Admin => Some("admin"),
            Role::Doctor => Some("doctor"),
        }
    }
}

/// What a setting's value is: how the command line parses it and what it becomes in the file's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, kept as given.
    Text,
    /// A socket address (`0.0.0.0:8080`).
    Addr,
    /// A duration (`30s`, `5m`, `400d`).
    Duration,
    /// A whole number.
    Count,
    /// `true` or `false`.
    Bool,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A list: repeat the flag or separate with commas.
    List,
    /// A secret: from its environment variable (or a `*_file` setting); its value never shows in
    /// `--help` or `--print-config`. A secret with a flag keeps an older flag working (`ps` shows it).
    Secret,
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Its key in the configuration file, dotted (`gateway.max_body_bytes`). The Secret Server
    /// instance that flags describe is `secret_servers.primary.<key>`: the `[[secret_servers]]`
    /// entry named `primary`.
    pub key: &'static str,
    /// Its flag, without the dashes (`None`: a secret, from its variable only).
    pub flag: Option<&'static str>,
    /// Its environment variable.
    pub env: &'static str,
    /// The roles that take it.
    pub roles: &'static [Role],
    pub kind: Kind,
    /// The default, as documented (the value itself comes from the role's settings).
    pub default: &'static str,
    pub help: &'static str,
}

use Role::{Adapter, Admin, Audit, Dev, Doctor, Gateway, Global, Sim};

const fn s(
    key: &'static str,
    flag: Option<&'static str>,
    env: &'static str,
    roles: &'static [Role],
    kind: Kind,
    default: &'static str,
    help: &'static str,
) -> Setting {
    Setting { key, flag, env, roles, kind, default, help }
}

/// Every setting. `[[connections]]` is data rather than a setting: the file (or the admin API) holds it.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    // Every role.
    s("data_dir", Some("data-dir"), "SCIMC_DATA_DIR", &[Global], Kind::Text, "./.scim-connector",
      "Directory holding all local state (emulator data, audit log, the gateway's audit spool, dev tokens)"),
    s("shutdown_grace", Some("shutdown-grace"), "SCIMC_SHUTDOWN_GRACE", &[Global], Kind::Duration, "10s",
      "How long a role may take to stop on SIGTERM or Ctrl-C: jobs in flight finish or are released, the audit spool \
       is flushed; the process exits at the end of it whatever Redis and Secret Server do"),
    s("redis_url", Some("redis-url"), "REDIS_URL", &[Global], Kind::Secret, "none",
      "Redis for the job queue, the events stream and shared state (redis:// or rediss://). Without it, `dev` runs an \
       in-process queue and keeps state in the data directory"),
    s("redis_prefix", Some("redis-prefix"), "SCIMC_REDIS_PREFIX", &[Global], Kind::Text, "scimc",
      "Prefix of every Redis key, so that several deployments can share one Redis"),
    s("redis_username", Some("redis-username"), "SCIMC_REDIS_USERNAME", &[Global], Kind::Text,
      "the URL's, else none", "ACL user of Redis (replaces a user in redis_url; needs redis_password)"),
    s("redis_password", None, "SCIMC_REDIS_PASSWORD", &[Global], Kind::Secret, "the URL's, else none",
      "Password of the Redis ACL user, or requirepass (replaces a password in redis_url)"),
    s("redis_password_file", Some("redis-password-file"), "SCIMC_REDIS_PASSWORD_FILE", &[Global], Kind::Text,
      "none", "File holding the Redis password (e.g. a mounted secret)"),
    s("redis_tls_ca_file", Some("redis-tls-ca-file"), "SCIMC_REDIS_TLS_CA_FILE", &[Global], Kind::Text,
      "the system's trust store", "PEM bundle of the CA that signed Redis's certificate (rediss:// only)"),
    s("redis_tls_cert_file", Some("redis-tls-cert-file"), "SCIMC_REDIS_TLS_CERT_FILE", &[Global], Kind::Text,
      "none", "PEM client certificate for a Redis that requires one (tls-auth-clients yes)"),
    s("redis_tls_key_file", Some("redis-tls-key-file"), "SCIMC_REDIS_TLS_KEY_FILE", &[Global], Kind::Text, "none",
      "PEM private key of the Redis client certificate"),
    s("redis_sentinels", Some("redis-sentinel"), "SCIMC_REDIS_SENTINELS", &[Global], Kind::List, "none",
      "Redis Sentinel addresses (host:port, or rediss://host:port for TLS); Redis is then the primary they \
       name for redis_sentinel_master, instead of redis_url. Repeat or separate with commas"),
    s("redis_sentinel_master", Some("redis-sentinel-master"), "SCIMC_REDIS_SENTINEL_MASTER", &[Global], Kind::Text,
      "none", "Name of the group Sentinel monitors (sentinel monitor <name> ...)"),
    s("redis_sentinel_username", Some("redis-sentinel-username"), "SCIMC_REDIS_SENTINEL_USERNAME", &[Global],
      Kind::Text, "none", "ACL user of the Sentinel processes, when they require one"),
    s("redis_sentinel_password", None, "SCIMC_REDIS_SENTINEL_PASSWORD", &[Global], Kind::Secret, "none",
      "Password of the Sentinel processes"),
    s("redis_sentinel_password_file", Some("redis-sentinel-password-file"), "SCIMC_REDIS_SENTINEL_PASSWORD_FILE",
      &[Global], Kind::Text, "none", "File holding the Sentinel password (e.g. a mounted secret)"),
    s("redis_wait_replicas", Some("redis-wait-replicas"), "SCIMC_REDIS_WAIT_REPLICAS", &[Global], Kind::Count,
      "1 with Sentinel, else 0", "Replicas that must hold a job's submission before it is acknowledged (WAIT), so \
       that a failover loses no acknowledged job"),
    s("log_format", Some("log-format"), "SCIMC_LOG_FORMAT", &[Global], Kind::Choice(&["json", "pretty"]),
      "pretty on a terminal, json otherwise", "Log format (the filter is RUST_LOG)"),
    // The connector's own admin credentials.
    s("admin_token_sha256", Some("admin-token-sha256"), "SCIMC_ADMIN_TOKEN_SHA256", &[Dev, Gateway, Audit], Kind::List,
      "none (dev: a generated token)", "SHA-256 (hex) of an accepted admin token; repeat or separate with commas"),
    s("admin_token", Some("admin-token"), "SCIMC_ADMIN_TOKEN", &[Gateway, Audit], Kind::Secret, "none",
      "An accepted admin token, in clear (hashed at start; prefer the variable or admin_token_file)"),
    s("admin_token", Some("token"), "SCIMC_ADMIN_TOKEN", &[Admin], Kind::Secret, "<data-dir>/admin-token",
      "The admin token the admin command presents (prefer the variable or admin_token_file)"),
    s("admin_token_file", Some("admin-token-file"), "SCIMC_ADMIN_TOKEN_FILE", &[Gateway, Audit, Admin], Kind::Text,
      "none", "File holding the admin token (e.g. a mounted secret)"),
    // The keys that seal passwords in provisioning jobs (the gateway seals, the adapter opens).
    s("job_encryption_keys", None, "SCIMC_JOB_ENCRYPTION_KEYS", &[Dev, Gateway, Adapter], Kind::Secret,
      "none (dev: made once in <data-dir>/job-encryption-keys)",
      "Keys that encrypt passwords in provisioning jobs, <id>:<base64 of 32 bytes>, oldest first (comma or line \
       separated): the last encrypts, every one decrypts. Required by gateway and adapter"),
    s("job_encryption_keys_file", Some("job-encryption-keys-file"), "SCIMC_JOB_ENCRYPTION_KEYS_FILE",
      &[Dev, Gateway, Adapter], Kind::Text, "none", "File holding the job encryption keys, one per line (e.g. a mounted secret)"),
    // The gateway-adapter hop.
    s("adapter_secret", None, "SCIMC_ADAPTER_SECRET", &[Gateway, Adapter], Kind::Secret,
      "none (dev: a generated one)", "Shared secret the gateway presents in every gRPC call and the adapter requires \
       (at least 32 characters); required by the adapter unless it verifies client certificates (adapter.tls_client_ca)"),
    s("adapter_secret_file", Some("adapter-secret-file"), "SCIMC_ADAPTER_SECRET_FILE", &[Gateway, Adapter], Kind::Text,
      "none", "File holding the gateway-adapter shared secret (e.g. a mounted secret)"),
    // Gateway.
    s("gateway.tls_cert", Some("tls-cert"), "SCIMC_TLS_CERT", &[Dev, Gateway], Kind::Text, "none: plain HTTP",
      "PEM certificate chain of the gateway's listeners (and the metrics listener; dev: every listener): with \
       tls_key, HTTPS only (TLS 1.2 and 1.3), re-read when the file changes"),
    s("gateway.tls_key", Some("tls-key"), "SCIMC_TLS_KEY", &[Dev, Gateway], Kind::Text, "none",
      "PEM private key of gateway.tls_cert"),
    s("gateway.adapter_tls_ca", Some("adapter-tls-ca"), "SCIMC_GATEWAY_ADAPTER_TLS_CA", &[Gateway], Kind::Text,
      "none: plain gRPC", "PEM CA bundle the adapter's certificate must chain to (adapter_url https:// only)"),
    s("gateway.jwks_ca_file", Some("jwks-ca-file"), "SCIMC_GATEWAY_JWKS_CA_FILE", &[Dev, Gateway], Kind::Text,
      "none: the system's trust store", "PEM CA bundle for the key sets (JWKS) of connections' JWT issuers"),
    s("gateway.console_session_idle", Some("console-session-idle"), "SCIMC_CONSOLE_SESSION_IDLE", &[Dev, Gateway],
      Kind::Duration, "30m", "A web console session unused this long ends"),
    s("gateway.console_session_lifetime", Some("console-session-lifetime"), "SCIMC_CONSOLE_SESSION_LIFETIME",
      &[Dev, Gateway], Kind::Duration, "12h", "A web console session ends this long after sign-in, used or not"),
    s("gateway.audit_url", Some("audit-url"), "SCIMC_GATEWAY_AUDIT_URL", &[Gateway], Kind::Text,
      "none: the console's audit pages say it is not configured (dev: its own audit service)",
      "Base URL of the audit service the web console's audit pages read (with admin_token)"),
    s("gateway.audit_ca_file", Some("audit-ca-file"), "SCIMC_GATEWAY_AUDIT_CA_FILE", &[Dev, Gateway], Kind::Text,
      "none: the system's trust store (dev: gateway.tls_cert)", "PEM CA bundle the audit service's certificate must chain to"),
    s("gateway.adapter_tls_cert", Some("adapter-tls-cert"), "SCIMC_GATEWAY_ADAPTER_TLS_CERT", &[Gateway], Kind::Text,
      "none", "PEM client certificate the gateway presents to the adapter"),
    s("gateway.adapter_tls_key", Some("adapter-tls-key"), "SCIMC_GATEWAY_ADAPTER_TLS_KEY", &[Gateway], Kind::Text,
      "none", "PEM private key of gateway.adapter_tls_cert"),
    s("gateway.listen", Some("gateway-listen"), "SCIMC_GATEWAY_LISTEN", &[Dev, Gateway], Kind::Addr,
      "127.0.0.1:8080", "SCIM gateway listen address"),
    s("gateway.public_url", Some("public-url"), "SCIMC_PUBLIC_URL", &[Dev, Gateway], Kind::Text,
      "from the request's Host header", "Public base URL of the gateway, for Location headers and meta.location"),
    s("gateway.adapter_url", Some("adapter-url"), "SCIMC_ADAPTER_URL", &[Gateway], Kind::Text,
      "http://127.0.0.1:50051", "gRPC URL of the adapter"),
    s("gateway.max_body_bytes", Some("max-body-bytes"), "SCIMC_GATEWAY_MAX_BODY_BYTES", &[Dev, Gateway], Kind::Count,
      "1048576", "Largest request body in bytes (Bulk has its own limit)"),
    s("gateway.job_timeout", Some("job-timeout"), "SCIMC_GATEWAY_JOB_TIMEOUT", &[Dev, Gateway], Kind::Duration, "30s",
      "How long a write waits for its provisioning job: one no adapter took by then is withdrawn (503, not applied), one an adapter took is answered 504"),
    s("gateway.bulk_max_operations", Some("bulk-max-operations"), "SCIMC_GATEWAY_BULK_MAX_OPERATIONS",
      &[Dev, Gateway], Kind::Count, "1000", "The most operations in one Bulk request"),
    s("gateway.bulk_max_payload_bytes", Some("bulk-max-payload-bytes"), "SCIMC_GATEWAY_BULK_MAX_PAYLOAD_BYTES",
      &[Dev, Gateway], Kind::Count, "1048576", "Largest Bulk request body in bytes"),
    s("gateway.bulk_deadline", Some("bulk-deadline"), "SCIMC_GATEWAY_BULK_DEADLINE", &[Dev, Gateway], Kind::Duration,
      "60s", "How long a Bulk request may run: operations not started by then fail with 503 in their own result"),
    s("gateway.default_rate_limit", Some("default-rate-limit"), "SCIMC_GATEWAY_DEFAULT_RATE_LIMIT", &[Dev, Gateway],
      Kind::Count, "50", "Requests per second of a connection without a limit of its own (a Bulk takes one per \
       operation); 0: such connections are unlimited"),
    s("gateway.default_rate_burst", Some("default-rate-burst"), "SCIMC_GATEWAY_DEFAULT_RATE_BURST", &[Dev, Gateway],
      Kind::Count, "100", "Burst of a connection without a limit of its own (requests at once beyond the rate)"),
    s("gateway.audit_when_behind", Some("audit-when-behind"), "SCIMC_GATEWAY_AUDIT_WHEN_BEHIND", &[Dev, Gateway],
      Kind::Choice(&["refuse", "drop"]), "refuse",
      "When the gateway's audit spool is full: refuse SCIM calls (503) or serve them and drop (log, count) their events"),
    s("gateway.audit_spool_max_bytes", Some("audit-spool-max-bytes"), "SCIMC_GATEWAY_AUDIT_SPOOL_MAX_BYTES",
      &[Dev, Gateway], Kind::Count, "268435456",
      "Most bytes of unpublished audit events in the gateway's spool (<data-dir>/gateway-audit-spool), where a \
       call's event goes when the events stream cannot take it"),
    s("gateway.audit_append_timeout", Some("audit-append-timeout"), "SCIMC_GATEWAY_AUDIT_APPEND_TIMEOUT",
      &[Dev, Gateway], Kind::Duration, "500ms",
      "How long appending a call's audit event to the events stream may take before it goes to the spool instead"),
    s("gateway.metrics_listen", Some("metrics-listen"), "SCIMC_GATEWAY_METRICS_LISTEN", &[Dev, Gateway], Kind::Addr,
      "none: the gateway listener serves them",
      "Listen address of /metrics and the detailed /readyz; when set, the gateway listener keeps only /healthz and a \
       bare /readyz"),
    s("gateway.trusted_proxies", Some("trusted-proxies"), "SCIMC_GATEWAY_TRUSTED_PROXIES", &[Dev, Gateway], Kind::List,
      "none", "Addresses or networks (10.0.0.0/8) of the proxies whose X-Forwarded-For names the client; repeat or \
       separate with commas"),
    s("gateway.password_check_concurrency", Some("password-check-concurrency"),
      "SCIMC_GATEWAY_PASSWORD_CHECK_CONCURRENCY", &[Dev, Gateway], Kind::Count, "one per CPU",
      "Password hashes (Basic, OAuth client secrets) verified at once; beyond it 503 with Retry-After"),
    // Adapter.
    s("adapter.listen", Some("adapter-listen"), "SCIMC_ADAPTER_LISTEN", &[Dev, Adapter], Kind::Addr,
      "127.0.0.1:50051", "Adapter gRPC listen address"),
    s("adapter.http_listen", Some("http-listen"), "SCIMC_ADAPTER_HTTP_LISTEN", &[Adapter], Kind::Addr,
      "127.0.0.1:9091", "Listen address of the adapter's /healthz, /readyz and /metrics (dev: the gateway serves them)"),
    s("adapter.tls_cert", Some("tls-cert"), "SCIMC_ADAPTER_TLS_CERT", &[Adapter], Kind::Text, "none: plain gRPC",
      "PEM certificate chain of the adapter: with tls_key, gRPC over TLS only (and HTTPS on http_listen), re-read \
       when the file changes"),
    s("adapter.tls_key", Some("tls-key"), "SCIMC_ADAPTER_TLS_KEY", &[Adapter], Kind::Text, "none",
      "PEM private key of adapter.tls_cert"),
    s("adapter.tls_client_ca", Some("tls-client-ca"), "SCIMC_ADAPTER_TLS_CLIENT_CA", &[Adapter], Kind::Text, "none",
      "PEM CA bundle the gateway's client certificate must chain to: callers without one are refused at the handshake"),
    s("adapter.workers", Some("workers"), "SCIMC_ADAPTER_WORKERS", &[Dev, Adapter], Kind::Count, "8",
      "Concurrent provisioning workers"),
    s("adapter.resync_interval", Some("resync-interval"), "SCIMC_RESYNC_INTERVAL", &[Dev, Adapter], Kind::Duration,
      "5m", "How often the read model is reconciled with Secret Server"),
    s("adapter.resync_max_removal_percent", Some("resync-max-removal-percent"),
      "SCIMC_RESYNC_MAX_REMOVAL_PERCENT", &[Dev, Adapter], Kind::Count, "5",
      "Share of the records held (percent) one resync may drop; beyond it, or beyond resync_max_removals, the read \
       model is kept until the next resync agrees"),
    s("adapter.resync_max_removals", Some("resync-max-removals"), "SCIMC_RESYNC_MAX_REMOVALS", &[Dev, Adapter],
      Kind::Count, "1000", "Records one resync may drop; beyond it the read model is kept until the next resync agrees"),
    s("adapter.expensive_per_connection", Some("expensive-per-connection"),
      "SCIMC_ADAPTER_EXPENSIVE_PER_CONNECTION", &[Dev, Adapter], Kind::Count, "4",
      "Expensive requests (unindexed searches and sorts, PATCHes with filtered member paths) one connection may run \
       at once; beyond, 429"),
    s("adapter.large_group_members", Some("large-group-members"), "SCIMC_ADAPTER_LARGE_GROUP_MEMBERS", &[Dev, Adapter],
      Kind::Count, "5000", "A read of a group of more members than this that renders them counts as expensive work"),
    s("adapter.cursor_secret", None, "SCIMC_CURSOR_SECRET", &[Dev, Adapter], Kind::Secret,
      "a random key kept in the shared state", "Key that seals list cursors (give every adapter replica the same)"),
    s("adapter.replica_id", Some("replica-id"), "SCIMC_ADAPTER_REPLICA_ID", &[Adapter], Kind::Text,
      "none: the only replica", "This replica's stable name (the pod name of a StatefulSet): with several adapters, \
       each follows the events stream as consumer group adapter-<replica_id>, so reads on every replica see the others' \
       writes"),
    s("adapter.snapshot_dir", Some("snapshot-dir"), "SCIMC_ADAPTER_SNAPSHOT_DIR", &[Adapter], Kind::Text,
      "<data-dir>/adapter", "Where the read model's snapshot is kept; a restart starts from it instead of reading \
       everything from Secret Server (empty: no snapshot)"),
    s("adapter.snapshot_interval", Some("snapshot-interval"), "SCIMC_ADAPTER_SNAPSHOT_INTERVAL", &[Adapter],
      Kind::Duration, "5m", "How often the snapshot is written (and at shutdown)"),
    s("adapter.snapshot_max_age", Some("snapshot-max-age"), "SCIMC_ADAPTER_SNAPSHOT_MAX_AGE", &[Adapter],
      Kind::Duration, "1h", "An older snapshot is discarded at start (keep it below the events stream's retention)"),
    s("adapter.max_connection_age", Some("max-connection-age"), "SCIMC_ADAPTER_MAX_CONNECTION_AGE", &[Adapter],
      Kind::Duration, "5m", "gRPC connections are closed gracefully after this long, so that gateways reconnect \
       and spread their calls over the replicas again"),
    // The Secret Server instance `primary`.
    s("secret_servers.primary.url", Some("secret-server-url"), "SECRET_SERVER_URL", &[Adapter, Doctor], Kind::Text, "none",
      "Base URL of Secret Server, e.g. https://vault.example.com/SecretServer"),
    s("secret_servers.primary.username", Some("secret-server-username"), "SECRET_SERVER_USERNAME", &[Adapter, Doctor],
      Kind::Text, "none", "API account of Secret Server (an application account)"),
    s("secret_servers.primary.password", None, "SECRET_SERVER_PASSWORD", &[Adapter, Doctor], Kind::Secret, "none",
      "Password of the API account"),
    s("secret_servers.primary.password_file", Some("secret-server-password-file"), "SECRET_SERVER_PASSWORD_FILE",
      &[Adapter, Doctor], Kind::Text, "none", "File holding the password of the API account (e.g. a mounted secret)"),
    s("secret_servers.primary.sign_in", Some("secret-server-sign-in"), "SECRET_SERVER_SIGN_IN", &[Adapter, Doctor],
      Kind::Choice(&["password", "api-token", "platform"]), "password",
      "How the adapter signs in: password (the OAuth2 password grant), api-token (a pre-issued API token), platform \
       (Secret Server Cloud: the Delinea Platform's client credentials)"),
    s("secret_servers.primary.api_token", None, "SECRET_SERVER_API_TOKEN", &[Adapter, Doctor], Kind::Secret, "none",
      "The pre-issued API token (sign_in = api-token)"),
    s("secret_servers.primary.api_token_file", Some("secret-server-api-token-file"), "SECRET_SERVER_API_TOKEN_FILE",
      &[Adapter, Doctor], Kind::Text, "none", "File holding the pre-issued API token"),
    s("secret_servers.primary.platform_url", Some("secret-server-platform-url"), "SECRET_SERVER_PLATFORM_URL",
      &[Adapter, Doctor], Kind::Text, "none", "The Delinea Platform's URL, e.g. https://tenant.delinea.app (sign_in = \
       platform; url, when left out, is the vault the platform's vault broker names)"),
    s("secret_servers.primary.client_id", Some("secret-server-client-id"), "SECRET_SERVER_CLIENT_ID", &[Adapter, Doctor],
      Kind::Text, "none", "The platform service user's client id (sign_in = platform)"),
    s("secret_servers.primary.client_secret", None, "SECRET_SERVER_CLIENT_SECRET", &[Adapter, Doctor], Kind::Secret,
      "none", "The platform service user's client secret"),
    s("secret_servers.primary.client_secret_file", Some("secret-server-client-secret-file"),
      "SECRET_SERVER_CLIENT_SECRET_FILE", &[Adapter, Doctor], Kind::Text, "none",
      "File holding the platform service user's client secret"),
    s("secret_servers.primary.domain", Some("secret-server-domain"), "SECRET_SERVER_DOMAIN", &[Adapter, Doctor], Kind::Text,
      "none: a local account", "Active Directory domain of the API account"),
    s("secret_servers.primary.request_timeout", Some("secret-server-request-timeout"),
      "SECRET_SERVER_REQUEST_TIMEOUT", &[Adapter, Doctor], Kind::Duration, "30s", "Timeout of one call to Secret Server"),
    s("secret_servers.primary.max_concurrent_requests", Some("secret-server-max-concurrent-requests"),
      "SECRET_SERVER_MAX_CONCURRENT_REQUESTS", &[Adapter, Doctor], Kind::Count, "16",
      "Calls to Secret Server in flight at once: the most the adaptive bound reaches, or the fixed bound"),
    s("secret_servers.primary.adaptive_concurrency", Some("secret-server-adaptive-concurrency"),
      "SECRET_SERVER_ADAPTIVE_CONCURRENCY", &[Adapter, Doctor], Kind::Bool, "true",
      "The bound on calls in flight adapts to the server: grows while latency stays near its minimum, shrinks on a \
       queue, 503, 429 or timeouts, and holds calls back for a Retry-After; false: fixed at max_concurrent_requests"),
    s("secret_servers.primary.min_concurrent_requests", Some("secret-server-min-concurrent-requests"),
      "SECRET_SERVER_MIN_CONCURRENT_REQUESTS", &[Adapter, Doctor], Kind::Count, "8",
      "The fewest calls in flight the adaptive bound goes down to"),
    s("secret_servers.primary.initial_concurrent_requests", Some("secret-server-initial-concurrent-requests"),
      "SECRET_SERVER_INITIAL_CONCURRENT_REQUESTS", &[Adapter, Doctor], Kind::Count, "8",
      "Where the adaptive bound starts"),
    s("secret_servers.primary.circuit_breaker", Some("secret-server-circuit-breaker"),
      "SECRET_SERVER_CIRCUIT_BREAKER", &[Adapter, Doctor], Kind::Bool, "true",
      "Calls fail at once (nothing sent, 503 with Retry-After) while the instance is not answering: after \
       circuit_breaker_failures calls in a row time out or cannot connect, until one call probes it after the \
       cooldown and is answered; false: every call waits out its own timeout"),
    s("secret_servers.primary.circuit_breaker_failures", Some("secret-server-circuit-breaker-failures"),
      "SECRET_SERVER_CIRCUIT_BREAKER_FAILURES", &[Adapter, Doctor], Kind::Count, "5",
      "Calls in a row without an answer (timeout, connection refused or broken) that open the circuit; any answer, \
       an error status too, resets the count"),
    s("secret_servers.primary.circuit_breaker_cooldown", Some("secret-server-circuit-breaker-cooldown"),
      "SECRET_SERVER_CIRCUIT_BREAKER_COOLDOWN", &[Adapter, Doctor], Kind::Duration, "10s",
      "How long calls fail at once before one call probes the instance"),
    s("secret_servers.primary.circuit_breaker_max_cooldown", Some("secret-server-circuit-breaker-max-cooldown"),
      "SECRET_SERVER_CIRCUIT_BREAKER_MAX_COOLDOWN", &[Adapter, Doctor], Kind::Duration, "2m",
      "The longest cooldown: it doubles after each probe that gets no answer"),
    s("secret_servers.primary.protected_users", Some("secret-server-protected-users"), "SECRET_SERVER_PROTECTED_USERS",
      &[Adapter, Doctor], Kind::List, "none (the API account is always protected)",
      "Users (by name) no connection may change; repeat or separate with commas"),
    s("secret_servers.primary.protected_groups", Some("secret-server-protected-groups"),
      "SECRET_SERVER_PROTECTED_GROUPS", &[Adapter, Doctor], Kind::List, "none",
      "Groups (by name) no connection may change, nor their members; repeat or separate with commas"),
    s("secret_servers.primary.protect_administrators", Some("secret-server-protect-administrators"),
      "SECRET_SERVER_PROTECT_ADMINISTRATORS", &[Adapter, Doctor], Kind::Bool, "true",
      "No connection may change the holders of the administrator role (directly or through a group) or the groups that hold it"),
    s("secret_servers.primary.administrator_role", Some("secret-server-administrator-role"),
      "SECRET_SERVER_ADMINISTRATOR_ROLE", &[Adapter, Doctor], Kind::Text, "Administrator",
      "Secret Server's administrator role, whose holders are protected"),
    s("secret_servers.primary.console_group", Some("secret-server-console-group"), "SECRET_SERVER_CONSOLE_GROUP",
      &[Adapter], Kind::Text, "none: no sign-in with this instance's accounts",
      "Secret Server group (Name, or DOMAIN\\Name) whose members may sign in to the web console with their Secret \
       Server credentials (checked by Secret Server at each sign-in; no password is kept)"),
    s("secret_servers.primary.ca_file", Some("secret-server-ca-file"), "SECRET_SERVER_CA_FILE", &[Adapter], Kind::Text,
      "the system's trust store", "PEM bundle of the CA(s) Secret Server's certificate must chain to, trusted instead \
       of the system's store (certificate verification cannot be turned off)"),
    s("secret_servers.primary.allow_insecure_http", Some("secret-server-allow-insecure-http"),
      "SECRET_SERVER_ALLOW_INSECURE_HTTP", &[Adapter], Kind::Bool, "false",
      "Accept an http:// url, sending the API account's password in clear (an emulator on the same host only); \
       otherwise an http:// url is refused at start"),
    // Audit.
    s("audit.listen", Some("audit-listen"), "SCIMC_AUDIT_LISTEN", &[Dev, Audit], Kind::Addr, "127.0.0.1:8090",
      "Audit query API listen address"),
    s("audit.tls_cert", Some("tls-cert"), "SCIMC_AUDIT_TLS_CERT", &[Audit], Kind::Text, "none: plain HTTP",
      "PEM certificate chain of the audit API: with tls_key, HTTPS only, re-read when the file changes"),
    s("audit.tls_key", Some("tls-key"), "SCIMC_AUDIT_TLS_KEY", &[Audit], Kind::Text, "none",
      "PEM private key of audit.tls_cert"),
    s("audit.retention", Some("retention"), "SCIMC_AUDIT_RETENTION", &[Dev, Audit], Kind::Duration,
      "keep everything", "Delete audit records older than this (e.g. 400d)"),
    s("audit.key", None, "SCIMC_AUDIT_KEY", &[Dev, Audit], Kind::Secret,
      "none (dev: made once in <data-dir>/audit-key)",
      "Key of the audit chain's HMAC, at least 32 bytes, kept out of the data directory. Required by audit"),
    s("audit.key_file", Some("audit-key-file"), "SCIMC_AUDIT_KEY_FILE", &[Dev, Audit], Kind::Text, "none",
      "File holding the audit chain key (e.g. a mounted secret)"),
    s("audit.head_file", Some("audit-head-file"), "SCIMC_AUDIT_HEAD_FILE", &[Dev, Audit], Kind::Text,
      "<data-dir>/audit/heads.jsonl",
      "Append-only file the audit chain's head is exported to (and audit verify checks); keep it off the database's volume"),
    s("audit.head_interval", Some("audit-head-interval"), "SCIMC_AUDIT_HEAD_INTERVAL", &[Dev, Audit],
      Kind::Duration, "1m", "How often the audit chain's head is exported (a log line and a line of the head file)"),
    s("audit.batch_linger", Some("audit-batch-linger"), "SCIMC_AUDIT_BATCH_LINGER", &[Dev, Audit], Kind::Duration,
      "5ms", "After a batch of events smaller than the batch size, how long the audit service waits before reading \
       the stream again, so that the events arriving meanwhile are recorded in one transaction (one fsync); 0: at once"),
    // The Secret Server emulator.
    s("sim.listen", Some("sim-listen"), "SCIMC_SIM_LISTEN", &[Dev, Sim], Kind::Addr, "127.0.0.1:8081",
      "Secret Server emulator listen address"),
    s("sim.base_path", Some("sim-base-path"), "SCIMC_SIM_BASE_PATH", &[Dev, Sim], Kind::Text, "/SecretServer",
      "Base path of the emulated Secret Server"),
    s("sim.api_username", Some("api-username"), "SCIMC_SIM_API_USERNAME", &[Dev, Sim], Kind::Text, "scim-api",
      "User name of the emulator's API account"),
    s("sim.api_password", None, "SCIMC_SIM_API_PASSWORD", &[Dev, Sim], Kind::Secret,
      "generated once, kept in <data-dir>/sim-credentials", "Password of the emulator's API account"),
    s("sim.seed", Some("seed"), "SCIMC_SIM_SEED", &[Dev, Sim], Kind::Text, "demo",
      "What a fresh emulator starts with: empty, demo, or a JSON seed file"),
    s("sim.data_dir", Some("sim-data-dir"), "SCIMC_SIM_DATA_DIR", &[Dev, Sim], Kind::Text, "<data-dir>/secret-server",
      "Where the emulator keeps its state"),
    s("sim.token_lifetime", Some("sim-token-lifetime"), "SCIMC_SIM_TOKEN_LIFETIME", &[Dev, Sim], Kind::Duration,
      "20m", "Lifetime of the emulator's access tokens"),
    s("sim.refresh_tokens", Some("sim-refresh-tokens"), "SCIMC_SIM_REFRESH_TOKENS", &[Dev, Sim], Kind::Bool, "true",
      "Whether the emulator offers refresh tokens"),
    s("sim.tls_cert", Some("tls-cert"), "SCIMC_SIM_TLS_CERT", &[Sim], Kind::Text, "none: plain HTTP",
      "PEM certificate chain of the emulator: with tls_key, HTTPS only (as a real Secret Server), re-read when the \
       file changes"),
    s("sim.tls_key", Some("tls-key"), "SCIMC_SIM_TLS_KEY", &[Sim], Kind::Text, "none", "PEM private key of sim.tls_cert"),
    s("sim.workers", Some("sim-workers"), "SCIMC_SIM_WORKERS", &[Dev, Sim], Kind::Count, "one per core",
      "HTTP worker threads of the emulator"),
    s("sim.password_policy.min_length", Some("sim-password-min-length"), "SCIMC_SIM_PASSWORD_MIN_LENGTH", &[Dev, Sim],
      Kind::Count, "8", "Shortest password the emulator accepts for a local user"),
    s("sim.password_policy.min_character_classes", Some("sim-password-min-character-classes"),
      "SCIMC_SIM_PASSWORD_MIN_CHARACTER_CLASSES", &[Dev, Sim], Kind::Count, "3",
      "Character classes (of upper, lower, digit, symbol) a password needs"),
    s("sim.password_policy.require_uppercase", Some("sim-password-require-uppercase"),
      "SCIMC_SIM_PASSWORD_REQUIRE_UPPERCASE", &[Dev, Sim], Kind::Bool, "false", "A password needs an upper-case letter"),
    s("sim.password_policy.require_lowercase", Some("sim-password-require-lowercase"),
      "SCIMC_SIM_PASSWORD_REQUIRE_LOWERCASE", &[Dev, Sim], Kind::Bool, "false", "A password needs a lower-case letter"),
    s("sim.password_policy.require_digit", Some("sim-password-require-digit"), "SCIMC_SIM_PASSWORD_REQUIRE_DIGIT",
      &[Dev, Sim], Kind::Bool, "false", "A password needs a digit"),
    s("sim.password_policy.require_symbol", Some("sim-password-require-symbol"), "SCIMC_SIM_PASSWORD_REQUIRE_SYMBOL",
      &[Dev, Sim], Kind::Bool, "false", "A password needs a symbol"),
    s("sim.revoked_permissions", Some("sim-revoke-permission"), "SCIMC_SIM_REVOKED_PERMISSIONS", &[Dev, Sim], Kind::List, "none",
      "Role permissions taken from the emulator's API account (e.g. \"View Roles\"), to see what a vault without them does; repeat or separate with commas"),
    s("sim.leniency.unlimited_administration", Some("sim-unlimited-administration"), "SCIMC_SIM_UNLIMITED_ADMINISTRATION", &[Dev, Sim], Kind::Bool, "false",
      "Leniency: the API account sees and changes every folder and secret whatever their permissions (Secret Server's unlimited administration)"),
    s("sim.leniency.delete_inactive_user", Some("sim-lenient-delete-inactive-user"), "SCIMC_SIM_LENIENT_DELETE_INACTIVE_USER", &[Dev, Sim], Kind::Bool, "false",
      "Leniency: deleting an already inactive user succeeds (Secret Server refuses it)"),
    s("sim.capacity.in_flight", Some("sim-capacity-in-flight"), "SCIMC_SIM_CAPACITY_IN_FLIGHT", &[Dev, Sim], Kind::Count,
      "0: no bound", "Capacity model: requests the emulator serves at once; beyond, they wait (also PUT /_sim/capacity)"),
    s("sim.capacity.latency_ms", Some("sim-capacity-latency-ms"), "SCIMC_SIM_CAPACITY_LATENCY_MS", &[Dev, Sim], Kind::Count,
      "0", "Capacity model: milliseconds each request holds its place"),
    s("sim.capacity.queue_length", Some("sim-capacity-queue-length"), "SCIMC_SIM_CAPACITY_QUEUE_LENGTH", &[Dev, Sim],
      Kind::Count, "0", "Capacity model: requests that may wait for a place; beyond, 503 with IIS's page"),
    s("sim.access_denied_status", Some("sim-access-denied-status"), "SCIMC_SIM_ACCESS_DENIED_STATUS", &[Dev, Sim], Kind::Count, "400",
      "Status of an access-denied answer: 400 (errorCode API_AccessDenied) or 403 ({\"message\":\"Access Denied\"})"),
    s("sim.user_licenses", Some("sim-user-licenses"), "SCIMC_SIM_USER_LICENSES", &[Dev, Sim], Kind::Count, "no limit",
      "User licences: enabled users who are not application accounts the emulator allows"),
    s("sim.health_check_casing", Some("sim-health-check-casing"), "SCIMC_SIM_HEALTH_CHECK_CASING", &[Dev, Sim], Kind::Choice(&["camel", "pascal"]), "camel",
      "Casing of the health check's properties: camel (healthy, as the published API) or pascal (Healthy)"),
    s("sim.api_token", None, "SCIMC_SIM_API_TOKEN", &[Dev, Sim], Kind::Secret, "none",
      "A pre-issued API token that signs the emulator's API account in (Authorization: Bearer)"),
    s("sim.platform_client_id", Some("sim-platform-client-id"), "SCIMC_SIM_PLATFORM_CLIENT_ID", &[Dev, Sim], Kind::Text, "scim-connector",
      "Client id of the emulated Delinea Platform's service user"),
    s("sim.platform_client_secret", None, "SCIMC_SIM_PLATFORM_CLIENT_SECRET", &[Dev, Sim], Kind::Secret, "none: no platform served",
      "Client secret of the emulated Delinea Platform's service user; with it the emulator serves /platform (token endpoint, vault broker)"),
    // The admin command.
    s("admin.url", Some("url"), "SCIMC_ADMIN_URL", &[Admin], Kind::Text, "http://127.0.0.1:8080",
      "Base URL of the gateway"),
];

impl Setting {
    /// Whether `role` takes this setting.
    pub fn applies_to(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The flag as clap builds it, listed by `--help` in the table's order.
    fn arg(&self, flag: &'static str, order: usize) -> Arg {
        let mut arg =
            Arg::new(self.key).long(flag).env(self.env).help(format!("{} [default: {}]", self.help, self.default));
        arg = match self.kind {
            Kind::Text if self.key.ends_with("_dir") || self.key.ends_with("_file") => arg.value_name("PATH"),
            Kind::Text if self.key.ends_with("url") => arg.value_name("URL"),
            Kind::Text => arg.value_name("TEXT"),
            Kind::Addr => arg.value_name("ADDR").value_parser(|v: &str| {
                v.parse::<SocketAddr>().map(|_| v.to_owned()).map_err(|e| format!("not an address (host:port): {e}"))
            }),
            Kind::Duration => arg.value_name("DURATION").value_parser(|v: &str| {
                humantime::parse_duration(v).map(|_| v.to_owned()).map_err(|e| format!("not a duration (30s, 5m): {e}"))
            }),
            Kind::Count => arg.value_name("N").value_parser(clap::value_parser!(u64)),
            Kind::Bool => arg.value_name("BOOL").value_parser(clap::value_parser!(bool)),
            Kind::Choice(words) => arg.value_name("WORD").value_parser(PossibleValuesParser::new(words)),
            Kind::List => arg.value_name("TEXT").action(ArgAction::Append).value_delimiter(','),
            Kind::Secret => arg.value_name("SECRET").hide_env_values(true),
        };
        let arg = arg.display_order(order);
        if self.applies_to(Global) { arg.global(true) } else { arg }
    }

    /// What the flag or its variable said, as a value of the file's table; `None` when neither was given.
    fn value(&self, matches: &ArgMatches) -> Option<toml::Value> {
        if !matches!(matches.value_source(self.key), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            return None;
        }
        Some(match self.kind {
            Kind::Count => toml::Value::Integer(i64::try_from(*matches.get_one::<u64>(self.key)?).unwrap_or(i64::MAX)),
            Kind::Bool => toml::Value::Boolean(*matches.get_one::<bool>(self.key)?),
            Kind::List => toml::Value::Array(
                matches
                    .get_many::<String>(self.key)?
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(|v| toml::Value::String(v.to_owned()))
                    .collect(),
            ),
            _ => toml::Value::String(matches.get_one::<String>(self.key)?.clone()),
        })
    }
}

/// Adds the setting flags to the command line: the global ones to the top, each role's to its subcommand.
pub fn augment(mut command: clap::Command) -> clap::Command {
    for (order, setting) in SETTINGS.iter().enumerate().filter(|(_, s)| s.applies_to(Global)) {
        if let Some(flag) = setting.flag {
            command = command.arg(setting.arg(flag, order));
        }
    }
    for role in Role::COMMANDS {
        let Some(name) = role.command() else { continue };
        command = command.mut_subcommand(name, |mut sub| {
            for (order, setting) in SETTINGS.iter().enumerate().filter(|(_, s)| s.applies_to(role)) {
                if let Some(flag) = setting.flag {
                    sub = sub.arg(setting.arg(flag, order));
                }
            }
            sub
        });
    }
    command
}

/// A value from a flag or a variable, to be put over the file at `key`.
pub type Override = (&'static str, toml::Value);

/// What the flags and variables say for the role that runs, in the order of [`SETTINGS`]; secrets
/// without a flag are read from their variables (`env`) here.
pub fn overrides(matches: &ArgMatches, env: impl Fn(&str) -> Option<String>) -> Vec<Override> {
    let (role, role_matches) = match matches.subcommand() {
        Some((name, sub)) => (Role::COMMANDS.into_iter().find(|r| r.command() == Some(name)), sub),
        None => (None, matches),
    };
    let mut found = Vec::new();
    for setting in SETTINGS {
        let here = setting.applies_to(Global) || role.is_some_and(|r| setting.applies_to(r));
        if !here {
            continue;
        }
        let value = match setting.flag {
            // Global flags are visible in the subcommand's matches whether given before or after it.
            Some(_) => setting.value(role_matches),
            None => env(setting.env).filter(|v| !v.is_empty()).map(toml::Value::String),
        };
        if let Some(value) = value {
            found.push((setting.key, value));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_one_key_per_role_and_a_variable_of_its_own() {
        let mut seen = std::collections::HashSet::new();
        for setting in SETTINGS {
            for role in setting.roles {
                assert!(seen.insert((setting.key, *role)), "{} is given twice to {role:?}", setting.key);
            }
            assert!(setting.flag.is_some() || setting.kind == Kind::Secret, "{} needs a flag", setting.key);
        }
        let mut variables = std::collections::HashMap::new();
        for setting in SETTINGS {
            let key = variables.entry(setting.env).or_insert(setting.key);
            assert_eq!(*key, setting.key, "{} names two settings", setting.env);
        }
    }

    fn parse(args: &[&str], env: impl Fn(&str) -> Option<String>) -> Result<Vec<Override>, clap::Error> {
        let args = std::iter::once("scim-connector").chain(args.iter().copied());
        crate::cli::Cli::try_parse_with_settings(args, env).map(|(_, overrides)| overrides)
    }

    fn value<'a>(overrides: &'a [Override], key: &str) -> Option<&'a toml::Value> {
        overrides.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    #[test]
    fn flags_become_typed_values_at_their_keys() {
        let found =
            parse(&["gateway", "--job-timeout", "9s", "--max-body-bytes", "7", "--admin-token-sha256", "a, b"], |_| {
                None
            })
            .unwrap();
        assert_eq!(value(&found, "gateway.job_timeout"), Some(&toml::Value::String("9s".into())));
        assert_eq!(value(&found, "gateway.max_body_bytes"), Some(&toml::Value::Integer(7)));
        assert_eq!(value(&found, "admin_token_sha256"), Some(&toml::Value::Array(vec!["a".into(), "b".into()])));
        assert_eq!(value(&found, "gateway.bulk_max_operations"), None, "a flag not given sets nothing");
    }

    #[test]
    fn global_flags_count_before_and_after_the_role() {
        for args in [&["--redis-prefix", "p1", "audit", "verify"][..], &["audit", "verify", "--redis-prefix", "p1"]] {
            let found = parse(args, |_| None).unwrap();
            assert_eq!(value(&found, "redis_prefix"), Some(&toml::Value::String("p1".into())), "{args:?}");
        }
    }

    #[test]
    fn a_secret_without_a_flag_comes_from_its_variable_for_the_roles_that_take_it() {
        let env = |name: &str| (name == "SECRET_SERVER_PASSWORD").then(|| "pw".to_owned());
        let adapter = parse(&["adapter"], env).unwrap();
        assert_eq!(value(&adapter, "secret_servers.primary.password"), Some(&toml::Value::String("pw".into())));
        let gateway = parse(&["gateway"], env).unwrap();
        assert_eq!(value(&gateway, "secret_servers.primary.password"), None);
    }

    #[test]
    fn a_flag_of_another_role_is_refused() {
        let err = parse(&["gateway", "--workers", "3"], |_| None).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
