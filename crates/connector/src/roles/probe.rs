//! `scim-connector probe <url>`: a health check for images without a shell or curl (distroless):
//! exits 0 when the URL answers 2xx within the timeout.

use crate::cli::ProbeArgs;
use std::process::ExitCode;

pub(super) async fn run(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder().timeout(args.timeout).build()?;
    match client.get(&args.url).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            eprintln!("probe: {} answered {}", args.url, response.status());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("probe: {}: {error}", args.url);
            Ok(ExitCode::FAILURE)
        }
    }
}
