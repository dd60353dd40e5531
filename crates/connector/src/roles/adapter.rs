//! `scim-connector adapter`: the Secret Server adapter alone (read model, gRPC, workers).

use crate::cli::{AdapterArgs, AdapterListenArgs, SecretServerArgs};
use crate::config::{FileConfig, SecretServerSection, read_secret_file};
use crate::resolve::Common;
use anyhow::{Context, bail};
use connections::ConnectionStore;
use secrecy::SecretString;
use secret_server_adapter::{AdapterSettings, InstanceSettings};
use secret_server_client::ClientConfig;
use std::process::ExitCode;

/// The Secret Server instances: those of the file, plus (or overriding) `primary` from the
/// `SECRET_SERVER_*` flags and variables.
pub fn instances(file: &FileConfig, args: &SecretServerArgs) -> anyhow::Result<Vec<InstanceSettings>> {
    let mut instances = Vec::new();
    for section in &file.secret_servers {
        if args.secret_server_url.is_some() && section.name == "primary" {
            continue; // the flags describe `primary`
        }
        instances.push(instance_from_section(section)?);
    }
    if let Some(url) = &args.secret_server_url {
        let username = args
            .secret_server_username
            .clone()
            .context("SECRET_SERVER_USERNAME (--secret-server-username) is required with SECRET_SERVER_URL")?;
        let password = match (&args.secret_server_password_file, std::env::var("SECRET_SERVER_PASSWORD")) {
            (Some(path), _) => read_secret_file(path)?,
            (None, Ok(password)) if !password.is_empty() => SecretString::from(password),
            _ => bail!(
                "the Secret Server password is required: set SECRET_SERVER_PASSWORD or --secret-server-password-file"
            ),
        };
        let mut client = ClientConfig::new(parse_url(url)?, username, password);
        client.domain = args.secret_server_domain.clone();
        instances.push(InstanceSettings { name: "primary".to_owned(), client });
    }
    Ok(instances)
}

fn parse_url(url: &str) -> anyhow::Result<url::Url> {
    url.parse().with_context(|| format!("invalid Secret Server URL {url:?}"))
}

fn instance_from_section(section: &SecretServerSection) -> anyhow::Result<InstanceSettings> {
    let password = match (&section.password_file, &section.password) {
        (Some(path), _) => read_secret_file(path)?,
        (None, Some(password)) => password.clone(),
        (None, None) => bail!("secret_servers[{}]: password or password_file is required", section.name),
    };
    let mut client = ClientConfig::new(parse_url(&section.url)?, section.username.clone(), password);
    client.domain = section.domain.clone();
    if let Some(timeout) = section.request_timeout {
        client.request_timeout = timeout;
    }
    if let Some(n) = section.max_concurrent_requests {
        client.max_concurrent_requests = n;
    }
    Ok(InstanceSettings { name: section.name.clone(), client })
}

/// The adapter's settings from the defaults, the file section, then the flags.
pub fn adapter_settings(
    file: &FileConfig,
    listen: &AdapterListenArgs,
    instances: Vec<InstanceSettings>,
) -> anyhow::Result<AdapterSettings> {
    let mut settings = AdapterSettings { instances, ..AdapterSettings::default() };
    if let Some(addr) = listen.listen.or(file.adapter.listen) {
        settings.grpc_listen = addr;
    }
    if let Some(addr) = file.adapter.http_listen {
        settings.http_listen = Some(addr);
    }
    if let Some(n) = file.adapter.workers {
        settings.workers = n;
    }
    if let Some(interval) = file.adapter.resync_interval {
        settings.resync_interval = interval;
    }
    Ok(settings)
}

pub async fn run(common: &Common, file: &FileConfig, args: AdapterArgs, print: bool) -> anyhow::Result<ExitCode> {
    let mut settings = adapter_settings(file, &args.listen, instances(file, &args.secret_server)?)?;
    if let Some(addr) = args.http_listen {
        settings.http_listen = Some(addr);
    }
    if let Some(n) = args.workers {
        settings.workers = n;
    }
    if let Some(interval) = args.resync_interval {
        settings.resync_interval = interval;
    }
    settings.validate().map_err(anyhow::Error::new)?;
    if print {
        return Ok(super::print_config("adapter", &settings));
    }
    common.require_redis("adapter")?;
    let _telemetry = super::init_telemetry(common, "secret-server-adapter")?;
    let backends = common.queue().await?;
    let state = common.state().await?;
    let connections = ConnectionStore::new(state.clone(), super::gateway::CONNECTION_CACHE_TTL);
    let deps =
        secret_server_adapter::AdapterDeps { queue: backends.queue, events: backends.events, state, connections };
    let adapter = secret_server_adapter::start(settings, deps).await?;
    tracing::info!(grpc = %adapter.grpc_addr(), "adapter started; loading Secret Server");
    crate::shutdown::on_signal().cancelled().await;
    adapter.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
