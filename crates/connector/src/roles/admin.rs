//! `scim-connector admin ...`: the gateway's admin API from the command line.

use crate::cli::AdminArgs;
use crate::config::Config;
use crate::resolve::Common;
use anyhow::Context;
use std::process::ExitCode;

pub(super) async fn run(common: &Common, config: &Config, args: AdminArgs) -> anyhow::Result<ExitCode> {
    let token = match super::audit::admin_token(config)? {
        Some(token) => token,
        None => {
            let path = common.data_dir.join("admin-token");
            crate::config::read_secret_file(&path).with_context(|| {
                format!(
                    "no admin token: set SCIMC_ADMIN_TOKEN or admin_token_file, or run `dev` to create {}",
                    path.display()
                )
            })?
        }
    };
    let succeeded = scim_gateway::run(args.command, &config.admin.url, &token).await?;
    Ok(if succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
