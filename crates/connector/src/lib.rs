//! The one binary of the SCIM connector for Secret Server, `scim-connector`,
//! as a library so that tests can start any role, or the whole stack, in
//! process.
//!
//! Each subcommand runs one role the way a container would (`gateway`,
//! `adapter`, `audit`, `sim`), `dev` runs all of them in one process with
//! embedded defaults, and `admin` drives the gateway's admin API. The roles
//! themselves live in their crates; this crate only resolves configuration
//! (flags, environment, file, defaults), starts telemetry, wires the shared
//! backends (queue, events, state, connections) and waits for the shutdown
//! signal.

pub mod cli;
pub mod config;
mod credentials;
mod resolve;
mod roles;
mod shutdown;
pub mod testing;

use clap::Parser;
use std::process::ExitCode;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // Configuration mistakes and start-up failures: one clear line (with causes), non-zero exit.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    // Every HTTPS client in the process (Secret Server, admin, probe, OTLP) uses rustls with the ring
    // provider; the workspace builds reqwest without a default one, so install it before anything.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let file = config::FileConfig::load(cli.global.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(roles::dispatch(cli, file))
}
