//! `scim-connector doctor --secret-server NAME`: the preflight of one Secret Server instance
//! ([`secret_server_adapter::doctor`]), with the settings the adapter role would use, run in this
//! process. Prints the report; exits 1 when something required is missing.

use crate::cli::DoctorArgs;
use crate::config::Config;
use anyhow::bail;
use std::process::ExitCode;

pub(super) async fn run(config: &Config, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let names: Vec<&str> = config.secret_servers.iter().map(|s| s.name.as_str()).collect();
    let Some(section) = config.secret_servers.iter().find(|s| s.name == args.secret_server) else {
        bail!("no Secret Server instance named {:?} (configured: {})", args.secret_server, names.join(", "));
    };
    let mut instances = vec![super::adapter::instance(section)?];
    super::adapter::resolve_vaults(&mut instances, config).await?;
    let instance = instances.remove(0);
    let report = secret_server_adapter::doctor(&instance.name, instance.client).await;
    print!("{}", report.render());
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
