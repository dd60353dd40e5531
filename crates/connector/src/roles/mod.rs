//! One module per role; [`dispatch`] picks the one the command line asked for.

mod adapter;
mod admin;
mod audit;
// Its `Stack` is public for `connector::testing`, which only the tests build (the `testing` feature).
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub, dead_code))]
pub(crate) mod dev;
mod doctor;
mod gateway;
mod probe;
mod sim;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::resolve::Common;
use std::process::ExitCode;

pub(crate) use adapter::adapter_settings;
pub(crate) use audit::check_admin_token_length;
pub(crate) use gateway::gateway_settings;

/// Runs the role of `cli.command`.
pub(crate) async fn dispatch(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    let common = Common::resolve(&config)?;
    let print_config = cli.global.print_config;
    match cli.command {
        Command::Dev(_) => dev::run(&common, &config, print_config).await,
        Command::Gateway(_) => gateway::run(&common, &config, print_config).await,
        Command::Adapter(_) => adapter::run(&common, &config, print_config).await,
        Command::Audit(args) => audit::run(&common, &config, args, print_config).await,
        Command::Sim(args) => sim::run(&common, &config, args, print_config).await,
        Command::Admin(args) => admin::run(&common, &config, args).await,
        Command::Doctor(args) => doctor::run(&config, args).await,
        Command::Probe(args) => probe::run(args).await,
    }
}

/// Starts logs and traces for a role.
fn init_telemetry(common: &Common, service: &str) -> anyhow::Result<telemetry::TelemetryGuard> {
    telemetry::install_prometheus_recorder();
    let guard = telemetry::init(&common.telemetry(service))?;
    // Secret Server requests carry the trace context that telemetry keeps (span ids only when no
    // spans are exported), not only the OpenTelemetry layer's.
    secret_server_client::telemetry::set_trace_context_source(telemetry::propagation::current_context);
    Ok(guard)
}

/// Prints a resolved configuration for `--print-config` (its `Debug` form redacts secrets).
fn print_config(role: &str, config: &dyn std::fmt::Debug) -> ExitCode {
    println!("# scim-connector {role}: resolved configuration (secrets redacted)\n{config:#?}");
    ExitCode::SUCCESS
}
