//! The cost of putting a SCIM call's audit event on record before its answer leaves (see
//! docs/benchmarks.md, "Gateway audit"). C tasks each make N/C calls; per call, one of:
//!
//! - `emit`: the event is handed to the appender and the call goes on (what the gateway did before:
//!   the answer left before the event was anywhere but memory);
//! - `record`: the call waits until its event is appended to the events stream in Redis (the
//!   appender takes the events of concurrent calls together);
//! - `spooled`: the events stream is down; the call waits until its event is in the spool on disk,
//!   written and fsync'd (the events of concurrent calls together).
//!
//! ```text
//! cargo run --release -p scim-gateway --example audit_bench -- [CALLS] [CONCURRENCY]
//! ```
//!
//! Needs Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`); its keys go under a fresh
//! `auditbench-*` prefix, deleted at the end.

use job_queue::{Event, EventBus, EventId, EventSubscription, QueueConfig, QueueError, RedisEventBus, RedisSettings};
use proto::audit::v1 as pb;
use scim_gateway::AuditSettings;
use scim_gateway::audit::{self, Recorded};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An events stream that is down.
#[derive(Debug)]
struct Down;

#[async_trait::async_trait]
impl EventBus for Down {
    async fn publish(&self, _event: Event) -> Result<EventId, QueueError> {
        Err(QueueError::Unavailable("down for the benchmark".into()))
    }
    async fn subscribe(&self, _group: &str, _consumer: &str) -> Result<Box<dyn EventSubscription>, QueueError> {
        Err(QueueError::Unavailable("down for the benchmark".into()))
    }
}

fn call(n: usize) -> pb::ScimCall {
    pb::ScimCall {
        connection_id: "bench".into(),
        connection_name: "Benchmark".into(),
        method: "POST".into(),
        route: "/scim/v2/Users".into(),
        resource_type: 1,
        resource_id: format!("{n:08}"),
        status: 201,
        latency_micros: 2_000,
        client_address: "127.0.0.1".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Emit,
    Record,
    Spooled,
}

async fn run(mode: Mode, events: Arc<dyn EventBus>, calls: usize, concurrency: usize) {
    let spool = tempfile::tempdir().expect("a temporary directory");
    let settings = AuditSettings { spool_dir: Some(spool.path().to_owned()), ..AuditSettings::default() };
    let (sink, task) = audit::start(events, settings).expect("the spool opens");
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(calls / concurrency);
                for n in 0..calls / concurrency {
                    let one = Instant::now();
                    let event = audit_events::scim_call(call(t * calls + n));
                    match mode {
                        Mode::Emit => sink.emit(event),
                        Mode::Record | Mode::Spooled => {
                            let recorded = sink.record(event).await;
                            assert!(matches!(recorded, Recorded::Appended | Recorded::Spooled), "{recorded:?}");
                        }
                    }
                    latencies.push(one.elapsed());
                    // Let the other callers run, as HTTP workers would between calls.
                    tokio::task::yield_now().await;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a caller"));
    }
    let answered = started.elapsed();
    drop(sink);
    task.finish(Duration::from_secs(if mode == Mode::Spooled { 0 } else { 60 })).await;
    let all_on_record = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let name = match mode {
        Mode::Emit => "emit (before: answer first, event in memory)",
        Mode::Record => "record (event in Redis before the answer)",
        Mode::Spooled => "record, Redis down (event fsync'd in the spool)",
    };
    // `emit` drops what finds 10,000 events waiting: "until on record" means nothing for it.
    let until = match mode {
        Mode::Emit => "n/a (dropped beyond 10,000 waiting)".to_owned(),
        _ => format!("{:.2} s", all_on_record.as_secs_f64()),
    };
    println!(
        "| {name} | {:.0} | {:.1} µs | {:.1} µs | {until} |",
        latencies.len() as f64 / answered.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("auditbench-{}", uuid::Uuid::now_v7().simple());
    let config =
        QueueConfig { redis: Some(RedisSettings::url(url.clone())), prefix: prefix.clone(), ..QueueConfig::default() };
    let redis: Arc<dyn EventBus> = Arc::new(RedisEventBus::connect(&config).await.expect("Redis at REDIS_URL"));
    println!("{calls} calls from {concurrency} concurrent callers\n");
    println!("| mode | calls/s | p50 per call | p99 per call | until every event is on the stream or in the spool |");
    println!("|---|---|---|---|---|");
    run(Mode::Emit, redis.clone(), calls, concurrency).await;
    run(Mode::Record, redis.clone(), calls, concurrency).await;
    run(Mode::Spooled, Arc::new(Down), calls, concurrency).await;
    let client = redis::Client::open(url).expect("the URL");
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap_or_default();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap_or(());
    }
}
