//! `scim-connector admin ...`: the gateway's admin API from the command line.

use crate::cli::AdminArgs;
use crate::resolve::Common;
use anyhow::Context;
use secrecy::SecretString;
use std::process::ExitCode;

pub async fn run(common: &Common, args: AdminArgs) -> anyhow::Result<ExitCode> {
    let url = args.url.unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let token = match args.token {
        Some(token) => SecretString::from(token),
        None => {
            let path = common.data_dir.join("admin-token");
            crate::config::read_secret_file(&path).with_context(|| {
                format!(
                    "no admin token: pass --token, set SCIMC_ADMIN_TOKEN, or run `dev` to create {}",
                    path.display()
                )
            })?
        }
    };
    scim_gateway::run(args.command, &url, &token).await?;
    Ok(ExitCode::SUCCESS)
}
