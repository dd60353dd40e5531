//! `scim-connector sim`: the Secret Server emulator alone, and `sim generate`.

use crate::cli::{SimArgs, SimCommand};
use crate::config::FileConfig;
use crate::resolve::Common;
use anyhow::Context;
use secrecy::SecretString;
use std::process::ExitCode;

/// The emulator's settings: file section, then environment and flags; the API password from
/// `SCIMC_SIM_API_PASSWORD`, the file, or `<data-dir>/sim-credentials` (created on first use).
pub fn sim_settings(common: &Common, file: &FileConfig, args: &SimArgs) -> anyhow::Result<secret_server_sim::Settings> {
    let mut settings = file.sim.clone();
    if let Some(listen) = args.listen.listen {
        settings.listen = listen;
    }
    if let Some(base) = &args.listen.base_path {
        settings.base_path = base.clone();
    }
    if let Some(user) = &args.api_username {
        settings.api_username = user.clone();
    }
    if let Some(seed) = &args.seed {
        settings.seed = seed.clone();
    }
    if settings.data_dir.is_none() {
        settings.data_dir = Some(common.data_dir.join("secret-server"));
    }
    if let Ok(password) = std::env::var("SCIMC_SIM_API_PASSWORD") {
        settings.api_password = Some(SecretString::from(password));
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

pub async fn run(common: &Common, file: &FileConfig, args: SimArgs, print: bool) -> anyhow::Result<ExitCode> {
    let settings = sim_settings(common, file, &args)?;
    if print {
        return Ok(super::print_config("sim", &settings));
    }
    let _telemetry = super::init_telemetry(common, "secret-server-sim")?;
    match args.command.unwrap_or(SimCommand::Run) {
        SimCommand::Run => {
            let config = settings.into_config()?;
            let shutdown = crate::shutdown::on_signal();
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
