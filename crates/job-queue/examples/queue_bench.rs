//! Throughput of the job queue: jobs per second from submit to a result in the
//! submitter's hands, with N workers, printed beside the raw `XADD` rate of the
//! same Redis measured in the same run.
//!
//! ```text
//! cargo run -p job-queue --release --example queue_bench -- [--jobs 20000] [--submitters 64] [--workers 64] [--in-process]
//! ```
//!
//! `REDIS_URL` (default `redis://127.0.0.1:6379`) names the Redis; keys go
//! under a fresh `jqbench-*` prefix that is deleted at the end. The raw rate is
//! measured twice: with `redis-benchmark` (50 clients, no pipelining) when it is
//! on PATH, and with this process's own client (as many concurrent `XADD`s as
//! there are submitters, on one multiplexed connection, like the queue's).
//! Beside the rate it prints the CPU Redis and this process spent per job, and
//! the script calls per job with the time Redis spent in them (`INFO
//! commandstats` deltas: every client of that Redis counts, so other work on
//! it shows too).

use bytes::Bytes;
use job_queue::{Disposition, Job, JobHandler, JobStatus, NewJob, QueueConfig, TraceContext, connect};
use redis_connect::RedisSettings;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

struct Args {
    jobs: usize,
    submitters: usize,
    workers: usize,
    in_process: bool,
}

fn parse_args() -> Args {
    let mut args = Args { jobs: 20_000, submitters: 64, workers: 64, in_process: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut number = || it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--jobs" => args.jobs = number(),
            "--submitters" => args.submitters = number(),
            "--workers" => args.workers = number(),
            "--in-process" => args.in_process = true,
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

struct Echo;

#[async_trait::async_trait]
impl JobHandler for Echo {
    async fn handle(&self, job: Job) -> Disposition {
        Disposition::Succeeded(job.payload)
    }
}

fn redis_benchmark_xadd(url: &str, requests: usize) -> Option<f64> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h).split('/').next().unwrap_or(rest);
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "6379"));
    let stream = test_support::unique_prefix("jqbench-raw");
    let output = Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-q", "-c", "50", "-n", &requests.to_string()])
        .args(["XADD", &stream, "*", "id", "0190c4b5-0000-7000-8000-000000000000"])
        .output()
        .ok()?;
    let _ = Command::new("redis-cli").args(["-h", host, "-p", port, "DEL", &stream]).output();
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.rsplit('\r').next().unwrap_or(&text);
    let rps = last.split(": ").nth(1)?.split_whitespace().next()?;
    rps.parse().ok()
}

async fn own_xadd(url: &str, requests: usize, concurrency: usize) -> f64 {
    let client = redis::Client::open(url).expect("REDIS_URL");
    let conn = client.get_multiplexed_async_connection().await.expect("Redis is required for the benchmark");
    let stream = test_support::unique_prefix("jqbench-raw");
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (mut conn, stream) = (conn.clone(), stream.clone());
            let n = requests / concurrency;
            tokio::spawn(async move {
                for _ in 0..n {
                    let _: String = redis::cmd("XADD")
                        .arg(&stream)
                        .arg("*")
                        .arg("id")
                        .arg("0190c4b5-0000-7000-8000-000000000000")
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = (requests / concurrency * concurrency) as f64 / started.elapsed().as_secs_f64();
    let mut conn = conn;
    let _: i64 = redis::cmd("DEL").arg(&stream).query_async(&mut conn).await.unwrap();
    rate
}

/// Redis's own CPU seconds (user + system) so far, from `INFO cpu`.
async fn redis_cpu(url: &str) -> Option<f64> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await.ok()?;
    let field = |name: &str| -> Option<f64> {
        info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
    };
    Some(field("used_cpu_user")? + field("used_cpu_sys")?)
}

/// `EVALSHA` calls and the microseconds Redis spent in them so far, from `INFO commandstats`.
async fn script_calls(url: &str) -> Option<(u64, u64)> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await.ok()?;
    let line = info.lines().find_map(|l| l.strip_prefix("cmdstat_evalsha:"))?;
    let field = |name: &str| -> Option<u64> {
        line.split(',').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some((field("calls")?, field("usec")?))
}

/// This process's CPU seconds so far (Linux `/proc`; clock ticks of 10 ms).
fn own_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn per_op_us(before: Option<f64>, after: Option<f64>, ops: usize) -> String {
    match (before, after) {
        (Some(b), Some(a)) => format!("{:.1} µs", (a - b) * 1e6 / ops as f64),
        _ => "n/a".to_owned(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let url = test_support::redis_url();
    let prefix = test_support::unique_prefix("jqbench");
    let config = QueueConfig {
        redis: (!args.in_process).then(|| RedisSettings::url(url.clone())),
        prefix: prefix.clone(),
        ..QueueConfig::default()
    };
    println!(
        "backend: {}; jobs: {}; submitters: {}; workers: {}; cores: {}",
        if args.in_process { "in-process" } else { "redis" },
        args.jobs,
        args.submitters,
        args.workers,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if !args.in_process {
        let cpu_before = redis_cpu(&url).await;
        match redis_benchmark_xadd(&url, 100_000) {
            Some(rps) => println!(
                "raw XADD, redis-benchmark (50 clients, no pipelining): {rps:.0}/s; Redis CPU per XADD {}",
                per_op_us(cpu_before, redis_cpu(&url).await, 100_000)
            ),
            None => println!("raw XADD, redis-benchmark: not available"),
        }
        let own = own_xadd(&url, 100_000, args.submitters).await;
        println!("raw XADD, this client ({} concurrent on one connection): {own:.0}/s", args.submitters);
    }

    // Workers get their own handle, as they would in the adapter's process.
    let submit_side = connect(&config).await.expect("the queue backend is required");
    let worker_side = if args.in_process { submit_side.clone() } else { connect(&config).await.unwrap() };
    let stop = CancellationToken::new();
    let workers = tokio::spawn({
        let (queue, stop, n) = (worker_side.queue.clone(), stop.clone(), args.workers);
        async move { queue.run_workers(Arc::new(Echo), n, stop).await }
    });

    let per_submitter = args.jobs / args.submitters;
    let scripts_before = if args.in_process { None } else { script_calls(&url).await };
    let (redis_before, own_before) = (if args.in_process { None } else { redis_cpu(&url).await }, own_cpu());
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.submitters)
        .map(|s| {
            let queue = submit_side.queue.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_submitter);
                for n in 0..per_submitter {
                    let t0 = Instant::now();
                    let submitted = queue
                        .submit(NewJob {
                            idempotency_key: format!("bench-{s}-{n}"),
                            fingerprint: String::new(),
                            ordering_key: format!("primary/User/{s}-{}", n % 16),
                            payload: Bytes::from_static(b"{\"op\":\"update\",\"id\":\"42\"}"),
                            secrets: Bytes::new(),
                            trace_context: TraceContext::new(),
                        })
                        .await
                        .expect("submit");
                    let state =
                        queue.wait(&submitted.job_id, Duration::from_secs(60)).await.expect("wait").expect("known");
                    assert_eq!(state.status, JobStatus::Succeeded);
                    latencies.push(t0.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let (redis_after, own_after) = (if args.in_process { None } else { redis_cpu(&url).await }, own_cpu());
    let scripts_after = if args.in_process { None } else { script_calls(&url).await };
    stop.cancel();
    workers.await.unwrap().unwrap();
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "queue: {} jobs submit -> complete -> result in {:.2}s: {rate:.0} jobs/s; latency p50 {:.2}ms, p99 {:.2}ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
    println!(
        "CPU per job: Redis {}, this process (submitters and workers) {}",
        per_op_us(redis_before, redis_after, latencies.len()),
        per_op_us(own_before, own_after, latencies.len()),
    );
    if let (Some((calls_before, usec_before)), Some((calls_after, usec_after))) = (scripts_before, scripts_after) {
        let jobs = latencies.len() as f64;
        println!(
            "script calls per job: {:.2} (EVALSHA), {:.1} µs inside Redis per job",
            (calls_after - calls_before) as f64 / jobs,
            (usec_after - usec_before) as f64 / jobs,
        );
    }
    if !args.in_process {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap();
        for chunk in keys.chunks(1000) {
            let _: i64 = redis::cmd("UNLINK").arg(chunk).query_async(&mut conn).await.unwrap();
        }
    }
}
