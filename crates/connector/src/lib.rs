//! The one binary of the SCIM connector for Secret Server, `scim-connector`,
//! as a library so that tests can start any role, or the whole stack, in
//! process.
//!
//! Each subcommand runs one role the way a container would (`gateway`,
//! `adapter`, `audit`, `sim`), `dev` runs all of them in one process with
//! embedded defaults, and `admin` drives the gateway's admin API. The roles
//! themselves live in their crates; this crate only resolves configuration
//! (defaults, file, environment, flags: one layering for every setting), starts telemetry, wires the shared
//! backends (queue, events, state, connections) and waits for the shutdown
//! signal.

pub mod cli;
pub mod config;
mod credentials;
mod keys;
// `Common` is public for `connector::testing` (through the `dev` stack's settings).
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
mod resolve;
mod roles;
pub mod settings;
mod shutdown;
#[cfg(feature = "testing")]
pub mod testing;

use std::process::ExitCode;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let (cli, overrides) = match cli::Cli::parse_with_settings() {
        Ok(parsed) => parsed,
        Err(error) => return command_line_error(&error),
    };
    match run(cli, &overrides) {
        Ok(code) => code,
        Err(error) => {
            // Configuration mistakes and start-up failures: one clear line (with causes), non-zero exit.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// An invalid value is one line naming the flag, its variable and its key (the value may have come
/// from the variable); `--help`, `--version` and usage mistakes are clap's own output.
fn command_line_error(error: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        error.exit();
    }
    let rendered = error.render().to_string();
    let line = rendered.lines().next().unwrap_or("error: invalid value");
    let setting = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => {
            let flag = arg.trim_start_matches('-').split([' ', '=']).next().unwrap_or_default();
            settings::SETTINGS.iter().find(|s| s.flag == Some(flag))
        }
        _ => None,
    };
    match setting {
        Some(s) => eprintln!("{line} (setting {}, variable {})", s.key, s.env),
        None => eprintln!("{line}"),
    }
    ExitCode::from(2)
}

fn run(cli: cli::Cli, overrides: &[settings::Override]) -> anyhow::Result<ExitCode> {
    // Every HTTPS client in the process (Secret Server, admin, probe, OTLP) uses rustls with the ring
    // provider; the workspace builds reqwest without a default one, so install it before anything.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = config::load(cli.global.config.as_deref(), overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(roles::dispatch(cli, config))
}
