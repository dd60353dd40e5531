//! Connections built from [`RedisSettings`]: a [`Redis`] handle that knows how to reach the
//! current primary, and [`Connection`], a self-healing multiplexed connection that follows a
//! Sentinel failover.

use crate::settings::{DEFAULT_SENTINEL_PORT, Endpoint, RedisSettings, SettingsError};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    ClientTlsConfig, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, ServerErrorKind, TlsCertificates, TlsMode, Value,
};
use secrecy::ExposeSecret;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A Sentinel is asked again for the primary at most this often while calls keep failing: a
/// failover takes seconds, and asking at every failed call would flood Sentinel.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(200);

/// How to reach Redis, built once from the settings (certificates read, URL parsed): cheap to
/// clone, shared by every connection of a process.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Target>,
}

enum Target {
    /// One server, by URL.
    Fixed(redis::Client),
    /// The primary Sentinel names, asked at every (re)connection.
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Target::Fixed(client) => write!(f, "Redis({})", describe(client.get_connection_info().addr())),
            Target::Sentinel(_) => f.write_str("Redis(Sentinel)"),
        }
    }
}

fn describe(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port} (TLS)"),
        ConnectionAddr::Unix(path) => path.display().to_string(),
        _ => "redis".to_owned(),
    }
}

fn read_pem(setting: &'static str, path: &Path) -> Result<Vec<u8>, SettingsError> {
    std::fs::read(path).map_err(|e| SettingsError::new(setting, format!("{} cannot be read: {e}", path.display())))
}

/// The certificates the settings name; `None` when they name none (the system's trust store).
fn certificates(settings: &RedisSettings) -> Result<Option<TlsCertificates>, SettingsError> {
    let tls = &settings.tls;
    let root_cert = tls.ca_file.as_deref().map(|path| read_pem("redis_tls_ca_file", path)).transpose()?;
    let client_tls = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read_pem("redis_tls_cert_file", cert)?,
            client_key: read_pem("redis_tls_key_file", key)?,
        }),
        _ => None,
    };
    Ok((root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates { client_tls, root_cert }))
}

/// A Sentinel address (`host:port`, `redis://host:port`, `rediss://host:port`) as the client takes it.
pub(crate) fn sentinel_address(text: &str) -> Result<ConnectionAddr, SettingsError> {
    let text = text.trim();
    let (tls, rest) = match text.split_once("://") {
        Some(("rediss", rest)) => (true, rest),
        Some(("redis", rest)) => (false, rest),
        Some(_) => {
            return Err(SettingsError::new(
                "redis_sentinels",
                format!("{text:?} is not host:port or redis(s)://host:port"),
            ));
        }
        None => (false, text),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 address without a port ends in `]` or has no brackets at all.
        Some((host, port)) if !port.contains(']') && (host.starts_with('[') || !host.contains(':')) => {
            let port = port.parse::<u16>().map_err(|_| {
                SettingsError::new("redis_sentinels", format!("{text:?}: the port {port:?} is not a number"))
            })?;
            (host, port)
        }
        _ => (rest, DEFAULT_SENTINEL_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    if host.is_empty() {
        return Err(SettingsError::new("redis_sentinels", format!("{text:?} names no host")));
    }
    Ok(if tls {
        ConnectionAddr::TcpTls { host, port, insecure: false, tls_params: None }
    } else {
        ConnectionAddr::Tcp(host, port)
    })
}

impl Redis {
    /// Checks the settings, reads the certificates they name, and prepares the client; connects
    /// to nothing yet.
    ///
    /// # Errors
    /// An invalid setting, or a certificate file that cannot be read, named.
    pub fn new(settings: &RedisSettings) -> Result<Self, SettingsError> {
        settings.validate()?;
        if settings.uses_tls() {
            // rustls needs a process-wide crypto provider; another crate may have installed one
            // already, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let certificates = certificates(settings)?;
        let target = match &settings.endpoint {
            Endpoint::Url(url) => {
                let invalid = |e: RedisError| {
                    SettingsError::new("redis_url", format!("is not a usable Redis URL ({})", e.category()))
                };
                let info = url.expose_secret().into_connection_info().map_err(invalid)?;
                let mut redis_info = info.redis_settings().clone();
                if let Some(username) = &settings.username {
                    redis_info = redis_info.set_username(username);
                }
                if let Some(password) = &settings.password {
                    redis_info = redis_info.set_password(password.expose_secret());
                }
                let info = info.set_redis_settings(redis_info);
                let client = match certificates {
                    Some(certificates) => redis::Client::build_with_tls(info, certificates),
                    None => redis::Client::open(info),
                }
                .map_err(invalid)?;
                Target::Fixed(client)
            }
            Endpoint::Sentinel(sentinel) => {
                let addresses =
                    sentinel.addresses.iter().map(|a| sentinel_address(a)).collect::<Result<Vec<_>, _>>()?;
                let invalid = |e: RedisError| SettingsError::new("redis_sentinels", e.to_string());
                let mut builder =
                    SentinelClientBuilder::new(addresses, sentinel.master_name.trim(), SentinelServerType::Master)
                        .map_err(invalid)?;
                if settings.uses_tls() {
                    builder = builder
                        .set_client_to_redis_tls_mode(TlsMode::Secure)
                        .set_client_to_sentinel_tls_mode(TlsMode::Secure);
                    if let Some(certificates) = certificates {
                        builder = builder
                            .set_client_to_redis_certificates(certificates.clone())
                            .set_client_to_sentinel_certificates(certificates);
                    }
                }
                if let Some(username) = &settings.username {
                    builder = builder.set_client_to_redis_username(username);
                }
                if let Some(password) = &settings.password {
                    builder = builder.set_client_to_redis_password(password.expose_secret());
                }
                if let Some(username) = &sentinel.username {
                    builder = builder.set_client_to_sentinel_username(username);
                }
                if let Some(password) = &sentinel.password {
                    builder = builder.set_client_to_sentinel_password(password.expose_secret());
                }
                Target::Sentinel(tokio::sync::Mutex::new(builder.build().map_err(invalid)?))
            }
        };
        Ok(Self { inner: Arc::new(target) })
    }

    /// Whether the primary is found through Sentinel.
    pub fn is_sentinel(&self) -> bool {
        matches!(&*self.inner, Target::Sentinel(_))
    }

    /// A client of the current primary (for a pub/sub connection, or a connection of one's
    /// own). With Sentinel, Sentinel is asked now, and the server it names is checked to be a
    /// primary.
    ///
    /// # Errors
    /// No Sentinel answers, or none names a reachable primary.
    pub async fn client(&self) -> RedisResult<redis::Client> {
        match &*self.inner {
            Target::Fixed(client) => Ok(client.clone()),
            Target::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await,
        }
    }

    /// A self-healing multiplexed connection to the primary: it reconnects when the connection
    /// drops and, with Sentinel, moves to the new primary after a failover.
    ///
    /// # Errors
    /// The primary cannot be found or reached.
    pub async fn connect(&self, config: ConnectionManagerConfig) -> RedisResult<Connection> {
        let client = self.client().await?;
        let address = describe(client.get_connection_info().addr());
        let manager = client.get_connection_manager_with_config(config.clone()).await?;
        if !self.is_sentinel() {
            return Ok(Connection(Kind::Fixed(manager)));
        }
        Ok(Connection(Kind::Failover(Arc::new(Failover {
            redis: self.clone(),
            config,
            current: parking_lot::RwLock::new(Current { generation: 0, manager, address }),
            last_refresh: tokio::sync::Mutex::new(None),
        }))))
    }
}

/// A multiplexed connection to the primary that reconnects by itself; clones share it.
/// Commands go through [`ConnectionLike`], like any connection of the `redis` crate.
#[derive(Clone)]
pub struct Connection(Kind);

#[derive(Clone)]
enum Kind {
    Fixed(ConnectionManager),
    Failover(Arc<Failover>),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Fixed(_) => f.write_str("Connection(fixed)"),
            Kind::Failover(failover) => write!(f, "Connection(Sentinel primary {})", failover.current.read().address),
        }
    }
}

/// The connection to the primary Sentinel named last, replaced when a failed call and Sentinel
/// say the primary moved. `ConnectionManager` alone would reconnect to the old address forever.
struct Failover {
    redis: Redis,
    config: ConnectionManagerConfig,
    current: parking_lot::RwLock<Current>,
    /// Held while Sentinel is asked; when it was last asked.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Current {
    /// Increments at every move, so that calls that failed on an old primary do not each move again.
    generation: u64,
    manager: ConnectionManager,
    address: String,
}

/// Whether an error may mean that the primary moved: the connection failed, or the server is a
/// replica now (`READONLY`) or lost its primary (`MASTERDOWN`).
fn may_be_failover(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(e.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown))
}

/// Whether a reply says the server is no longer the primary. Server errors arrive as values (the
/// caller turns them into errors), one per command of a pipeline.
fn demoted(value: &Value) -> bool {
    match value {
        Value::ServerError(e) => matches!(e.kind(), Some(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)),
        _ => false,
    }
}

impl Failover {
    fn current(&self) -> Current {
        self.current.read().clone()
    }

    /// After a call on `generation` that failed or was answered by a demoted primary: asks
    /// Sentinel for the primary and, when it moved, connects to it. Calls still fail until then;
    /// their callers retry.
    async fn after_failure(&self, generation: u64) {
        let mut last = self.last_refresh.lock().await;
        if self.current.read().generation != generation {
            return; // another call moved already
        }
        if last.is_some_and(|at| at.elapsed() < MIN_REFRESH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let client = match self.redis.client().await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "Sentinel names no reachable Redis primary yet");
                return;
            }
        };
        let address = describe(client.get_connection_info().addr());
        if address == self.current.read().address {
            return; // the same primary: the connection manager reconnects to it by itself
        }
        match client.get_connection_manager_with_config(self.config.clone()).await {
            Ok(manager) => {
                let mut current = self.current.write();
                tracing::warn!(from = %current.address, to = %address, "the Redis primary moved (Sentinel failover)");
                *current = Current { generation: current.generation + 1, manager, address };
            }
            Err(e) => tracing::warn!(error = %e, primary = %address, "cannot connect to the new Redis primary yet"),
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Kind::Fixed(manager) => manager.req_packed_command(cmd),
            Kind::Failover(failover) => {
                let failover = Arc::clone(failover);
                Box::pin(async move {
                    let Current { generation, mut manager, .. } = failover.current();
                    let result = manager.req_packed_command(cmd).await;
                    let failed = match &result {
                        Ok(value) => demoted(value),
                        Err(e) => may_be_failover(e),
                    };
                    if failed {
                        failover.after_failure(generation).await;
                    }
                    result
                })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Kind::Fixed(manager) => manager.req_packed_commands(pipeline, offset, count),
            Kind::Failover(failover) => {
                let failover = Arc::clone(failover);
                Box::pin(async move {
                    let Current { generation, mut manager, .. } = failover.current();
                    let result = manager.req_packed_commands(pipeline, offset, count).await;
                    let failed = match &result {
                        Ok(values) => values.iter().any(demoted),
                        Err(e) => may_be_failover(e),
                    };
                    if failed {
                        failover.after_failure(generation).await;
                    }
                    result
                })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Kind::Fixed(manager) => manager.get_db(),
            Kind::Failover(failover) => failover.current.read().manager.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_addresses_take_the_default_port_and_a_scheme() {
        assert_eq!(sentinel_address("10.0.0.1").unwrap(), ConnectionAddr::Tcp("10.0.0.1".into(), 26379));
        assert_eq!(sentinel_address("redis://s1:26380").unwrap(), ConnectionAddr::Tcp("s1".into(), 26380));
        assert_eq!(sentinel_address("[::1]:26381").unwrap(), ConnectionAddr::Tcp("::1".into(), 26381));
        assert_eq!(sentinel_address("::1").unwrap(), ConnectionAddr::Tcp("::1".into(), 26379));
        assert!(matches!(sentinel_address("rediss://s1").unwrap(), ConnectionAddr::TcpTls { port: 26379, .. }));
        assert!(sentinel_address("http://s1").is_err());
        assert!(sentinel_address(":26379").is_err());
    }
}
