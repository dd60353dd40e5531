//! The legitimate caller of the flood benchmark (`scripts/bench-flood.sh`): while a load tool
//! floods the gateway with wrong credentials from one loopback address, this sends one
//! authenticated `GET` at a time from another (`--from 127.0.0.2`), and samples the gateway
//! process's resident memory, then prints the latency percentiles and the memory.
//!
//! ```text
//! cargo run --release -p scim-gateway --example flood_probe -- --url http://127.0.0.1:8080/scim/v2/Users/3 \
//!     --token-file /tmp/token --from 127.0.0.2 --pid 12345 --duration 10
//! ```

use anyhow::Context;
use std::net::IpAddr;
use std::time::{Duration, Instant};

struct Args {
    url: String,
    token_file: std::path::PathBuf,
    from: IpAddr,
    pid: Option<u32>,
    duration: Duration,
    pause: Duration,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        url: String::new(),
        token_file: "stack-token".into(),
        from: [127, 0, 0, 2].into(),
        pid: None,
        duration: Duration::from_secs(10),
        pause: Duration::from_millis(5),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => out.url = value,
            "--token-file" => out.token_file = value.into(),
            "--from" => out.from = value.parse().context("--from")?,
            "--pid" => out.pid = Some(value.parse().context("--pid")?),
            "--duration" => out.duration = Duration::from_secs(value.parse().context("--duration (seconds)")?),
            "--pause-ms" => out.pause = Duration::from_millis(value.parse().context("--pause-ms")?),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(!out.url.is_empty(), "--url is required");
    Ok(out)
}

/// The resident set of `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let token = std::fs::read_to_string(&args.token_file).context("--token-file")?.trim().to_owned();
    let client = reqwest::Client::builder().local_address(args.from).build()?;

    let rss_before = args.pid.and_then(rss_kib);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_before.unwrap_or(0)));
    if let Some(pid) = args.pid {
        let peak = peak.clone();
        std::thread::spawn(move || {
            while let Some(kib) = rss_kib(pid) {
                peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    }

    let mut latencies = Vec::new();
    let mut failures = std::collections::BTreeMap::<String, u64>::new();
    let end = Instant::now() + args.duration;
    while Instant::now() < end {
        let started = Instant::now();
        match client.get(&args.url).bearer_auth(&token).send().await {
            Ok(res) if res.status().is_success() => {
                res.bytes().await?;
                latencies.push(started.elapsed());
            }
            Ok(res) => *failures.entry(res.status().to_string()).or_default() += 1,
            Err(e) => *failures.entry(e.to_string()).or_default() += 1,
        }
        tokio::time::sleep(args.pause).await;
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "legitimate GETs from {}: {} ok, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.from,
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    for (what, count) in &failures {
        println!("  not ok: {count} × {what}");
    }
    if let (Some(before), Some(pid)) = (rss_before, args.pid) {
        let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
        let after = rss_kib(pid).unwrap_or(0);
        println!(
            "gateway RSS: {:.1} MiB before, {:.1} MiB peak, {:.1} MiB after (growth {:.1} MiB)",
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            after as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    }
    Ok(())
}
