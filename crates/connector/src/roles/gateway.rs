//! `scim-connector gateway`: the SCIM HTTP front-end alone (scale it out; it keeps no state).

use crate::config::Config;
use crate::resolve::Common;
use anyhow::{Context, bail};
use connections::{Connection, ConnectionStore};
use std::process::ExitCode;
use std::time::Duration;

/// How long a connection read by one process may go unseen by another (admin changes propagate within it).
pub(super) const CONNECTION_CACHE_TTL: Duration = Duration::from_secs(2);

/// The gateway's audit spool, in the data directory.
pub(super) const AUDIT_SPOOL_DIR: &str = "gateway-audit-spool";

/// The gateway's settings from the resolved configuration.
///
/// # Errors
/// An unusable value (one line naming the setting), or an admin token file that cannot be read.
pub(crate) fn gateway_settings(config: &Config) -> anyhow::Result<scim_gateway::GatewaySettings> {
    let section = &config.gateway;
    let mut settings = scim_gateway::GatewaySettings {
        listen: section.listen,
        adapter_url: section.adapter_url.clone(),
        job_deadline: section.job_timeout,
        admin_token_sha256: super::audit::admin_token_hashes(config)?,
        ..scim_gateway::GatewaySettings::default()
    };
    if let Some(url) = &section.public_url {
        settings.public_url =
            Some(url.parse().with_context(|| format!("invalid setting gateway.public_url: {url:?} is not a URL"))?);
    }
    settings.limits.max_body_bytes = section.max_body_bytes;
    settings.limits.bulk_max_operations = section.bulk_max_operations;
    settings.limits.bulk_max_payload_bytes = section.bulk_max_payload_bytes;
    settings.audit.when_behind = section.audit_when_behind;
    settings.audit.spool_max_bytes = section.audit_spool_max_bytes;
    settings.audit.append_timeout = section.audit_append_timeout;
    settings.audit.spool_dir = Some(config.data_dir.join(AUDIT_SPOOL_DIR));
    settings.shutdown_grace = config.shutdown_grace;
    settings.bulk_deadline = section.bulk_deadline;
    settings.default_rate_limit = match (section.default_rate_limit, section.default_rate_burst) {
        (0, _) => None,
        (_, 0) => bail!(
            "invalid setting gateway.default_rate_burst: 0 lets nothing through (set default_rate_limit = 0 for no limit)"
        ),
        (rate, burst) => Some(connections::RateLimit { requests_per_second: f64::from(rate), burst }),
    };
    settings.metrics_listen = section.metrics_listen;
    settings.trusted_proxies = scim_gateway::TrustedProxies::new(
        section
            .trusted_proxies
            .iter()
            .map(|entry| scim_gateway::front_door::parse_network(entry))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("invalid setting gateway.trusted_proxies: {e}"))?,
    );
    match section.password_check_concurrency {
        Some(0) => anyhow::bail!("invalid setting gateway.password_check_concurrency: must be at least 1"),
        Some(n) => settings.credential_cache.max_concurrent_hashes = n,
        None => {}
    }
    settings.tls = crate::config::server_tls("gateway.tls", section.tls_cert.as_ref(), section.tls_key.as_ref())?;
    settings.adapter_secret = super::adapter::adapter_secret(config)?;
    settings.jwt.ca_file = section.jwks_ca_file.clone();
    settings.console.session_idle = section.console_session_idle;
    settings.console.session_lifetime = section.console_session_lifetime;
    settings.console.audit_ca_file = section.audit_ca_file.clone();
    if let Some(url) = &section.audit_url {
        settings.console.audit_url =
            Some(url.parse().with_context(|| format!("invalid setting gateway.audit_url: {url:?} is not a URL"))?);
        settings.console.audit_token = super::audit::admin_token(config)?;
        if settings.console.audit_token.is_none() {
            bail!(
                "invalid setting gateway.audit_url: the console reads the audit service with admin_token (or admin_token_file), which is not set"
            );
        }
    }
    settings.adapter_tls = match (&section.adapter_tls_ca, &section.adapter_tls_cert, &section.adapter_tls_key) {
        (None, None, None) => None,
        (None, _, _) => bail!("invalid setting gateway.adapter_tls_ca: a client certificate needs the adapter's CA"),
        (Some(ca), cert, key) => {
            if cert.is_some() != key.is_some() {
                bail!("invalid setting gateway.adapter_tls_cert/adapter_tls_key: give both or neither");
            }
            Some(transport_tls::ClientTlsFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() })
        }
    };
    settings.validate().map_err(|e| anyhow::anyhow!("invalid gateway setting: {e}"))?;
    Ok(settings)
}

/// Stores the connections defined in the configuration file: the file adds and updates what it
/// defines, and what the admin API changed since (a revoked token, a removed client, a disabled
/// connection...) stays until the file changes that part (see `connections::from_file`).
pub(super) async fn load_configured_connections(store: &ConnectionStore, config: &Config) -> anyhow::Result<()> {
    for (i, connection) in config.connections.iter().enumerate() {
        let connection: Connection = serde_json::from_value(connection.clone())
            .with_context(|| format!("invalid connections[{i}] in the configuration file"))?;
        let cannot = || format!("cannot store connection {}", connection.id);
        let known = store.file_definition(&connection.id).await.with_context(cannot)?.is_some();
        let stored = store.put_from_file(&connection).await.with_context(cannot)?;
        if !known && stored != (Connection { from_config: true, ..connection.clone() }) {
            tracing::warn!(connection = %connection.id,
                "the configuration file's previous definition of this connection is not known: what is stored is \
                 kept where it differs, and the file's definition applies where it changes next");
        }
        tracing::info!(connection = %connection.id, "connection loaded from the configuration file");
    }
    Ok(())
}

pub(super) async fn run(common: &Common, config: &Config, print: bool) -> anyhow::Result<ExitCode> {
    let mut settings = gateway_settings(config)?;
    settings.job_keys = crate::keys::job_keys(config, crate::keys::Missing::Refuse)?;
    if print {
        return Ok(super::print_config("gateway", &settings));
    }
    common.require_redis("gateway")?;
    let _telemetry = super::init_telemetry(common, "scim-gateway")?;
    let backends = common.queue().await?;
    let state = common.state().await?;
    let connections = ConnectionStore::new(state.clone(), CONNECTION_CACHE_TTL);
    load_configured_connections(&connections, config).await?;
    let deps = scim_gateway::GatewayDeps { queue: backends.queue, events: backends.events, state, connections };
    let gateway = scim_gateway::start(settings, deps).await?;
    tracing::info!(addr = %gateway.addr(), "SCIM gateway listening");
    crate::shutdown::on_signal(common.shutdown_grace).cancelled().await;
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
