//! Audit store benchmarks: record throughput (events per second into SQLite with the hash chain,
//! `synchronous=FULL`, one transaction per batch) and query latency at 1,000,000 records.
//!
//! Run: `cargo bench -p audit --bench audit_store` (numbers in docs/benchmarks.md, "audit").
//! The 1,000,000-record database is built once per run in a temporary directory (about a minute).
//! `AUDIT_BENCH_RECORDS` changes its size.

use audit::record::NewRecord;
use audit::{AuditStore, RecordFilter, RecordKind, StatusFilter};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use proto::audit::v1 as pb;
use proto::common::v1::ResourceType;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// 2024-01-01T00:00:00Z
const START: i64 = 1_704_067_200;

fn trace_id(i: u64) -> String {
    format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) as u128 | 1)
}

/// A realistic mix: per ten events, six SCIM calls, three changes and one admin action, over ten
/// connections, 100,000 users and 30 days.
fn event(i: u64) -> pb::AuditEvent {
    let connection = format!("conn-{}", i % 10);
    let user = format!("user-{}", (i * 7919) % 100_000);
    let kind = match i % 10 {
        0..=5 => pb::audit_event::Kind::ScimCall(pb::ScimCall {
            connection_id: connection.clone(),
            connection_name: format!("platform-{}", i % 10),
            method: ["GET", "POST", "PATCH", "DELETE"][(i % 4) as usize].into(),
            route: "/scim/v2/Users/{id}".into(),
            resource_type: ResourceType::User as i32,
            resource_id: user,
            status: [200, 201, 204, 404, 409, 500][(i % 6) as usize],
            latency_micros: 1_000 + i % 5_000,
            client_address: format!("10.0.{}.{}", i % 256, (i / 256) % 256),
            request_id: format!("req-{i}"),
            ..Default::default()
        }),
        6..=8 => pb::audit_event::Kind::Change(pb::ResourceChange {
            connection_id: connection.clone(),
            secret_server_instance: "primary".into(),
            resource_type: ResourceType::User as i32,
            resource_id: user.clone(),
            operation: ["create", "patch", "delete"][(i % 3) as usize].into(),
            job_id: format!("job-{i}"),
            before_json: format!(r#"{{"userName":"{user}","displayName":"User {i}","enabled":true}}"#).into_bytes(),
            after_json: format!(r#"{{"userName":"{user}","displayName":"User {i}*","enabled":false}}"#).into_bytes(),
            outcome: if i % 50 == 6 { pb::ChangeOutcome::Failed } else { pb::ChangeOutcome::Succeeded } as i32,
            ..Default::default()
        }),
        _ => pb::audit_event::Kind::Admin(pb::AdminAction {
            actor: "ops".into(),
            action: "connection.update".into(),
            connection_id: connection,
            detail: "rotated a token".into(),
        }),
    };
    let seconds = START + (i as i64 * 30 * 86_400) / 1_000_000;
    pb::AuditEvent {
        event_id: format!("bench-{i}"),
        occurred_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        trace_id: trace_id(i / 3),
        trace_context: None,
        source: "gateway".into(),
        kind: Some(kind),
    }
}

fn records(range: std::ops::Range<u64>) -> Vec<NewRecord> {
    range.map(|i| NewRecord::from_event(event(i), "0-0", &BTreeMap::new(), 0)).collect()
}

fn populate(store: &AuditStore, count: u64) {
    let started = Instant::now();
    let batch = 1_000;
    let mut i = 0;
    while i < count {
        store.append(&records(i..(i + batch).min(count))).expect("append");
        i += batch;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "populated {count} records in {:.1}s ({:.0} records/s in batches of {batch})",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

fn record_throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = AuditStore::open(&dir.path().join("audit.db"), Some(audit::ChainKey::generate().0)).unwrap();
    populate(&store, 10_000);
    let mut group = c.benchmark_group("record");
    group.measurement_time(Duration::from_secs(8));
    let mut next = 1_000_000_000u64;
    for batch in [1u64, 64, 256, 1024] {
        group.throughput(Throughput::Elements(batch));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_batched(
                || {
                    let batch_records = records(next..next + batch);
                    next += batch;
                    batch_records
                },
                |batch_records| store.append(&batch_records).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn query_latency(c: &mut Criterion) {
    let count: u64 = std::env::var("AUDIT_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = AuditStore::open(&dir.path().join("audit.db"), Some(audit::ChainKey::generate().0)).unwrap();
    populate(&store, count);
    let at = |day: i64| (START + day * 86_400) * 1_000_000;

    let mut group = c.benchmark_group(format!("query_{count}"));
    group.measurement_time(Duration::from_secs(4));
    let cases: Vec<(&str, RecordFilter, u64)> = vec![
        ("first_page_unfiltered", RecordFilter::default(), 0),
        ("deep_page_unfiltered", RecordFilter::default(), count / 2),
        ("by_connection", RecordFilter { connection: Some("conn-3".into()), ..Default::default() }, 0),
        ("by_connection_deep", RecordFilter { connection: Some("conn-3".into()), ..Default::default() }, count / 2),
        ("by_connection_name", RecordFilter { connection_name: Some("platform-3".into()), ..Default::default() }, 0),
        (
            "by_resource",
            RecordFilter {
                resource_type: Some("User".into()),
                resource_id: Some("user-4242".into()),
                ..Default::default()
            },
            0,
        ),
        ("by_trace_id", RecordFilter { trace_id: Some(trace_id(count / 3 / 2)), ..Default::default() }, 0),
        ("by_time_range_one_day", RecordFilter { from: Some(at(10)), to: Some(at(11)), ..Default::default() }, 0),
        (
            "by_kind_operation_status",
            RecordFilter {
                kind: Some(RecordKind::Change),
                operation: Some("delete".into()),
                status: Some(StatusFilter::Outcome("failed".into())),
                ..Default::default()
            },
            0,
        ),
        ("by_status_class", RecordFilter { status: Some(StatusFilter::Class(5)), ..Default::default() }, 0),
    ];
    for (name, filter, after) in &cases {
        let found = store.query(filter, *after, 100).unwrap().len();
        eprintln!("{name}: {found} records in the first page");
        group.bench_function(*name, |b| b.iter(|| black_box(store.query(filter, *after, 100).unwrap())));
    }
    group.bench_function("get_by_seq", |b| b.iter(|| black_box(store.get(count / 2).unwrap())));
    group.finish();

    // No retention, nothing pruned: the whole chain is checked.
    let keep_all = audit::Pruning { retention: None, head_interval: std::time::Duration::from_secs(60) };
    let mut verify = c.benchmark_group(format!("verify_{count}"));
    verify.sample_size(10).measurement_time(Duration::from_secs(20));
    verify.throughput(Throughput::Elements(count));
    verify.bench_function("whole_chain", |b| b.iter(|| assert!(store.verify(&[], keep_all).unwrap().is_intact())));
    verify.finish();
}

criterion_group!(benches, record_throughput, query_latency);
criterion_main!(benches);
