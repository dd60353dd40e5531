//! The command line: the roles and their commands, derived here, and the setting flags, built from
//! the table of [`crate::settings`]. Every setting has a flag (secrets: a variable), an environment
//! variable (shown by `--help`) and a key in the configuration file; a flag wins over its variable,
//! which wins over the file, which wins over the default.

use crate::settings::Override;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
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

/// Options every role understands, besides the global settings of [`crate::settings`].
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Environment variables and flags override it.
    #[arg(short, long, global = true, env = "SCIMC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the resolved configuration (secrets redacted) and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
}

/// The `log_format` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
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
    /// Check a Secret Server instance before the adapter uses it: reachability, TLS, the API
    /// version, the API account's role permissions for each SCIM feature, paging, a harmless read of
    /// each endpoint. Exits non-zero when something required is missing.
    Doctor(DoctorArgs),
    /// Check that a health URL answers 2xx (for container health checks in images without curl).
    Probe(ProbeArgs),
}

/// `doctor`: the instance's settings are the adapter's (`[[secret_servers]]`, or the
/// `SECRET_SERVER_*` variables and flags for `primary`).
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The `[[secret_servers]]` entry to check, by name.
    #[arg(long = "secret-server", env = "SCIMC_DOCTOR_SECRET_SERVER", default_value = "primary", value_name = "NAME")]
    pub secret_server: String,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The URL to GET, e.g. http://127.0.0.1:8080/readyz
    pub url: String,
    /// Give up after this long
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// The audit service's settings are in [`crate::settings`].
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
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

/// The emulator's settings are in [`crate::settings`].
#[derive(Debug, Args)]
#[command(after_help = "Secrets are read from the environment only (never flags, which `ps` shows):\n  \
    SCIMC_SIM_API_PASSWORD  password of the emulator's API account [default: generated once, kept in <data-dir>/sim-credentials]")]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
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

/// Every setting of `dev` is in [`crate::settings`].
#[derive(Debug, Args)]
#[command(after_help = "dev writes, in the data directory: dev-token (the SCIM bearer token), admin-token (admin and \
    audit APIs), sim-credentials (the emulator's API account: user name and password, one per line), \
    job-encryption-keys and audit-key (unless configured: the keys that seal passwords in jobs and key the audit chain).")]
pub struct DevArgs {}

/// The gateway's settings are in [`crate::settings`].
#[derive(Debug, Args)]
pub struct GatewayArgs {}

/// The adapter's settings are in [`crate::settings`].
#[derive(Debug, Args)]
#[command(after_help = "Secrets are read from the environment or a file only (never flags, which `ps` shows):\n  \
    SECRET_SERVER_PASSWORD  password of the Secret Server API account (or --secret-server-password-file)\n\n\
    More Secret Server instances, and connections, go in the configuration file (--config).")]
pub struct AdapterArgs {}

/// `admin`'s settings (the gateway's URL, the admin token) are in [`crate::settings`].
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: scim_gateway::cli::AdminCommand,
}

impl Cli {
    /// The whole command line: the subcommands and their arguments, and the setting flags of
    /// [`crate::settings::SETTINGS`].
    pub fn command_with_settings() -> clap::Command {
        crate::settings::augment(<Self as CommandFactory>::command())
    }

    /// Parses the process's arguments; returns the command and what its flags and variables set.
    ///
    /// # Errors
    /// An unknown flag or an invalid value (clap's error, naming the flag), or `--help`/`--version`.
    pub fn parse_with_settings() -> Result<(Self, Vec<Override>), clap::Error> {
        Self::try_parse_with_settings(std::env::args_os(), |name| std::env::var(name).ok())
    }

    /// [`Cli::parse_with_settings`] on given arguments and variables (secrets without a flag are read
    /// through `env`; clap reads the other variables from the process).
    ///
    /// # Errors
    /// As [`Cli::parse_with_settings`].
    pub fn try_parse_with_settings<I, T>(
        args: I,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, Vec<Override>), clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut matches = Self::command_with_settings().try_get_matches_from(args)?;
        let overrides = crate::settings::overrides(&matches, env);
        let cli = <Self as FromArgMatches>::from_arg_matches_mut(&mut matches)?;
        Ok((cli, overrides))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command_with_settings().debug_assert();
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
                let one_shot = ["generate", "export", "probe", "doctor"].iter().any(|c| path.ends_with(c))
                    || path.contains(" admin ");
                if !one_shot {
                    assert!(arg.get_env().is_some(), "--{id} of `{path}` has no environment variable");
                }
            }
            for sub in cmd.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&Cli::command_with_settings(), "scim-connector");
    }

    /// The rows of the settings table of docs/configuration.md.
    fn documented_rows() -> Vec<&'static str> {
        include_str!("../../../docs/configuration.md").lines().filter(|l| l.starts_with("| ")).collect()
    }

    #[test]
    fn every_flag_of_every_role_is_in_the_documented_table_with_its_variable() {
        let rows = documented_rows();
        let root = Cli::command_with_settings();
        let roles = std::iter::once(&root).chain(root.get_subcommands().filter(|c| c.get_name() != "probe"));
        for command in roles {
            // The subcommands of a role (`admin create`, `audit export`, `sim generate`) take arguments, not settings.
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version" | "print-config") {
                    continue;
                }
                let flag = format!("`--{long}`");
                assert!(
                    rows.iter().any(|row| row.contains(&flag)),
                    "{flag} of `{}` is missing from docs/configuration.md",
                    command.get_name()
                );
                // One flag may name a setting of each role (`--tls-cert`): some row gives it with this variable.
                if let Some(env) = arg.get_env() {
                    let env = format!("`{}`", env.to_string_lossy());
                    assert!(
                        rows.iter().any(|row| row.contains(&flag) && row.contains(&env)),
                        "docs/configuration.md gives {flag} without its variable {env}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_setting_is_in_the_documented_table_with_its_variable() {
        let rows = documented_rows();
        for setting in crate::settings::SETTINGS {
            let env = format!("`{}`", setting.env);
            assert!(rows.iter().any(|row| row.contains(&env)), "{env} is missing from docs/configuration.md");
        }
    }
}
