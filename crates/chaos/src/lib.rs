//! The chaos harness: the connector as it runs in production, every role in its own process (the
//! `scim-connector` binary: emulator, two adapter replicas, gateway, audit) on a real Redis with an
//! append-only file, and concurrent SCIM clients (see [`workload`]) while faults are injected;
//! then what the clients were told is compared with Secret Server's state, SCIM reads and the
//! audit log (see [`verify`]).
//!
//! Two scenarios:
//!
//! - **chaos** (the default): Secret Server answers 5xx, 429, HTML and slowly (the emulator's fault
//!   injection) for the whole run; an adapter is killed with `SIGKILL` and started again, twice
//!   (once each); Redis is killed with `SIGKILL` and started again on its append-only file; the
//!   gateway is restarted; the adapters resync every 2 s while clients delete users. Clients retry
//!   as identity platforms do. Nothing may be lost, doubled or wrong, and every change is audited.
//! - **rolling**: the adapters are restarted one after the other (`SIGTERM`, as a rolling update
//!   does) while clients read and write without retrying: not one SCIM call may fail. The gateway
//!   reaches the adapters through [`proxy::Balancer`], which does what a Kubernetes Service does.
//!
//! `--short` is the CI form (about a minute of load each); the long form is the default duration.

pub mod procs;
pub mod proxy;
pub mod verify;
pub mod workload;

use anyhow::{Context, bail};
use procs::{Proc, free_port, wait_http_ok, wait_port};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `scim-connector` binary.
    pub binary: PathBuf,
    pub scenario: Scenario,
    /// How long the clients run.
    pub duration: Duration,
    pub clients: usize,
    /// Keep the run's directory (logs, data) even when it passes.
    pub keep: bool,
    /// A successful SCIM write without its call record in the audit log fails the run.
    pub require_call_records: bool,
}

/// The two scenarios (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Chaos,
    Rolling,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub calls: u64,
    pub writes_told: usize,
    pub users: usize,
    pub gave_up: usize,
    /// Successful SCIM write calls in the audit log (the clients were told `writes_told`).
    pub call_records: usize,
    /// For the rolling restart: how long each adapter took to be ready again.
    pub ready_again: Vec<Duration>,
    pub elapsed: Duration,
}

const SIM_USER: &str = "scim-api";
const SIM_PASSWORD: &str = "Chaos-Harness-Passw0rd!";
/// `k1:` and the base64 of 32 bytes.
const JOB_KEYS: &str = "k1:Y2hhb3MtaGFybmVzcy1qb2Ita2V5LTAxMjM0NTY3ODk=";
const ADAPTER_SECRET: &str = "chaos-harness-gateway-adapter-secret-0123456789";
const AUDIT_KEY: &str = "6368616f732d6861726e6573732d61756469742d6b65792d3031323334353637";
const ADMIN_TOKEN: &str = "chaos-harness-admin-token-0123456789abcdef";
const SCIM_TOKEN: &str = "scimc_chaos-harness-token-0123456789abcdefghij";

/// The processes of a run and their addresses.
struct Stack {
    dir: PathBuf,
    redis: Proc,
    sim: Proc,
    adapters: Vec<Proc>,
    adapter_http: Vec<u16>,
    gateway: Proc,
    audit: Proc,
    balancer: proxy::Balancer,
    sources: verify::Sources,
    gateway_port: u16,
    sim_port: u16,
    http: reqwest::Client,
}

fn common_env(redis_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("REDIS_URL", format!("redis://127.0.0.1:{redis_port}")),
        ("SCIMC_REDIS_PREFIX", "chaos".to_owned()),
        ("SCIMC_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str().map(str::to_owned).context("the run directory is not UTF-8")
}

impl Stack {
    async fn start(binary: &Path, dir: &Path) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let redis_port = free_port()?;
        let mut redis = procs::redis(dir, redis_port)?;
        redis.start()?;
        wait_port(redis_port, Duration::from_secs(10)).await?;

        let sim_port = free_port()?;
        let mut sim = Proc::new(
            "sim",
            binary,
            &["sim", "--sim-listen", &format!("127.0.0.1:{sim_port}")],
            &[
                ("SCIMC_SIM_API_USERNAME", SIM_USER.to_owned()),
                ("SCIMC_SIM_API_PASSWORD", SIM_PASSWORD.to_owned()),
                ("SCIMC_SIM_SEED", "empty".to_owned()),
                ("SCIMC_DATA_DIR", path_str(&dir.join("sim"))?),
                ("RUST_LOG", "warn".to_owned()),
            ],
            dir,
        );
        sim.start()?;
        wait_port(sim_port, Duration::from_secs(30)).await?;
        let sim_base = format!("http://127.0.0.1:{sim_port}/SecretServer");

        let mut adapters = Vec::new();
        let mut adapter_http = Vec::new();
        let mut backends = Vec::new();
        for n in 1..=2 {
            let (grpc, health) = (free_port()?, free_port()?);
            let mut env = common_env(redis_port);
            env.extend([
                ("SECRET_SERVER_URL", sim_base.clone()),
                ("SECRET_SERVER_USERNAME", SIM_USER.to_owned()),
                ("SECRET_SERVER_PASSWORD", SIM_PASSWORD.to_owned()),
                ("SECRET_SERVER_ALLOW_INSECURE_HTTP", "true".to_owned()),
                ("SCIMC_ADAPTER_SECRET", ADAPTER_SECRET.to_owned()),
                ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEYS.to_owned()),
                // Resyncs run all the time, deletions among them.
                ("SCIMC_RESYNC_INTERVAL", "2s".to_owned()),
                // Every client lists with an unindexed filter on the one connection: its bound on
                // expensive requests (4 by default, beyond which a list is 429) is not what these runs test.
                ("SCIMC_ADAPTER_EXPENSIVE_PER_CONNECTION", "64".to_owned()),
                ("SCIMC_ADAPTER_REPLICA_ID", format!("adapter-{n}")),
                ("SCIMC_ADAPTER_SNAPSHOT_INTERVAL", "5s".to_owned()),
                ("SCIMC_DATA_DIR", path_str(&dir.join(format!("adapter-{n}")))?),
            ]);
            let grpc_listen = format!("127.0.0.1:{grpc}");
            let http_listen = format!("127.0.0.1:{health}");
            let mut adapter = Proc::new(
                &format!("adapter-{n}"),
                binary,
                &["adapter", "--adapter-listen", &grpc_listen, "--http-listen", &http_listen],
                &env,
                dir,
            );
            adapter.start()?;
            backends.push((grpc, format!("http://127.0.0.1:{health}/readyz")));
            adapters.push(adapter);
            adapter_http.push(health);
        }
        let balancer = proxy::Balancer::start(&backends).await?;

        let admin_sha = connections::credentials::sha256_hex(ADMIN_TOKEN);
        let config = dir.join("connector.toml");
        std::fs::write(
            &config,
            format!(
                "admin_token_sha256 = [\"{admin_sha}\"]\n\n[[connections]]\nid = \"chaos\"\nsecretServer = \"primary\"\n\
                 rateLimit = \"none\"\ncredentials = {{ bearerTokens = [{{ id = \"chaos\", sha256 = \"{}\" }}] }}\n",
                connections::credentials::sha256_hex(SCIM_TOKEN)
            ),
        )?;
        let audit_port = free_port()?;
        let mut env = common_env(redis_port);
        env.extend([
            ("SCIMC_AUDIT_KEY", AUDIT_KEY.to_owned()),
            ("SCIMC_ADMIN_TOKEN_SHA256", admin_sha.clone()),
            ("SCIMC_DATA_DIR", path_str(&dir.join("audit"))?),
        ]);
        let mut audit =
            Proc::new("audit", binary, &["audit", "--audit-listen", &format!("127.0.0.1:{audit_port}")], &env, dir);
        audit.start()?;

        let gateway_port = free_port()?;
        let mut env = common_env(redis_port);
        env.extend([
            ("SCIMC_ADAPTER_URL", format!("http://127.0.0.1:{}", balancer.port)),
            ("SCIMC_ADAPTER_SECRET", ADAPTER_SECRET.to_owned()),
            ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEYS.to_owned()),
            ("SCIMC_DATA_DIR", path_str(&dir.join("gateway"))?),
        ]);
        let config = path_str(&config)?;
        let mut gateway = Proc::new(
            "gateway",
            binary,
            &["--config", &config, "gateway", "--gateway-listen", &format!("127.0.0.1:{gateway_port}")],
            &env,
            dir,
        );
        gateway.start()?;

        let stack = Self {
            dir: dir.to_owned(),
            redis,
            sim,
            adapters,
            adapter_http,
            gateway,
            audit,
            balancer,
            sources: verify::Sources {
                scim_base: format!("http://127.0.0.1:{gateway_port}"),
                token: SCIM_TOKEN.to_owned(),
                sim_base,
                sim_user: SIM_USER.to_owned(),
                sim_password: SIM_PASSWORD.to_owned(),
                audit_base: format!("http://127.0.0.1:{audit_port}"),
                admin_token: ADMIN_TOKEN.to_owned(),
            },
            gateway_port,
            sim_port,
            http,
        };
        for n in 0..stack.adapters.len() {
            stack.adapter_ready(n).await?;
        }
        wait_http_ok(&stack.http, &format!("{}/healthz", stack.sources.audit_base), Duration::from_secs(60)).await?;
        stack.gateway_ready().await?;
        Ok(stack)
    }

    async fn adapter_ready(&self, n: usize) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/readyz", self.adapter_http[n]);
        wait_http_ok(&self.http, &url, Duration::from_secs(120)).await.with_context(|| self.adapters[n].log_tail(20))
    }

    async fn gateway_ready(&self) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/readyz", self.gateway_port);
        wait_http_ok(&self.http, &url, Duration::from_secs(60)).await.with_context(|| self.gateway.log_tail(20))
    }

    /// Sets the emulator's faults (`PUT /_sim/faults`: what is not said is off).
    async fn faults(&self, faults: serde_json::Value) -> anyhow::Result<()> {
        let token = verify::sim_token(&self.http, &self.sources).await?;
        self.http
            .put(format!("http://127.0.0.1:{}/_sim/faults", self.sim_port))
            .bearer_auth(token)
            .json(&faults)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// `kill -9` of adapter `n`, then a start on the same ports and data; waits until it is ready.
    async fn crash_adapter(&mut self, n: usize) -> anyhow::Result<()> {
        eprintln!("chaos: kill -9 adapter-{}", n + 1);
        self.adapters[n].kill().await;
        self.adapters[n].start()?;
        self.adapter_ready(n).await
    }

    /// A rolling update's step: adapter `n` out of the Service, `SIGTERM`, started again, back in
    /// once ready.
    async fn roll_adapter(&mut self, n: usize) -> anyhow::Result<Duration> {
        eprintln!("chaos: rolling restart of adapter-{}", n + 1);
        self.balancer.drain(n);
        self.adapters[n].stop(Duration::from_secs(30)).await?;
        let began = Instant::now();
        self.adapters[n].start()?;
        self.adapter_ready(n).await?;
        let ready_after = began.elapsed();
        self.balancer.restore(n);
        Ok(ready_after)
    }

    async fn crash_redis(&mut self) -> anyhow::Result<()> {
        eprintln!("chaos: kill -9 redis (append-only file kept)");
        self.redis.kill().await;
        self.redis.start()
    }

    async fn restart_gateway(&mut self) -> anyhow::Result<()> {
        eprintln!("chaos: gateway restart");
        self.gateway.stop(Duration::from_secs(30)).await?;
        self.gateway.start()?;
        self.gateway_ready().await
    }

    async fn stop(mut self) {
        self.balancer.stop();
        let _ = self.gateway.stop(Duration::from_secs(15)).await;
        for adapter in &mut self.adapters {
            let _ = adapter.stop(Duration::from_secs(15)).await;
        }
        let _ = self.audit.stop(Duration::from_secs(15)).await;
        self.sim.kill().await;
        self.redis.kill().await;
    }
}

/// Waits until `at` past `began`.
async fn at(began: tokio::time::Instant, at: Duration) {
    tokio::time::sleep_until(began + at).await;
}

/// Runs a scenario.
///
/// # Errors
/// A process that does not start, or what the clients were told differing from what the
/// connector did (the run's directory, with every process's log, is kept and named).
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if !options.binary.exists() {
        bail!(
            "{} does not exist: build it first (cargo build -p connector --bin scim-connector)",
            options.binary.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("scim-chaos-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "chaos: {:?} for {:?} with {} clients; logs in {}",
        options.scenario,
        options.duration,
        options.clients,
        dir.display()
    );
    let result = run_in(options, &dir).await;
    match &result {
        Ok(_) if !options.keep => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        _ => eprintln!("chaos: logs and data kept in {}", dir.display()),
    }
    result
}

async fn run_in(options: &Options, dir: &Path) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut stack = Stack::start(&options.binary, dir).await?;
    let load = workload::Workload {
        base: stack.sources.scim_base.clone(),
        token: SCIM_TOKEN.to_owned(),
        clients: options.clients,
        retries: options.scenario == Scenario::Chaos,
        users_per_client: 12,
    };
    let clients = {
        let load = load.clone();
        let duration = options.duration;
        tokio::spawn(async move { workload::run(&load, duration).await })
    };
    let began = tokio::time::Instant::now();
    let d = options.duration;
    let mut ready_again = Vec::new();
    let result = async {
        match options.scenario {
            Scenario::Chaos => {
                stack
                    .faults(serde_json::json!({
                        "serverErrorRate": 0.08, "tooManyRequestsRate": 0.05, "htmlRate": 0.02, "latencyMs": 15,
                        "retryAfterSeconds": 1
                    }))
                    .await?;
                at(began, d.mul_f64(0.15)).await;
                stack.crash_adapter(0).await?;
                at(began, d.mul_f64(0.35)).await;
                stack.crash_redis().await?;
                at(began, d.mul_f64(0.55)).await;
                stack.restart_gateway().await?;
                at(began, d.mul_f64(0.7)).await;
                stack.crash_adapter(1).await?;
            }
            Scenario::Rolling => {
                at(began, d.mul_f64(0.2)).await;
                let first = stack.roll_adapter(0).await?;
                at(began, d.mul_f64(0.55)).await;
                let second = stack.roll_adapter(1).await?;
                eprintln!("chaos: adapters ready again after {first:.1?} and {second:.1?} (from their snapshots)");
                ready_again = vec![first, second];
            }
        }
        anyhow::Ok(())
    }
    .await;
    let ledgers = clients.await.context("the clients' task failed")?;
    let mut outcome = match result {
        Err(e) => Err(e),
        Ok(()) => check(&stack, &ledgers, options.scenario).await,
    };
    let (told, call_records) = match verify::call_records(&stack.sources, &ledgers, Duration::from_secs(30)).await {
        Ok(counts) => counts,
        Err(e) => {
            eprintln!("chaos: cannot count the SCIM call records: {e:#}");
            (0, 0)
        }
    };
    if call_records < told {
        eprintln!("chaos: of {told} writes answered 2xx, {call_records} have their SCIM call record (by request id)");
        if options.require_call_records && outcome.is_ok() {
            outcome = Err(anyhow::anyhow!("{} successful SCIM write(s) without a call record", told - call_records));
        }
    }
    let report = Report {
        calls: ledgers.iter().map(|l| l.calls).sum(),
        writes_told: ledgers.iter().map(|l| l.told.len()).sum(),
        users: ledgers.iter().map(|l| l.users.len()).sum(),
        gave_up: ledgers.iter().map(|l| l.gave_up).sum(),
        call_records,
        ready_again,
        elapsed: started.elapsed(),
    };
    if outcome.is_err() {
        for p in [&stack.gateway, &stack.adapters[0], &stack.adapters[1], &stack.audit] {
            eprintln!("--- last lines of {} ---\n{}", p.name, p.log_tail(15));
        }
    }
    let dir_note = stack.dir.display().to_string();
    stack.stop().await;
    outcome.with_context(|| format!("chaos run in {dir_note}"))?;
    Ok(report)
}

async fn check(stack: &Stack, ledgers: &[workload::Ledger], scenario: Scenario) -> anyhow::Result<()> {
    let failures: Vec<&String> = ledgers.iter().flat_map(|l| &l.failures).collect();
    if !failures.is_empty() {
        let shown: Vec<_> = failures.iter().take(30).map(|s| s.as_str()).collect();
        bail!("{} SCIM call(s) answered wrongly or failed:\n  {}", failures.len(), shown.join("\n  "));
    }
    if scenario == Scenario::Chaos {
        stack.faults(serde_json::json!({})).await?;
    }
    for n in 0..stack.adapters.len() {
        stack.adapter_ready(n).await?;
    }
    verify::verify(&stack.sources, ledgers, Duration::from_secs(90)).await
}
