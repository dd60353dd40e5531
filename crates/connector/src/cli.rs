//! The command line. Every option has an environment variable (shown by
//! `--help`) and, where it makes sense, a key in the configuration file;
//! precedence is flag, then environment, then file, then the default.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// SCIM 2.0 connector for Delinea Secret Server: lets identity platforms manage users, groups,
/// folders (Containers) and their permissions, and secret metadata and permissions, through SCIM.
#[derive(Debug, Parser)]
#[command(name = "scim-connector", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every role understands.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Flags and environment variables override it.
    #[arg(short, long, global = true, env = "SCIMC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory holding all local state (emulator data, audit log, dev tokens) [default: ./.scim-connector]
    #[arg(long, global = true, env = "SCIMC_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Redis for the job queue, the events stream and shared state (redis:// or rediss://).
    /// Without it, `dev` runs an in-process queue and keeps state in the data directory.
    #[arg(long, global = true, env = "REDIS_URL", value_name = "URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key, so that several deployments can share one Redis [default: scimc]
    #[arg(long, global = true, env = "SCIMC_REDIS_PREFIX", value_name = "PREFIX")]
    pub redis_prefix: Option<String>,

    /// Log format [default: pretty on a terminal, json otherwise]. The filter is RUST_LOG.
    #[arg(long, global = true, env = "SCIMC_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Print the resolved configuration (secrets redacted) and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process, with a seeded Secret Server emulator: the quickest way to try it.
    Dev(DevArgs),
    /// Run the SCIM HTTP gateway (what SCIM clients talk to).
    Gateway(GatewayArgs),
    /// Run the Secret Server adapter: the gRPC read service and the provisioning workers.
    Adapter(AdapterArgs),
    /// Run the audit service, or verify, export or prune the audit log.
    Audit(AuditArgs),
    /// Run the Secret Server emulator, or generate a large data set for it.
    Sim(SimArgs),
    /// Manage SCIM connections through the gateway's admin API.
    Admin(AdminArgs),
    /// Check that a health URL answers 2xx (for container health checks in images without curl).
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The URL to GET, e.g. http://127.0.0.1:8080/readyz
    pub url: String,
    /// Give up after this long
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// Listen addresses of the gateway.
#[derive(Debug, Args, Clone, Default)]
pub struct GatewayListenArgs {
    /// SCIM gateway listen address [default: 127.0.0.1:8080]
    #[arg(id = "gateway_listen", long = "gateway-listen", env = "SCIMC_GATEWAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Public base URL of the gateway, for Location headers and meta.location
    /// [default: from the request's Host header]
    #[arg(long, env = "SCIMC_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

/// Options of the gateway when it runs alone.
#[derive(Debug, Args, Clone)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub listen: GatewayListenArgs,

    /// gRPC URL of the adapter [default: http://127.0.0.1:50051]
    #[arg(long, env = "SCIMC_ADAPTER_URL", value_name = "URL")]
    pub adapter_url: Option<String>,

    #[command(flatten)]
    pub admin: AdminTokenArgs,
}

/// The connector's own admin credentials (for the admin API and the audit API).
#[derive(Debug, Args, Clone, Default)]
pub struct AdminTokenArgs {
    /// SHA-256 (hex) of an accepted admin token; repeat or separate with commas.
    #[arg(long, env = "SCIMC_ADMIN_TOKEN_SHA256", value_name = "HEX", value_delimiter = ',')]
    pub admin_token_sha256: Vec<String>,

    /// An accepted admin token, given in clear (hashed at start; prefer the SHA-256 form).
    #[arg(long, env = "SCIMC_ADMIN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Listen addresses of the adapter.
#[derive(Debug, Args, Clone, Default)]
pub struct AdapterListenArgs {
    /// Adapter gRPC listen address [default: 127.0.0.1:50051]
    #[arg(id = "adapter_listen", long = "adapter-listen", env = "SCIMC_ADAPTER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Options of the adapter when it runs alone.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Secrets are read from the environment or a file only (never flags, which `ps` shows):\n  \
    SECRET_SERVER_PASSWORD  password of the Secret Server API account (or --secret-server-password-file)\n\n\
    More Secret Server instances, and connections, go in the configuration file (--config).")]
pub struct AdapterArgs {
    #[command(flatten)]
    pub listen: AdapterListenArgs,

    /// Listen address of the adapter's /healthz, /readyz and /metrics [default: 127.0.0.1:9091]
    #[arg(long, env = "SCIMC_ADAPTER_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,

    /// Concurrent provisioning workers [default: 8]
    #[arg(long, env = "SCIMC_ADAPTER_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// How often the read model is reconciled with Secret Server [default: 5m]
    #[arg(long, env = "SCIMC_RESYNC_INTERVAL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub resync_interval: Option<std::time::Duration>,

    #[command(flatten)]
    pub secret_server: SecretServerArgs,
}

/// The Secret Server instance named `primary` (more instances go in the configuration file).
#[derive(Debug, Args, Clone, Default)]
pub struct SecretServerArgs {
    /// Base URL of Secret Server, e.g. https://vault.example.com/SecretServer
    #[arg(long, env = "SECRET_SERVER_URL", value_name = "URL")]
    pub secret_server_url: Option<String>,

    /// API account of Secret Server (an application account)
    #[arg(long, env = "SECRET_SERVER_USERNAME", value_name = "NAME")]
    pub secret_server_username: Option<String>,

    /// Password of the API account (environment only; never a flag, it would show in `ps`)
    #[arg(skip)]
    pub secret_server_password: Option<String>,

    /// File holding the password of the API account (e.g. a mounted Kubernetes secret)
    #[arg(long, env = "SECRET_SERVER_PASSWORD_FILE", value_name = "FILE")]
    pub secret_server_password_file: Option<PathBuf>,

    /// Active Directory domain of the API account [default: none, a local account]
    #[arg(long, env = "SECRET_SERVER_DOMAIN", value_name = "DOMAIN")]
    pub secret_server_domain: Option<String>,
}

/// Listen address of the audit service.
#[derive(Debug, Args, Clone, Default)]
pub struct AuditListenArgs {
    /// Audit query API listen address [default: 127.0.0.1:8090]
    #[arg(id = "audit_listen", long = "audit-listen", env = "SCIMC_AUDIT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Delete audit records older than this (e.g. 400d) [default: keep everything]
    #[arg(long, env = "SCIMC_AUDIT_RETENTION", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,

    #[command(flatten)]
    pub listen: AuditListenArgs,

    #[command(flatten)]
    pub admin: AdminTokenArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Run the audit consumer and its query API (the default).
    Run,
    /// Check the hash chain of the audit log and report the first broken record.
    Verify,
    /// Write audit records as JSON Lines to standard output.
    Export(AuditExportArgs),
    /// Delete records older than the retention now, keeping the chain verifiable.
    Prune,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Only records at or after this time (RFC 3339)
    #[arg(long)]
    pub from: Option<String>,
    /// Only records before this time (RFC 3339)
    #[arg(long)]
    pub to: Option<String>,
    /// Only records of this connection
    #[arg(long)]
    pub connection: Option<String>,
}

/// Listen address and identity of the emulator.
#[derive(Debug, Args, Clone, Default)]
pub struct SimListenArgs {
    /// Secret Server emulator listen address [default: 127.0.0.1:8081]
    #[arg(id = "sim_listen", long = "sim-listen", env = "SCIMC_SIM_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Base path of the emulated Secret Server [default: /SecretServer]
    #[arg(id = "sim_base_path", long = "sim-base-path", env = "SCIMC_SIM_BASE_PATH", value_name = "PATH")]
    pub base_path: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Secrets are read from the environment only (never flags, which `ps` shows):\n  \
    SCIMC_SIM_API_PASSWORD  password of the emulator's API account [default: generated once, kept in <data-dir>/sim-credentials]")]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: Option<SimCommand>,

    #[command(flatten)]
    pub listen: SimListenArgs,

    /// User name of the emulator's API account [default: scim-api]
    #[arg(long, env = "SCIMC_SIM_API_USERNAME", value_name = "NAME")]
    pub api_username: Option<String>,

    /// Password of the emulator's API account (environment only) [default: generated, written to <data-dir>/sim-credentials]
    #[arg(skip)]
    pub api_password: Option<String>,

    /// What a fresh emulator starts with: empty, demo, or a JSON seed file [default: demo]
    #[arg(long, env = "SCIMC_SIM_SEED", value_name = "SEED")]
    pub seed: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the emulated Secret Server REST API (the default).
    Run,
    /// Generate a large data set into the emulator's data directory, showing progress.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Users to create
    #[arg(long, default_value_t = 100_000)]
    pub users: u64,
    /// Groups to create
    #[arg(long, default_value_t = 10_000)]
    pub groups: u64,
    /// Group memberships to create
    #[arg(long, default_value_t = 1_000_000)]
    pub memberships: u64,
    /// Folders to create
    #[arg(long, default_value_t = 20_000)]
    pub folders: u64,
    /// Folder permissions per folder
    #[arg(long, default_value_t = 2)]
    pub permissions_per_folder: u64,
    /// Secrets (metadata only) to create
    #[arg(long, default_value_t = 50_000)]
    pub secrets: u64,
    /// Replace existing emulator state in the data directory
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "dev writes, in the data directory: dev-token (the SCIM bearer token), admin-token (admin and \
    audit APIs), sim-credentials (the emulator's API account: user name and password, one per line).")]
pub struct DevArgs {
    #[command(flatten)]
    pub gateway: GatewayListenArgs,
    #[command(flatten)]
    pub adapter: AdapterListenArgs,
    #[command(flatten)]
    pub audit: AuditListenArgs,
    #[command(flatten)]
    pub sim: SimListenArgs,

    /// What a fresh emulator starts with: empty, demo, or a JSON seed file [default: demo]
    #[arg(long, env = "SCIMC_SIM_SEED", value_name = "SEED")]
    pub seed: Option<String>,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the gateway [default: http://127.0.0.1:8080]
    #[arg(long, env = "SCIMC_ADMIN_URL", value_name = "URL")]
    pub url: Option<String>,

    /// Admin token [default: read from <data-dir>/admin-token]
    #[arg(long, env = "SCIMC_ADMIN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    #[command(subcommand)]
    pub command: scim_gateway::cli::AdminCommand,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_option_names_its_environment_variable() {
        fn check(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version" | "print_config") || arg.is_positional() {
                    continue;
                }
                // Commands that act once on their arguments (not services) need no environment variables.
                let one_shot =
                    ["generate", "export", "probe"].iter().any(|c| path.ends_with(c)) || path.contains(" admin ");
                if !one_shot {
                    assert!(arg.get_env().is_some(), "--{id} of `{path}` has no environment variable");
                }
            }
            for sub in cmd.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&Cli::command(), "scim-connector");
    }
}
