//! `scim-connector gateway`: the SCIM HTTP front-end alone (scale it out; it keeps no state).

use crate::cli::{AdminTokenArgs, GatewayArgs, GatewayListenArgs};
use crate::config::FileConfig;
use crate::resolve::Common;
use anyhow::Context;
use connections::{Connection, ConnectionStore};
use std::process::ExitCode;
use std::time::Duration;

/// How long a connection read by one process may go unseen by another (admin changes propagate within it).
pub const CONNECTION_CACHE_TTL: Duration = Duration::from_secs(2);

/// The gateway's settings from the defaults, the file section, then the flags.
pub fn gateway_settings(
    file: &FileConfig,
    listen: &GatewayListenArgs,
    adapter_url: Option<String>,
    admin: &AdminTokenArgs,
) -> anyhow::Result<scim_gateway::GatewaySettings> {
    let mut settings = scim_gateway::GatewaySettings::default();
    let section = &file.gateway;
    if let Some(addr) = listen.listen.or(section.listen) {
        settings.listen = addr;
    }
    if let Some(url) = adapter_url.or_else(|| section.adapter_url.clone()) {
        settings.adapter_url = url;
    }
    if let Some(url) = listen.public_url.clone().or_else(|| section.public_url.clone()) {
        settings.public_url = Some(url.parse().with_context(|| format!("invalid public URL {url:?}"))?);
    }
    if let Some(bytes) = section.max_body_bytes {
        settings.limits.max_body_bytes = bytes;
    }
    if let Some(deadline) = section.job_timeout {
        settings.job_deadline = deadline;
    }
    if let Some(n) = section.bulk_max_operations {
        settings.limits.bulk_max_operations = n;
    }
    if let Some(n) = section.bulk_max_payload_bytes {
        settings.limits.bulk_max_payload_bytes = n;
    }
    if let Some(policy) = section.audit_when_behind {
        settings.audit.when_behind = policy;
    }
    settings.admin_token_sha256 = super::audit::admin_token_hashes(file, admin);
    settings.validate().map_err(|e| anyhow::anyhow!("invalid gateway setting: {e}"))?;
    Ok(settings)
}

/// Stores the connections defined in the configuration file, replacing earlier versions of them.
pub async fn load_configured_connections(store: &ConnectionStore, file: &FileConfig) -> anyhow::Result<()> {
    for (i, connection) in file.connections.iter().enumerate() {
        let mut connection: Connection = serde_json::from_value(connection.clone())
            .with_context(|| format!("invalid connections[{i}] in the configuration file"))?;
        connection.from_config = true;
        store.put(&connection).await.with_context(|| format!("cannot store connection {}", connection.id))?;
        tracing::info!(connection = %connection.id, "connection loaded from the configuration file");
    }
    Ok(())
}

pub async fn run(common: &Common, file: &FileConfig, args: GatewayArgs, print: bool) -> anyhow::Result<ExitCode> {
    let settings = gateway_settings(file, &args.listen, args.adapter_url.clone(), &args.admin)?;
    if print {
        return Ok(super::print_config("gateway", &settings));
    }
    common.require_redis("gateway")?;
    let _telemetry = super::init_telemetry(common, "scim-gateway")?;
    let backends = common.queue().await?;
    let state = common.state().await?;
    let connections = ConnectionStore::new(state.clone(), CONNECTION_CACHE_TTL);
    load_configured_connections(&connections, file).await?;
    let deps = scim_gateway::GatewayDeps { queue: backends.queue, events: backends.events, state, connections };
    let gateway = scim_gateway::start(settings, deps).await?;
    tracing::info!(addr = %gateway.addr(), "SCIM gateway listening");
    crate::shutdown::on_signal().cancelled().await;
    gateway.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
