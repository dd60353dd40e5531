//! How much of a Secret Server of limited capacity the client uses: the emulator serves `N`
//! requests at once, 20 ms each, queues `N` more and answers HTTP.sys's `503` beyond; 256 tasks
//! create users through one client as fast as it lets them, with the adaptive limit and with fixed
//! bounds (the behaviour before it) for reference. For each capacity and bound it prints the
//! sustained throughput as a share of the capacity (`N / 20 ms`), the `503`s the emulator
//! answered, and writes a plot of throughput over time (SVG, drawn here).
//!
//! ```text
//! cargo run --release -p secret-server-client --example capacity -- [--seconds 8] [--capacities 4,16,64]
//!     [--svg docs/capacity-throughput.svg]
//! ```

use secret_server_api::UserCreateArgs;
use secret_server_client::{AdaptiveConcurrency, ClientConfig, SecretServerClient, UserQuery};
use secret_server_sim::{CapacitySettings, Seed, SimConfig, spawn};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Each request's time in the emulator.
const LATENCY_MS: u64 = 20;
/// Tasks pushing creates: more than any limit reaches, so the client's bound is what holds them.
const TASKS: usize = 256;
/// Throughput is counted per bucket of this long.
const BUCKET: Duration = Duration::from_millis(250);
/// The start of a run left out of the sustained figure (the adaptive limit's ramp).
const WARM_UP: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
enum Bound {
    Adaptive,
    Fixed(usize),
}

impl Bound {
    fn label(self) -> String {
        match self {
            Bound::Adaptive => "adaptive".to_owned(),
            Bound::Fixed(n) => format!("fixed {n}"),
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Bound::Adaptive => "#d62728",
            Bound::Fixed(8) => "#1f77b4",
            Bound::Fixed(16) => "#2ca02c",
            Bound::Fixed(_) => "#9467bd",
        }
    }
}

struct Run {
    capacity: usize,
    bound: Bound,
    /// Creates completed per bucket.
    buckets: Vec<u64>,
    /// The client's limit at the end of each bucket.
    limits: Vec<usize>,
    sustained: f64,
    refused: u64,
    failed: u64,
    max_in_flight: usize,
}

struct Args {
    seconds: u64,
    capacities: Vec<usize>,
    svg: String,
}

fn args() -> Args {
    let mut args = Args { seconds: 8, capacities: vec![4, 16, 64], svg: "docs/capacity-throughput.svg".to_owned() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => args.seconds = value.parse().expect("--seconds N"),
            "--capacities" => {
                args.capacities = value.split(',').map(|c| c.trim().parse().expect("--capacities 4,16,64")).collect();
            }
            "--svg" => args.svg = value,
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

async fn run(capacity: usize, bound: Bound, seconds: u64) -> Run {
    let sim = spawn(SimConfig {
        seed: Seed::Empty,
        capacity: CapacitySettings::new(capacity, LATENCY_MS, capacity),
        ..SimConfig::for_tests()
    })
    .await
    .expect("the emulator starts");
    let mut config =
        ClientConfig::new(sim.base_url().parse().expect("base URL"), sim.api_username(), sim.api_password().clone())
            .allowing_http();
    match bound {
        Bound::Adaptive => {
            config.max_concurrent_requests = TASKS;
            // From 4, down to 2: this server may be smaller than the default floor of 8.
            config.adaptive_concurrency = Some(AdaptiveConcurrency { min: 2, initial: 4 });
        }
        Bound::Fixed(n) => {
            config.max_concurrent_requests = n;
            config.adaptive_concurrency = None;
        }
    }
    let client = SecretServerClient::new(config).expect("client");
    // Sign in before the clock starts.
    client.users_page(&UserQuery::everyone(), 0, 1).await.expect("the emulator answers");
    sim.capacity().set(CapacitySettings::new(capacity, LATENCY_MS, capacity)).expect("capacity");

    let buckets_n = usize::try_from(Duration::from_secs(seconds).as_millis() / BUCKET.as_millis()).expect("buckets");
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..buckets_n).map(|_| AtomicU64::new(0)).collect());
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (client, counts, failed, stop) = (client.clone(), counts.clone(), failed.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let args = UserCreateArgs {
                        user_name: format!("load-{task}-{n}"),
                        display_name: format!("Load {task} {n}"),
                        password: Some("Capacity-Passw0rd!".to_owned()),
                        enabled: true,
                        ..UserCreateArgs::default()
                    };
                    let result = client.create_user(&args).await;
                    let bucket =
                        usize::try_from(started.elapsed().as_millis() / BUCKET.as_millis()).unwrap_or(usize::MAX);
                    match result {
                        Ok(_) => {
                            if let Some(count) = counts.get(bucket) {
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let mut limits = Vec::with_capacity(buckets_n);
    for i in 1..=buckets_n {
        tokio::time::sleep_until((started + BUCKET * u32::try_from(i).expect("bucket")).into()).await;
        limits.push(client.concurrency_limit());
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("task");
    }
    let report = sim.capacity().report();
    sim.shutdown().await;
    let buckets: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let skip = usize::try_from(WARM_UP.as_millis() / BUCKET.as_millis()).expect("warm-up");
    let steady = &buckets[skip.min(buckets.len())..];
    #[allow(clippy::cast_precision_loss)]
    let rate = steady.iter().sum::<u64>() as f64 / (steady.len().max(1) as f64 * BUCKET.as_secs_f64());
    #[allow(clippy::cast_precision_loss)]
    let ceiling = capacity as f64 * 1000.0 / LATENCY_MS as f64;
    Run {
        capacity,
        bound,
        buckets,
        limits,
        sustained: rate / ceiling,
        refused: report.counters.refused,
        failed: failed.load(Ordering::Relaxed),
        max_in_flight: report.counters.max_in_flight,
    }
}

#[allow(clippy::cast_precision_loss)]
fn svg(runs: &[Run], capacities: &[usize], seconds: u64) -> String {
    let (width, panel_h, left, top, gap) = (800.0, 200.0, 60.0, 40.0, 60.0);
    let plot_w = width - left - 250.0;
    let height = top + capacities.len() as f64 * (panel_h + gap);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="20" font-size="14">Throughput over time, % of the emulated capacity (N in flight × 20 ms each)</text>"#
    );
    for (p, capacity) in capacities.iter().enumerate() {
        let y0 = top + p as f64 * (panel_h + gap);
        let ceiling = *capacity as f64 * 1000.0 / LATENCY_MS as f64;
        let y_of = |share: f64| y0 + panel_h - (share.min(1.25) / 1.25) * panel_h;
        let _ = writeln!(
            out,
            r#"<text x="{left}" y="{}">capacity {capacity} in flight ({ceiling:.0} calls/s)</text>"#,
            y0 - 6.0
        );
        let _ = writeln!(
            out,
            r##"<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#444"/>"##
        );
        for share in [0.25, 0.5, 0.75, 1.0, 1.25] {
            let y = y_of(share);
            let dash = if (share - 1.0).abs() < f64::EPSILON { "" } else { r#" stroke-dasharray="2,3""# };
            let _ = writeln!(
                out,
                r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#bbb"{dash}/><text x="{}" y="{}" text-anchor="end">{:.0} %</text>"##,
                left + plot_w,
                left - 4.0,
                y + 4.0,
                share * 100.0
            );
        }
        for s in 0..=seconds {
            let x = left + s as f64 / seconds as f64 * plot_w;
            let _ = writeln!(out, r#"<text x="{x}" y="{}" text-anchor="middle">{s} s</text>"#, y0 + panel_h + 14.0);
        }
        for (i, run) in runs.iter().filter(|r| r.capacity == *capacity).enumerate() {
            let points: Vec<String> = run
                .buckets
                .iter()
                .enumerate()
                .map(|(b, count)| {
                    let x = left + (b as f64 + 0.5) * BUCKET.as_secs_f64() / seconds as f64 * plot_w;
                    let share = *count as f64 / BUCKET.as_secs_f64() / ceiling;
                    format!("{x:.1},{:.1}", y_of(share))
                })
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#,
                run.bound.colour(),
                points.join(" ")
            );
            let ly = y0 + 14.0 + i as f64 * 18.0;
            let lx = left + plot_w + 12.0;
            let _ = writeln!(
                out,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}: {:.0} %, {} × 503</text>"#,
                lx + 18.0,
                run.bound.colour(),
                lx + 22.0,
                ly + 4.0,
                run.bound.label(),
                run.sustained * 100.0,
                run.refused
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let bounds = [Bound::Adaptive, Bound::Fixed(8), Bound::Fixed(16), Bound::Fixed(64)];
    let mut runs = Vec::new();
    println!(
        "| capacity (calls/s) | bound | sustained, % of capacity | 503s answered | failed calls | most in flight at the server | limit at the end |"
    );
    println!("|---|---|---|---|---|---|---|");
    for capacity in &args.capacities {
        for bound in bounds {
            let run = run(*capacity, bound, args.seconds).await;
            println!(
                "| {} ({}) | {} | {:.1} % | {} | {} | {} | {} |",
                run.capacity,
                run.capacity * 1000 / usize::try_from(LATENCY_MS).expect("latency"),
                run.bound.label(),
                run.sustained * 100.0,
                run.refused,
                run.failed,
                run.max_in_flight,
                run.limits.last().copied().unwrap_or_default()
            );
            if matches!(bound, Bound::Adaptive) {
                let limits: Vec<String> = run.limits.iter().step_by(4).map(usize::to_string).collect();
                eprintln!("  adaptive limit, every second: {}", limits.join(" "));
            }
            runs.push(run);
        }
    }
    std::fs::write(&args.svg, svg(&runs, &args.capacities, args.seconds)).expect("the SVG is written");
    eprintln!("plot written to {}", args.svg);
}
