//! `scim-connector adapter`: the Secret Server adapter alone (read model, gRPC, workers).

use crate::config::{Config, PRIMARY, SecretServerSection, read_secret_file};
use crate::resolve::Common;
use anyhow::{Context, bail};
use connections::ConnectionStore;
use secrecy::SecretString;
use secret_server_adapter::{AdapterSettings, InstanceSettings, ProtectedPrincipals};
use secret_server_client::{AdaptiveConcurrency, CircuitBreaker, ClientConfig, SignIn};
use std::process::ExitCode;

/// The Secret Server instances of the configuration (`primary` among them when the
/// `SECRET_SERVER_*` variables or `--secret-server-*` flags describe it).
///
/// # Errors
/// An instance without a password, with an unreadable password file or an invalid URL.
pub(super) fn instances(config: &Config) -> anyhow::Result<Vec<InstanceSettings>> {
    config.secret_servers.iter().map(instance).collect()
}

fn parse_url(name: &str, url: &str) -> anyhow::Result<url::Url> {
    url.parse().with_context(|| format!("invalid setting secret_servers[{name}].url: {url:?} is not a URL"))
}

pub(super) fn instance(section: &SecretServerSection) -> anyhow::Result<InstanceSettings> {
    let flags = if section.name == PRIMARY { " (SECRET_SERVER_URL, SECRET_SERVER_USERNAME)" } else { "" };
    let name = &section.name;
    let sign_in = match section.sign_in.as_deref().map(str::trim).unwrap_or("password") {
        "password" => SignIn::Password,
        "api-token" | "api_token" => SignIn::ApiToken(match (&section.api_token_file, &section.api_token) {
            (Some(path), _) => read_secret_file(path)?,
            (None, Some(token)) => token.clone(),
            (None, None) => bail!("secret_servers[{name}]: sign_in = \"api-token\" needs api_token or api_token_file"),
        }),
        "platform" => {
            let Some(url) = section.platform_url.as_deref().filter(|u| !u.trim().is_empty()) else {
                bail!("secret_servers[{name}]: sign_in = \"platform\" needs platform_url");
            };
            let client_secret = match (&section.client_secret_file, &section.client_secret) {
                (Some(path), _) => read_secret_file(path)?,
                (None, Some(secret)) => secret.clone(),
                (None, None) => {
                    bail!("secret_servers[{name}]: sign_in = \"platform\" needs client_secret or client_secret_file")
                }
            };
            SignIn::Platform {
                url: parse_url(name, url)?,
                client_id: section.client_id.clone().unwrap_or_default(),
                client_secret,
            }
        }
        other => bail!("secret_servers[{name}].sign_in: {other:?} is not password, api-token or platform"),
    };
    let platform = matches!(sign_in, SignIn::Platform { .. });
    if (section.url.is_empty() && !platform) || (section.username.is_empty() && matches!(sign_in, SignIn::Password)) {
        bail!("secret_servers[{}]: url and username are required{flags}", section.name);
    }
    let password = match (&section.password_file, &section.password, &sign_in) {
        (_, _, SignIn::ApiToken(_) | SignIn::Platform { .. }) => SecretString::from(String::new()),
        (Some(path), _, _) => read_secret_file(path)?,
        (None, Some(password), _) => password.clone(),
        (None, None, _) if section.name == PRIMARY => {
            bail!("the Secret Server password is required: set SECRET_SERVER_PASSWORD or --secret-server-password-file")
        }
        (None, None, _) => bail!("secret_servers[{}]: password or password_file is required", section.name),
    };
    // With the platform and no url, the vault the platform's broker names is used
    // (`resolve_vaults`, at start); until then the platform's own URL stands in.
    let url = match (&sign_in, section.url.is_empty()) {
        (SignIn::Platform { url, .. }, true) => url.clone(),
        _ => parse_url(name, &section.url)?,
    };
    if url.scheme() == "http" && !section.allow_insecure_http {
        bail!(
            "secret_servers[{}].url is http://: the API account's password would cross the network in clear; use \
             https:// (allow_insecure_http = true is for an emulator on the same host only)",
            section.name
        );
    }
    let mut client = ClientConfig::new(url, section.username.clone(), password);
    client.sign_in = sign_in;
    client.allow_insecure_http = section.allow_insecure_http;
    client.ca_file = section.ca_file.clone();
    client.domain = section.domain.clone();
    if let Some(timeout) = section.request_timeout {
        client.request_timeout = timeout;
    }
    if let Some(n) = section.max_concurrent_requests {
        client.max_concurrent_requests = n;
    }
    client.adaptive_concurrency = section.adaptive_concurrency.then(|| {
        let defaults = AdaptiveConcurrency::default();
        AdaptiveConcurrency {
            min: section.min_concurrent_requests.unwrap_or(defaults.min).min(client.max_concurrent_requests),
            initial: section.initial_concurrent_requests.unwrap_or(defaults.initial),
        }
    });
    client.circuit_breaker = section.circuit_breaker.then(|| {
        let defaults = CircuitBreaker::default();
        CircuitBreaker {
            failures: section.circuit_breaker_failures.unwrap_or(defaults.failures),
            cooldown: section.circuit_breaker_cooldown.unwrap_or(defaults.cooldown),
            max_cooldown: section.circuit_breaker_max_cooldown.unwrap_or(defaults.max_cooldown),
        }
    });
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
    let console_group = section.console_group.as_deref().map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned);
    Ok(InstanceSettings { protected, console_group, ..InstanceSettings::new(section.name.clone(), client) })
}

/// For each instance signing in through the Delinea Platform without a `url`: the vault the
/// platform's vault broker names (logged).
///
/// # Errors
/// The platform refuses the credentials, cannot be reached, or names no vault.
pub(super) async fn resolve_vaults(instances: &mut [InstanceSettings], configured: &Config) -> anyhow::Result<()> {
    for instance in instances.iter_mut() {
        let explicit = configured.secret_servers.iter().any(|s| s.name == instance.name && !s.url.is_empty());
        if explicit {
            continue;
        }
        if let SignIn::Platform { url, client_id, client_secret } = &instance.client.sign_in {
            let vault = secret_server_client::platform::vault_url(
                url,
                client_id,
                client_secret,
                instance.client.request_timeout,
            )
            .await
            .with_context(|| format!("secret_servers[{}]: the Delinea Platform at {url}", instance.name))?;
            tracing::info!(instance = %instance.name, platform = %url, vault = %vault, "vault named by the platform's vault broker");
            instance.client.base_url = vault;
        }
    }
    Ok(())
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
        resync_removal_bound: secret_server_adapter::RemovalBound {
            max_percent: config.adapter.resync_max_removal_percent,
            max_count: config.adapter.resync_max_removals,
        },
        cursor_secret: config.adapter.cursor_secret.clone(),
        expensive_per_connection: config.adapter.expensive_per_connection,
        large_group_members: config.adapter.large_group_members,
        ..AdapterSettings::default()
    }
}

/// Where the read model's snapshot is kept: the setting, `<data-dir>/adapter` by default, none
/// when set empty.
fn snapshot_dir(section: &crate::config::AdapterSection, data_dir: &std::path::Path) -> Option<std::path::PathBuf> {
    match &section.snapshot_dir {
        Some(dir) if dir.as_os_str().is_empty() => None,
        Some(dir) => Some(dir.clone()),
        None => Some(data_dir.join("adapter")),
    }
}

pub(super) async fn run(common: &Common, config: &Config, print: bool) -> anyhow::Result<ExitCode> {
    let mut settings = adapter_settings(config, instances(config)?);
    let section = &config.adapter;
    settings.grpc_tls = crate::config::server_tls("adapter.tls", section.tls_cert.as_ref(), section.tls_key.as_ref())?;
    settings.grpc_client_ca = section.tls_client_ca.clone();
    settings.grpc_secret = adapter_secret(config)?;
    settings.job_keys = crate::keys::job_keys(config, crate::keys::Missing::Refuse)?;
    settings.replica_id = section.replica_id.clone().filter(|r| !r.is_empty());
    settings.snapshot_dir = snapshot_dir(section, &common.data_dir);
    settings.snapshot_interval = section.snapshot_interval;
    settings.snapshot_max_age = section.snapshot_max_age;
    settings.max_connection_age = Some(section.max_connection_age);
    settings.validate().map_err(anyhow::Error::new)?;
    if print {
        return Ok(super::print_config("adapter", &settings));
    }
    common.require_redis("adapter")?;
    let _telemetry = super::init_telemetry(common, "secret-server-adapter")?;
    resolve_vaults(&mut settings.instances, config).await?;
    let backends = common.queue().await?;
    let state = common.state().await?;
    let connections = ConnectionStore::new(state.clone(), super::gateway::CONNECTION_CACHE_TTL);
    let deps =
        secret_server_adapter::AdapterDeps { queue: backends.queue, events: backends.events, state, connections };
    let adapter = secret_server_adapter::start(settings, deps).await?;
    tracing::info!(grpc = %adapter.grpc_addr(), "adapter started; loading Secret Server");
    crate::shutdown::on_signal(common.shutdown_grace).cancelled().await;
    adapter.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> SecretServerSection {
        toml::from_str(toml_text).expect("a section")
    }

    #[test]
    fn the_snapshot_is_kept_in_the_data_directory_unless_set_elsewhere_or_turned_off() {
        let data = std::path::Path::new("data");
        let mut section = crate::config::AdapterSection::default();
        assert_eq!(snapshot_dir(&section, data), Some(data.join("adapter")));
        section.snapshot_dir = Some("elsewhere".into());
        assert_eq!(snapshot_dir(&section, data), Some(std::path::PathBuf::from("elsewhere")));
        section.snapshot_dir = Some(std::path::PathBuf::new());
        assert_eq!(snapshot_dir(&section, data), None);
    }

    #[test]
    fn an_api_token_instance_needs_no_username_or_password() {
        let instance = instance(&section(
            "name = 'onprem'\nurl = 'https://vault.example.com/SecretServer'\nsign_in = 'api-token'\napi_token = 't0ken'",
        ))
        .unwrap();
        assert!(matches!(instance.client.sign_in, SignIn::ApiToken(_)));
    }

    #[test]
    fn a_platform_instance_without_url_starts_from_the_platform_and_names_its_client() {
        let instance = instance(&section(
            "name = 'cloud'\nsign_in = 'platform'\nplatform_url = 'https://tenant.delinea.app'\nclient_id = 'svc'\n\
             client_secret = 's3cret'",
        ))
        .unwrap();
        let SignIn::Platform { url, client_id, .. } = &instance.client.sign_in else { panic!("platform sign-in") };
        assert_eq!((url.as_str(), client_id.as_str()), ("https://tenant.delinea.app/", "svc"));
        assert_eq!(instance.client.base_url.as_str(), "https://tenant.delinea.app/");
    }

    #[test]
    fn a_platform_instance_without_its_client_secret_is_refused_naming_it() {
        let error = instance(&section("name = 'cloud'\nsign_in = 'platform'\nplatform_url = 'https://t.delinea.app'"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("client_secret"), "{error}");
    }

    #[test]
    fn an_unknown_sign_in_is_refused_naming_the_choices() {
        let error = instance(&section(
            "name = 'x'\nurl = 'https://v.example.com'\nusername = 'u'\npassword = 'p'\nsign_in = 'kerberos'",
        ))
        .unwrap_err()
        .to_string();
        assert!(error.contains("password, api-token or platform"), "{error}");
    }

    fn primary_section(toml: &str) -> SecretServerSection {
        toml::from_str(&format!("name = \"primary\"\nusername = \"svc\"\npassword = \"pw\"\n{toml}")).unwrap()
    }

    #[test]
    fn an_http_secret_server_url_is_refused_at_start_with_one_line_naming_the_instance() {
        let err =
            instance(&primary_section("url = \"http://vault.example.com/SecretServer\"")).unwrap_err().to_string();
        assert!(err.starts_with("secret_servers[primary].url is http://"), "{err}");
        assert!(err.contains("allow_insecure_http") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn an_http_url_is_accepted_when_the_instance_allows_it() {
        let allowed = primary_section("url = \"http://127.0.0.1:8081/SecretServer\"\nallow_insecure_http = true");
        let instance = instance(&allowed).unwrap();
        assert!(instance.client.allow_insecure_http);
    }

    #[test]
    fn the_circuit_breaker_is_on_by_default_and_its_settings_reach_the_client() {
        let url = "url = \"https://vault.example.com/SecretServer\"";
        let defaults = instance(&primary_section(url)).unwrap();
        assert_eq!(defaults.client.circuit_breaker, Some(CircuitBreaker::default()));
        let tuned = primary_section(&format!(
            "{url}\ncircuit_breaker_failures = 3\ncircuit_breaker_cooldown = \"30s\"\ncircuit_breaker_max_cooldown = \"10m\""
        ));
        let breaker = instance(&tuned).unwrap().client.circuit_breaker.expect("on");
        assert_eq!(
            (breaker.failures, breaker.cooldown, breaker.max_cooldown),
            (3, std::time::Duration::from_secs(30), std::time::Duration::from_secs(600))
        );
        let off = instance(&primary_section(&format!("{url}\ncircuit_breaker = false"))).unwrap();
        assert_eq!(off.client.circuit_breaker, None);
    }

    #[test]
    fn the_ca_file_of_an_instance_reaches_its_client() {
        let instance =
            instance(&primary_section("url = \"https://vault.example.com/SecretServer\"\nca_file = \"ca.pem\""))
                .unwrap();
        assert_eq!(instance.client.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert!(!instance.client.allow_insecure_http, "https needs no exception");
    }
}
