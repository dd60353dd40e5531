//! The gateway's settings: where it listens, where the adapter is, its admin
//! credentials, and every limit, deadline and threshold, each with a default.

use crate::auth_failures::SummarySettings;
use crate::front_door::TrustedProxies;
use crate::throttle::ThrottleSettings;
use connections::{RateLimit, VerifierSettings};
use scim::FilterLimits;
use std::net::SocketAddr;
use std::time::Duration;

/// The rate limit of a connection that sets none: 50 requests per second, bursts of 100. A Bulk
/// request takes a token per operation.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit { requests_per_second: 50.0, burst: 100 };

/// Everything the gateway needs to start; [`Default`] gives a working local setup.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Where the HTTP server listens (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where `/metrics` and the detailed `/readyz` are served instead, when set; the main listener
    /// then keeps only `/healthz` and a bare `/readyz` (ready or not, no details).
    pub metrics_listen: Option<SocketAddr>,
    /// The proxies whose `X-Forwarded-For` names the client (default: none, the TCP peer is the
    /// client); the client's address is what failed authentications are throttled and audited by.
    pub trusted_proxies: TrustedProxies,
    /// The adapter's gRPC `Directory` endpoint.
    pub adapter_url: String,
    /// The public base URL (`https://scim.example.com`) used in `Location` and
    /// `meta.location`; without it, the request's scheme and `Host` are used.
    pub public_url: Option<url::Url>,
    /// Lower-case hex SHA-256 of each admin token accepted by `/admin/v1`.
    pub admin_token_sha256: Vec<String>,
    /// Request and response limits.
    pub limits: Limits,
    /// How long a write waits for its job's result: then a job no worker took is withdrawn (`503`,
    /// not applied), and one a worker took answers `504` (it goes on).
    pub job_deadline: Duration,
    /// Timeout of one gRPC call to the adapter.
    pub grpc_timeout: Duration,
    /// Timeout of establishing the gRPC connection.
    pub grpc_connect_timeout: Duration,
    pub breaker: BreakerSettings,
    /// The rate limit of connections that do not set their own (50 requests per second with a
    /// burst of 100); `None`: those connections are unlimited.
    pub default_rate_limit: Option<RateLimit>,
    /// How long a Bulk request may run: operations not started by then fail with `503` in their
    /// own result, as does one whose job no worker took (withdrawn, not applied); one whose job a
    /// worker took answers `504` (its job goes on).
    pub bulk_deadline: Duration,
    /// Lifetime of the OAuth2 access tokens of clients registered through the admin API.
    pub oauth_token_ttl: Duration,
    /// Whether HTTP Basic is accepted (and advertised) for connections that have a Basic credential.
    pub allow_basic: bool,
    /// The in-process caches of verified and of wrong credentials, and the bound on password
    /// hashes computed at once (`max_concurrent_hashes`, default one per CPU).
    pub credential_cache: VerifierSettings,
    /// How failed authentications are throttled per client address and per credential identifier.
    pub auth_throttle: ThrottleSettings,
    /// How failed authentications are summarised in the audit trail.
    pub auth_failure_summaries: SummarySettings,
    /// How long a shutdown may take: requests in flight finish and the audit spool is published
    /// within it (what is left stays in the spool for the next start).
    pub shutdown_grace: Duration,
    pub audit: AuditSettings,
    /// HTTP worker threads; 0: one per CPU.
    pub http_workers: usize,
    /// How long the adapter's list cursors stay valid (advertised as RFC 9865 `cursorTimeout`;
    /// keep it equal to the adapter's `cursor_timeout`).
    pub cursor_timeout: Duration,
    /// The keys that seal the passwords of provisioning jobs (the last seals; the adapters must
    /// hold it). Default: the process's own random key, which suits an adapter in the same process only.
    pub job_keys: adapter_api::JobKeys,
    /// The certificate and key of the gateway's listeners (and the metrics listener): with them,
    /// HTTPS only; the files are re-read when they change.
    pub tls: Option<transport_tls::ServerTlsFiles>,
    /// How often the TLS files are checked for a change.
    pub tls_poll: Duration,
    /// The secret the adapter requires in every call (its `grpc_secret`).
    pub adapter_secret: Option<secrecy::SecretString>,
    /// TLS to the adapter (`https://` adapter URL): the CA its certificate chains to, and the
    /// gateway's client certificate and key.
    pub adapter_tls: Option<transport_tls::ClientTlsFiles>,
    /// How the keys of connections' JWT issuers are fetched and tokens' times judged.
    pub jwt: crate::jwt::JwtSettings,
    /// The web console's sessions and the audit service it reads.
    pub console: crate::console::ConsoleSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            trusted_proxies: TrustedProxies::default(),
            adapter_url: "http://127.0.0.1:50051".to_owned(),
            public_url: None,
            admin_token_sha256: Vec::new(),
            limits: Limits::default(),
            job_deadline: Duration::from_secs(30),
            grpc_timeout: Duration::from_secs(10),
            grpc_connect_timeout: Duration::from_secs(3),
            breaker: BreakerSettings::default(),
            default_rate_limit: Some(DEFAULT_RATE_LIMIT),
            bulk_deadline: Duration::from_secs(60),
            oauth_token_ttl: Duration::from_secs(3600),
            allow_basic: true,
            credential_cache: VerifierSettings::default(),
            auth_throttle: ThrottleSettings::default(),
            auth_failure_summaries: SummarySettings::default(),
            audit: AuditSettings::default(),
            shutdown_grace: Duration::from_secs(10),
            http_workers: 0,
            cursor_timeout: Duration::from_secs(600),
            job_keys: adapter_api::JobKeys::ephemeral(),
            tls: None,
            tls_poll: transport_tls::DEFAULT_POLL_INTERVAL,
            adapter_secret: None,
            adapter_tls: None,
            jwt: crate::jwt::JwtSettings::default(),
            console: crate::console::ConsoleSettings::default(),
        }
    }
}

impl GatewaySettings {
    /// Checks the settings once, at startup.
    ///
    /// # Errors
    /// One line naming the first invalid setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.adapter_url.starts_with("http://") || self.adapter_url.starts_with("https://")) {
            return Err(format!("adapter_url must be an http:// or https:// URL, got {:?}", self.adapter_url));
        }
        for (i, hash) in self.admin_token_sha256.iter().enumerate() {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("admin_token_sha256[{i}] must be 64 hex digits (a SHA-256)"));
            }
        }
        let l = &self.limits;
        if l.max_body_bytes == 0 || l.bulk_max_payload_bytes == 0 || l.bulk_max_operations == 0 {
            return Err("limits: body sizes and bulk_max_operations must be greater than 0".to_owned());
        }
        if l.max_projection_names == 0 {
            return Err("limits: max_projection_names must be greater than 0".to_owned());
        }
        if l.max_results == 0 || l.default_count == 0 || l.default_count > l.max_results {
            return Err(format!(
                "limits: need 0 < default_count ({}) <= max_results ({})",
                l.default_count, l.max_results
            ));
        }
        if self.job_deadline.is_zero() {
            return Err("job_deadline must be greater than 0".to_owned());
        }
        if self.bulk_deadline.is_zero() {
            return Err("bulk_deadline must be greater than 0".to_owned());
        }
        if self.breaker.failure_threshold == 0 {
            return Err("breaker.failure_threshold must be at least 1".to_owned());
        }
        if self.breaker.probe_timeout.is_zero() {
            return Err("breaker.probe_timeout must be greater than 0".to_owned());
        }
        if self.metrics_listen.is_some_and(|m| m == self.listen && m.port() != 0) {
            return Err(format!("metrics_listen ({}) must differ from listen", self.listen));
        }
        for (name, allowance) in [
            ("per_address", self.auth_throttle.per_address),
            ("per_identifier", self.auth_throttle.per_identifier),
            ("refusals_per_address", self.auth_throttle.refusals_per_address),
        ] {
            if allowance.burst == 0 || allowance.per_second <= 0.0 {
                return Err(format!("auth_throttle.{name} needs burst > 0 and per_second > 0"));
            }
        }
        if self.auth_failure_summaries.interval.is_zero() {
            return Err("auth_failure_summaries.interval must be greater than 0".to_owned());
        }
        self.console.validate()?;
        if let Some(rate) = self.default_rate_limit
            && (rate.requests_per_second <= 0.0 || rate.burst == 0)
        {
            return Err("default_rate_limit needs requests_per_second > 0 and burst > 0".to_owned());
        }
        Ok(())
    }
}

/// Limits on what one request may ask; each is advertised where SCIM has a place for it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body outside Bulk (default 1 MiB).
    pub max_body_bytes: usize,
    /// The largest Bulk request body (`bulk.maxPayloadSize`, default 1 MiB).
    pub bulk_max_payload_bytes: usize,
    /// The most operations in one Bulk request (`bulk.maxOperations`, default 1,000).
    pub bulk_max_operations: usize,
    /// The largest page (`filter.maxResults`, default 1,000): a larger `count` is lowered to it.
    pub max_results: u32,
    /// The page size when the client sends no `count` (default 100).
    pub default_count: u32,
    /// Filter length and nesting depth.
    pub filter: FilterLimits,
    /// The most names in `attributes`, and in `excludedAttributes` (query or `.search` body; default
    /// 100, counted as sent, empty names left out): more is `400 invalidValue`. Each name is applied
    /// to every attribute of every resource answered; a name repeated in one list counts once.
    pub max_projection_names: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            bulk_max_payload_bytes: 1024 * 1024,
            bulk_max_operations: 1000,
            max_results: 1000,
            default_count: 100,
            filter: FilterLimits::default(),
            max_projection_names: 100,
        }
    }
}

/// When the circuit breaker opens and how it closes again.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// Consecutive `Unavailable` outcomes (from jobs or gRPC) that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before it lets one probe through.
    pub cool_down: Duration,
    /// How long a probe may take before another request is let through as the probe (a probe
    /// whose client went away frees its slot at once).
    pub probe_timeout: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { failure_threshold: 5, cool_down: Duration::from_secs(15), probe_timeout: Duration::from_secs(30) }
    }
}

/// How audit events are put on record before a SCIM call's answer leaves (see [`crate::audit`]).
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Calls waiting for their event to be appended (beyond it, a call waits for room).
    pub buffer: usize,
    /// Events of concurrent calls appended together.
    pub batch_size: usize,
    /// How long an append to the events stream may take before the events go to the spool instead.
    pub append_timeout: Duration,
    /// The directory of the spool on disk (`<data_dir>/gateway-audit-spool` in the connector);
    /// `None`: a spool in memory, lost with the process (for tests and embedding only).
    pub spool_dir: Option<std::path::PathBuf>,
    /// The most bytes of unpublished events the spool holds; what happens beyond it is
    /// [`AuditSettings::when_behind`].
    pub spool_max_bytes: u64,
    /// What the gateway does when the spool is full.
    pub when_behind: AuditBacklogPolicy,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            buffer: 10_000,
            batch_size: 256,
            append_timeout: Duration::from_millis(500),
            spool_dir: None,
            spool_max_bytes: 256 * 1024 * 1024,
            when_behind: AuditBacklogPolicy::Refuse,
        }
    }
}

/// What the gateway does when its audit spool is full (the events stream has been down or too slow
/// for that long).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditBacklogPolicy {
    /// Answer SCIM calls `503` with `Retry-After` until the spool drains: nothing is served
    /// unaudited (the default; every SCIM call is audited).
    #[default]
    Refuse,
    /// Keep serving; the events that find the spool full are logged, dropped and counted in
    /// `scim_gateway_audit_dropped_total` (availability over a complete trail).
    Drop,
}
