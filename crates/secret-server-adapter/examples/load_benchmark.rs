//! The adapter benchmark: the first load of a large Secret Server (by default 100,000 users,
//! 10,000 groups, 1,000,000 memberships, plus 20,000 folders with permissions and 50,000 secrets,
//! from the emulator's generator), the adapter's resident memory after it, and the latency of
//! `userName eq` queries through gRPC.
//!
//! ```text
//! cargo run --release -p secret-server-adapter --example load_benchmark
//! cargo run --release -p secret-server-adapter --example load_benchmark -- --users 10000 --groups 1000 --memberships 100000
//! ```
//!
//! The emulator runs in a child process (this same binary, `sim` subcommand) so that the memory
//! measured is the adapter's alone. The generated data set is kept in `target/adapter-bench-data-*`
//! and reused by later runs. The state store is a SQLite file (as `scim-connector dev` uses), the
//! queue is in process. Both processes share the machine's cores.

use anyhow::Context;
use connections::ConnectionStore;
use proto::common::v1 as common;
use proto::directory::v1 as dir;
use proto::directory::v1::directory_client::DirectoryClient;
use secret_server_adapter::{AdapterDeps, AdapterSettings, InstanceSettings};
use secret_server_client::ClientConfig;
use secret_server_sim::{GenerateSpec, SimConfig};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

#[derive(Debug, Clone)]
struct Args {
    spec: GenerateSpec,
    queries: usize,
    data_dir: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { spec: GenerateSpec::default(), queries: 20_000, data_dir: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--users" => args.spec.users = value()?.parse()?,
            "--groups" => args.spec.groups = value()?.parse()?,
            "--memberships" => args.spec.memberships = value()?.parse()?,
            "--folders" => args.spec.folders = value()?.parse()?,
            "--secrets" => args.spec.secrets = value()?.parse()?,
            "--queries" => args.queries = value()?.parse()?,
            "--data-dir" => args.data_dir = Some(PathBuf::from(value()?)),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// `VmRSS` and `VmHWM` (peak) of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The child process: serve the data directory until stdin closes.
async fn run_sim(dir: &Path) -> anyhow::Result<()> {
    let config = SimConfig { data_dir: Some(dir.to_owned()), workers: Some(2), ..SimConfig::for_tests() };
    let sim = secret_server_sim::spawn(config).await?;
    println!("{}", sim.base_url());
    std::io::stdout().flush()?;
    // The parent closes our stdin when it is done (or dies).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    sim.shutdown().await;
    Ok(())
}

fn data_dir_for(args: &Args) -> PathBuf {
    if let Some(dir) = &args.data_dir {
        return dir.clone();
    }
    let s = args.spec;
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    target.join(format!(
        "adapter-bench-data-{}u-{}g-{}m-{}f-{}s-{}",
        s.users, s.groups, s.memberships, s.folders, s.secrets, s.rng_seed
    ))
}

async fn search(
    grpc: &mut DirectoryClient<
        tonic::service::interceptor::InterceptedService<Channel, secret_server_adapter::grpc_auth::PresentSecret>,
    >,
    filter: String,
    start: u64,
    count: u32,
) -> anyhow::Result<dir::SearchResourcesResponse> {
    let req = dir::SearchResourcesRequest {
        caller: Some(common::Caller { connection_id: "bench".into() }),
        resource_types: vec![common::ResourceType::User as i32],
        filter,
        page: Some(dir::search_resources_request::Page::Index(dir::IndexPage {
            start_index: start,
            count: Some(count),
        })),
        ..Default::default()
    };
    Ok(grpc.search_resources(req).await?.into_inner())
}

fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("sim") {
        let dir = PathBuf::from(argv.next().context("sim <data-dir>")?);
        return tokio::runtime::Runtime::new()?.block_on(run_sim(&dir));
    }
    let args = parse_args()?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(
        &telemetry::TelemetrySettings::new("adapter-benchmark", env!("CARGO_PKG_VERSION"))
            .with_log_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned())),
    )?;
    let dir = data_dir_for(&args);
    // A directory that holds anything is a data set generated by an earlier run.
    if std::fs::read_dir(&dir).map(|mut d| d.next().is_none()).unwrap_or(true) {
        eprintln!("generating {:?} into {}", args.spec, dir.display());
        let started = Instant::now();
        let spec = args.spec;
        let target = dir.clone();
        tokio::task::spawn_blocking(move || secret_server_sim::generate_data_dir(&spec, &target, false)).await??;
        eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    }

    let mut child = Command::new(std::env::current_exe()?)
        .arg("sim")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the emulator process")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("child stdout")?).read_line(&mut line)?;
    let base_url = line.trim().to_owned();
    anyhow::ensure!(base_url.starts_with("http"), "the emulator did not start: {line:?}");

    let state_dir = tempfile::tempdir()?;
    let state: Arc<dyn state_store::StateStore> =
        Arc::new(state_store::LocalStore::open(&state_dir.path().join("state.sqlite"))?);
    let backends = job_queue::connect(&job_queue::QueueConfig::default()).await?;
    let connections = ConnectionStore::new(state.clone(), Duration::from_secs(5));
    connections.put(&serde_json::from_value(json!({"id": "bench", "secretServer": "primary"}))?).await?;
    let client = ClientConfig::new(
        url::Url::parse(&base_url)?,
        secret_server_sim::TEST_API_USERNAME,
        secrecy::SecretString::from(secret_server_sim::TEST_API_PASSWORD),
    )
    .allowing_http();
    let settings = AdapterSettings {
        grpc_listen: "127.0.0.1:0".parse()?,
        http_listen: None,
        instances: vec![InstanceSettings::new("primary", client)],
        resync_interval: Duration::from_secs(24 * 3600),
        ..AdapterSettings::default()
    };
    let (rss_before, _) = memory_mib();
    let started = Instant::now();
    let adapter = secret_server_adapter::start(
        settings,
        AdapterDeps { queue: backends.queue, events: backends.events, state, connections },
    )
    .await?;
    adapter.wait_ready(Duration::from_secs(1800)).await?;
    let load = started.elapsed();
    let (rss_after, peak) = memory_mib();

    let channel = Channel::from_shared(format!("http://{}", adapter.grpc_addr()))?.connect().await?;
    let secret = secret_server_adapter::grpc_auth::PresentSecret::new(adapter.grpc_secret());
    let mut grpc = DirectoryClient::with_interceptor(channel, secret.clone());
    let health = grpc.health(dir::HealthRequest {}).await?.into_inner();
    let records = health.instances.first().map(|i| i.records).unwrap_or(0);

    // Existing user names, from pages spread over the whole list.
    let total = search(&mut grpc, String::new(), 1, 0).await?.total_results;
    let mut names = Vec::new();
    for k in 0..20u64 {
        let start = 1 + k * (total / 20).max(1);
        for r in search(&mut grpc, String::new(), start, 50).await?.resources {
            let doc: serde_json::Value = serde_json::from_slice(&r.json)?;
            if let Some(n) = doc["userName"].as_str() {
                names.push(n.to_owned());
            }
        }
    }
    anyhow::ensure!(!names.is_empty(), "no users to query");
    for name in names.iter().take(500) {
        search(&mut grpc, format!("userName eq \"{name}\""), 1, 10).await?;
    }
    let mut latencies = Vec::with_capacity(args.queries);
    let run = Instant::now();
    for i in 0..args.queries {
        let name = &names[(i * 7919) % names.len()];
        let t = Instant::now();
        let page = search(&mut grpc, format!("userName eq \"{name}\""), 1, 10).await?;
        latencies.push(t.elapsed());
        anyhow::ensure!(page.total_results == 1, "userName {name} found {} times", page.total_results);
    }
    let sequential = run.elapsed();
    latencies.sort();
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_average = load_average.split_whitespace().next().unwrap_or("?").to_owned();

    // Eight clients at once, each on its own connection.
    let concurrent_started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..8usize {
        let channel = Channel::from_shared(format!("http://{}", adapter.grpc_addr()))?.connect().await?;
        let mut grpc = DirectoryClient::with_interceptor(channel, secret.clone());
        let names = names.clone();
        let per_client = args.queries / 8;
        clients.push(tokio::spawn(async move {
            for i in 0..per_client {
                let name = &names[(c * 104_729 + i * 7919) % names.len()];
                search(&mut grpc, format!("userName eq \"{name}\""), 1, 10).await?;
            }
            anyhow::Ok(per_client)
        }));
    }
    let mut concurrent_queries = 0;
    for client in clients {
        concurrent_queries += client.await??;
    }
    let concurrent = concurrent_started.elapsed();

    let resync_started = Instant::now();
    adapter.resync_now().await?;
    let resync = resync_started.elapsed();
    let (rss_after_resync, peak_after_resync) = memory_mib();

    println!("## adapter benchmark");
    println!();
    println!("data set: {:?}", args.spec);
    println!("records held (memberships included): {records}");
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| first load (start → ready) | {:.1} s ({:.0} records/s) |",
        load.as_secs_f64(),
        records as f64 / load.as_secs_f64()
    );
    println!("| adapter RSS before start | {rss_before:.0} MiB |");
    println!("| adapter RSS after the first load | {rss_after:.0} MiB |");
    println!("| adapter peak RSS during the load | {peak:.0} MiB |");
    println!("| full resync (re-read and diff, nothing changed) | {:.1} s |", resync.as_secs_f64());
    println!("| adapter RSS / peak after the resync | {rss_after_resync:.0} / {peak_after_resync:.0} MiB |");
    println!(
        "| `userName eq` through gRPC, 8 clients at once | {:.0} queries/s |",
        concurrent_queries as f64 / concurrent.as_secs_f64()
    );
    println!("| load average (1 min) while querying | {load_average} |");
    println!(
        "| `userName eq` through gRPC, {} sequential queries | p50 {}, p90 {}, p99 {}, max {} ({:.0} queries/s) |",
        latencies.len(),
        micros(percentile(&latencies, 0.50)),
        micros(percentile(&latencies, 0.90)),
        micros(percentile(&latencies, 0.99)),
        micros(percentile(&latencies, 1.0)),
        latencies.len() as f64 / sequential.as_secs_f64()
    );

    adapter.shutdown().await;
    drop(child.stdin.take());
    let _ = child.wait();
    Ok(())
}
