//! The client's throughput against the emulator holding 100,000 users:
//! streaming every user in pages of 1,000, one page of 1,000 at several
//! offsets, and batches of `get_user` at several concurrencies.
//!
//! Client, emulator and criterion share the machine, so the numbers are the
//! whole round trip (HTTP, JSON on both sides, the emulator's search), not
//! the client alone. Run with:
//! `cargo bench -p secret-server-client --bench client_throughput`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::{StreamExt, TryStreamExt, stream};
use secret_server_client::{ClientConfig, SecretServerClient, UserQuery};
use secret_server_sim::{GenerateSpec, RunningSim, Seed, SimConfig, spawn};
use std::time::{Duration, Instant};

const USERS: u64 = 100_000;
const PAGE: i64 = 1_000;
const GETS_PER_BATCH: usize = 500;

async fn setup() -> (RunningSim, SecretServerClient, Vec<i64>) {
    let spec = GenerateSpec {
        users: USERS,
        groups: 10,
        memberships: 100,
        folders: 10,
        permissions_per_folder: 1,
        secrets: 10,
        rng_seed: 7,
    };
    let started = Instant::now();
    let sim = spawn(SimConfig { seed: Seed::Generate(spec), workers: Some(2), ..SimConfig::for_tests() })
        .await
        .expect("the emulator starts");
    eprintln!("emulator with {USERS} users ready in {:.1?}", started.elapsed());
    let mut config =
        ClientConfig::new(sim.base_url().parse().expect("base URL"), sim.api_username(), sim.api_password().clone())
            .allowing_http();
    config.max_concurrent_requests = 64;
    config.page_size = u32::try_from(PAGE).expect("page size");
    let client = SecretServerClient::new(config).expect("client");
    let ids: Vec<i64> = client
        .users_page(&UserQuery::everyone(), 0, GETS_PER_BATCH as i64)
        .await
        .expect("first page")
        .records
        .into_iter()
        .map(|u| u.id)
        .collect();
    (sim, client, ids)
}

fn client_throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (sim, client, ids) = runtime.block_on(setup());
    let mut group = c.benchmark_group("secret_server_client");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(20));

    group.throughput(Throughput::Elements(USERS + 1));
    group.bench_function("stream_all_users_pages_of_1000", |b| {
        b.to_async(&runtime).iter(|| async {
            let count = client.search_users(&UserQuery::everyone()).try_fold(0u64, |n, _| async move { Ok(n + 1) });
            assert_eq!(count.await.expect("stream"), USERS + 1);
        });
    });

    group.throughput(Throughput::Elements(PAGE as u64));
    for skip in [0, 50_000, 99_000] {
        group.bench_with_input(BenchmarkId::new("users_page_of_1000_at_skip", skip), &skip, |b, &skip| {
            b.to_async(&runtime).iter(|| async {
                let page = client.users_page(&UserQuery::everyone(), skip, PAGE).await.expect("page");
                assert_eq!(page.records.len(), PAGE as usize);
            });
        });
    }

    group.throughput(Throughput::Elements(GETS_PER_BATCH as u64));
    for concurrency in [1, 8, 32] {
        group.bench_with_input(BenchmarkId::new("get_user_x500_concurrency", concurrency), &concurrency, |b, &n| {
            b.to_async(&runtime).iter(|| async {
                let got: Vec<_> = stream::iter(ids.iter().copied())
                    .map(|id| client.get_user(id))
                    .buffer_unordered(n)
                    .try_collect()
                    .await
                    .expect("get_user");
                assert_eq!(got.len(), ids.len());
            });
        });
    }
    group.finish();
    runtime.block_on(sim.shutdown());
}

criterion_group!(benches, client_throughput);
criterion_main!(benches);
