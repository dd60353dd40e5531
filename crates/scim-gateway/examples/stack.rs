//! The gateway in front of the real adapter, the Secret Server emulator and an in-process queue,
//! as one process: what `scripts/conformance.sh` (before `scim-connector dev` existed) and
//! `scripts/bench-gateway.sh` run against.
//!
//! ```text
//! cargo run --release -p scim-gateway --example stack -- --port 8080 --token-file /tmp/token [--users 100000]
//! ```
//!
//! Without `--users` the emulator starts from its demo seed; with it, from a generated data set of
//! that many users (and proportionally few groups, folders and secrets). The connection `bench`
//! (bound to instance `primary`, default scope, no rate limit) gets a fresh bearer token, written
//! to `--token-file`. Runs until interrupted.

mod common;

use anyhow::Context;
use secret_server_sim::{GenerateSpec, Seed, SimConfig};
use std::time::Duration;

/// The allocator of the `scim-connector` binary, so that the benchmark measures what is deployed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    port: u16,
    token_file: std::path::PathBuf,
    users: Option<u64>,
    workers: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args { port: 8080, token_file: "stack-token".into(), users: None, workers: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => out.port = value.parse().context("--port")?,
            "--token-file" => out.token_file = value.into(),
            "--users" => out.users = Some(value.parse().context("--users")?),
            "--workers" => out.workers = value.parse().context("--workers")?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let mut sim_config = SimConfig::for_tests();
    if let Some(users) = args.users {
        sim_config.seed = Seed::Generate(GenerateSpec {
            users,
            groups: (users / 100).max(1),
            memberships: users * 2,
            folders: (users / 100).max(1),
            permissions_per_folder: 2,
            secrets: (users / 20).max(1),
            rng_seed: 42,
        });
    }
    let sim = secret_server_sim::spawn(sim_config).await?;
    let client = common::emulator_client(&sim)?;
    let spec = common::StackSpec {
        connection: "bench",
        workers: None,
        http_workers: args.workers,
        port: args.port,
        ready_within: Duration::from_secs(1800),
    };
    let stack = common::start(client, spec).await?;
    std::fs::write(&args.token_file, &stack.token)?;
    eprintln!("stack ready: {} (token in {})", stack.base, args.token_file.display());
    tokio::signal::ctrl_c().await?;
    stack.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
