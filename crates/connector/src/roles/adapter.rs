//! `scim-connector adapter`: the Secret Server adapter alone (read model, gRPC, workers).

use crate::config::{Config, PRIMARY, SecretServerSection, read_secret_file};
use crate::resolve::Common;
use anyhow::{Context, bail};
use connections::ConnectionStore;
use secret_server_adapter::{AdapterSettings, InstanceSettings, ProtectedPrincipals};
use secret_server_client::ClientConfig;
use std::process::ExitCode;

/// The Secret Server instances of the configuration (`primary` among them when the
/// `SECRET_SERVER_*` variables or `--secret-server-*` flags describe it).
///
/// # Errors
/// An instance without a password, with an unreadable password file or an invalid URL.
pub(super) fn instances(config: &Config) -> anyhow::Result<Vec<InstanceSettings>> {
    config.secret_servers.iter().map(instance_from_section).collect()
}

fn parse_url(name: &str, url: &str) -> anyhow::Result<url::Url> {
    url.parse().with_context(|| format!("invalid setting secret_servers[{name}].url: {url:?} is not a URL"))
}

fn instance_from_section(section: &SecretServerSection) -> anyhow::Result<InstanceSettings> {
    let flags = if section.name == PRIMARY { " (SECRET_SERVER_URL, SECRET_SERVER_USERNAME)" } else { "" };
    if section.url.is_empty() || section.username.is_empty() {
        bail!("secret_servers[{}]: url and username are required{flags}", section.name);
    }
    let password = match (&section.password_file, &section.password) {
        (Some(path), _) => read_secret_file(path)?,
        (None, Some(password)) => password.clone(),
        (None, None) if section.name == PRIMARY => {
            bail!("the Secret Server password is required: set SECRET_SERVER_PASSWORD or --secret-server-password-file")
        }
        (None, None) => bail!("secret_servers[{}]: password or password_file is required", section.name),
    };
    let url = parse_url(&section.name, &section.url)?;
    if url.scheme() == "http" && !section.allow_insecure_http {
        bail!(
            "secret_servers[{}].url is http://: the API account's password would cross the network in clear; use \
             https:// (allow_insecure_http = true is for an emulator on the same host only)",
            section.name
        );
    }
    let mut client = ClientConfig::new(url, section.username.clone(), password);
    client.allow_insecure_http = section.allow_insecure_http;
    client.ca_file = section.ca_file.clone();
    client.domain = section.domain.clone();
    if let Some(timeout) = section.request_timeout {
        client.request_timeout = timeout;
    }
    if let Some(n) = section.max_concurrent_requests {
        client.max_concurrent_requests = n;
    }
    let role = match section.administrator_role.as_deref().map(str::trim) {
        Some(role) => Some(role.to_owned()),
        None => ProtectedPrincipals::default().administrator_role,
    };
    if section.protect_administrators && role.as_deref().is_none_or(str::is_empty) {
        bail!(
            "secret_servers[{}].administrator_role cannot be empty (set protect_administrators = false instead)",
            section.name
        );
    }
    let protected = ProtectedPrincipals {
        users: section.protected_users.clone(),
        groups: section.protected_groups.clone(),
        administrator_role: if section.protect_administrators { role } else { None },
    };
    Ok(InstanceSettings { protected, ..InstanceSettings::new(section.name.clone(), client) })
}

/// The gateway-adapter shared secret, from `adapter_secret` or else `adapter_secret_file`.
///
/// # Errors
/// A secret file that cannot be read.
pub(crate) fn adapter_secret(config: &Config) -> anyhow::Result<Option<secrecy::SecretString>> {
    match (&config.adapter_secret, &config.adapter_secret_file) {
        (Some(secret), _) => Ok(Some(secret.clone())),
        (None, Some(path)) => read_secret_file(path).context("adapter_secret_file").map(Some),
        (None, None) => Ok(None),
    }
}

/// The adapter's settings from the resolved configuration.
pub(crate) fn adapter_settings(config: &Config, instances: Vec<InstanceSettings>) -> AdapterSettings {
    AdapterSettings {
        instances,
        grpc_listen: config.adapter.listen,
        http_listen: Some(config.adapter.http_listen),
        workers: config.adapter.workers,
        resync_interval: config.adapter.resync_interval,
        cursor_secret: config.adapter.cursor_secret.clone(),
        expensive_per_connection: config.adapter.expensive_per_connection,
        ..AdapterSettings::default()
    }
}

pub(super) async fn run(common: &Common, config: &Config, print: bool) -> anyhow::Result<ExitCode> {
    let mut settings = adapter_settings(config, instances(config)?);
    let section = &config.adapter;
    settings.grpc_tls = crate::config::server_tls("adapter.tls", section.tls_cert.as_ref(), section.tls_key.as_ref())?;
    settings.grpc_client_ca = section.tls_client_ca.clone();
    settings.grpc_secret = adapter_secret(config)?;
    settings.job_keys = crate::keys::job_keys(config, crate::keys::Missing::Refuse)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml: &str) -> SecretServerSection {
        toml::from_str(&format!("name = \"primary\"\nusername = \"svc\"\npassword = \"pw\"\n{toml}")).unwrap()
    }

    #[test]
    fn an_http_secret_server_url_is_refused_at_start_with_one_line_naming_the_instance() {
        let err =
            instance_from_section(&section("url = \"http://vault.example.com/SecretServer\"")).unwrap_err().to_string();
        assert!(err.starts_with("secret_servers[primary].url is http://"), "{err}");
        assert!(err.contains("allow_insecure_http") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn an_http_url_is_accepted_when_the_instance_allows_it() {
        let allowed = section("url = \"http://127.0.0.1:8081/SecretServer\"\nallow_insecure_http = true");
        let instance = instance_from_section(&allowed).unwrap();
        assert!(instance.client.allow_insecure_http);
    }

    #[test]
    fn the_ca_file_of_an_instance_reaches_its_client() {
        let instance =
            instance_from_section(&section("url = \"https://vault.example.com/SecretServer\"\nca_file = \"ca.pem\""))
                .unwrap();
        assert_eq!(instance.client.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert!(!instance.client.allow_insecure_http, "https needs no exception");
    }
}
