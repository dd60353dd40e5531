//! `scim-connector sim`: the Secret Server emulator alone, and `sim generate`.

use crate::cli::{SimArgs, SimCommand};
use crate::config::Config;
use crate::resolve::Common;
use anyhow::Context;
use std::process::ExitCode;

/// The emulator's settings from the resolved configuration; without an API password (the
/// `SCIMC_SIM_API_PASSWORD` variable or the `sim.api_password` key), the one of
/// `<data-dir>/sim-credentials` (created on first use).
///
/// # Errors
/// A data directory or credentials file that cannot be created.
pub(super) fn sim_settings(common: &Common, config: &Config) -> anyhow::Result<secret_server_sim::Settings> {
    let mut settings = config.sim.clone();
    if settings.data_dir.is_none() {
        settings.data_dir = Some(common.data_dir.join("secret-server"));
    }
    if settings.api_password.is_none() {
        std::fs::create_dir_all(&common.data_dir)
            .with_context(|| format!("cannot create the data directory {}", common.data_dir.display()))?;
        let (user, password) = crate::credentials::sim_credentials(&common.data_dir, &settings.api_username)?;
        settings.api_username = user;
        settings.api_password = Some(password);
    }
    Ok(settings)
}

pub(super) async fn run(common: &Common, config: &Config, args: SimArgs, print: bool) -> anyhow::Result<ExitCode> {
    let settings = sim_settings(common, config)?;
    if print {
        return Ok(super::print_config("sim", &settings));
    }
    let _telemetry = super::init_telemetry(common, "secret-server-sim")?;
    match args.command.unwrap_or(SimCommand::Run) {
        SimCommand::Run => {
            let config = settings.into_config()?;
            let shutdown = crate::shutdown::on_signal(common.shutdown_grace);
            secret_server_sim::run(config, shutdown.cancelled_owned()).await?;
        }
        SimCommand::Generate(g) => {
            let spec = secret_server_sim::GenerateSpec {
                users: g.users,
                groups: g.groups,
                memberships: g.memberships,
                folders: g.folders,
                permissions_per_folder: g.permissions_per_folder,
                secrets: g.secrets,
                ..secret_server_sim::GenerateSpec::default()
            };
            let dir = settings.data_dir.clone().context("the emulator needs a data directory to generate into")?;
            let counts =
                tokio::task::spawn_blocking(move || secret_server_sim::generate_data_dir(&spec, &dir, g.replace))
                    .await
                    .context("the generator panicked")??;
            eprintln!("generated: {counts:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
