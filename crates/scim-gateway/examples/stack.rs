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

use anyhow::Context;
use connections::{Connection, ConnectionStore, credentials};
use job_queue::{EventBus, InProcessEventBus, InProcessQueue, JobQueue, QueueConfig};
use scim_gateway::{GatewayDeps, GatewaySettings};
use secrecy::ExposeSecret;
use secret_server_adapter::{AdapterDeps, AdapterSettings, InstanceSettings};
use secret_server_sim::{GenerateSpec, Seed, SimConfig};
use state_store::{LocalStore, StateStore};
use std::net::SocketAddr;
use std::sync::Arc;
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
    let state: Arc<dyn StateStore> = Arc::new(LocalStore::in_memory()?);
    let connections = ConnectionStore::new(state.clone(), Duration::from_secs(5));
    let queue_config = QueueConfig::default();
    let queue: Arc<dyn JobQueue> = Arc::new(InProcessQueue::new(&queue_config)?);
    let events: Arc<dyn EventBus> = Arc::new(InProcessEventBus::new(&queue_config)?);

    let issued = credentials::issue_token(Some("stack".into()), None);
    let mut connection: Connection =
        serde_json::from_value(serde_json::json!({"id": "bench", "displayName": "Stack", "secretServer": "primary",
            "rateLimit": "none"}))?;
    connection.credentials.bearer_tokens.push(issued.credential);
    connections.put(&connection).await?;

    let client = secret_server_client::ClientConfig::new(
        sim.base_url().parse()?,
        sim.api_username(),
        sim.api_password().clone(),
    )
    .allowing_http();
    let adapter = secret_server_adapter::start(
        AdapterSettings {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_listen: None,
            instances: vec![InstanceSettings::new("primary", client)],
            progress_bars: false,
            ..AdapterSettings::default()
        },
        AdapterDeps {
            queue: queue.clone(),
            events: events.clone(),
            state: state.clone(),
            connections: connections.clone(),
        },
    )
    .await?;
    adapter.wait_ready(Duration::from_secs(1800)).await?;

    let settings = GatewaySettings {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        adapter_url: format!("http://{}", adapter.grpc_addr()),
        adapter_secret: adapter.grpc_secret().cloned(),
        http_workers: args.workers,
        ..GatewaySettings::default()
    };
    let gateway = scim_gateway::start(settings, GatewayDeps { queue, events, state, connections }).await?;
    std::fs::write(&args.token_file, issued.token.expose_secret())?;
    eprintln!("stack ready: http://{}/scim/v2 (token in {})", gateway.addr(), args.token_file.display());
    tokio::signal::ctrl_c().await?;
    gateway.shutdown().await;
    adapter.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
