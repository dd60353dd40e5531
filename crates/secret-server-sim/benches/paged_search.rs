//! Paged search of 100,000 users, one page of 1,000 at a time: in the store
//! (filter, window, render) and over HTTP (the same plus JSON and the socket),
//! at the start, middle and end of the list, in id order and sorted by name.
//!
//! `cargo bench -p secret-server-sim --bench paged_search`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use secret_server_sim::seed::generate_into;
use secret_server_sim::store::Store;
use secret_server_sim::store::search::{Paging, Sort};
use secret_server_sim::store::users::UserFilter;
use secret_server_sim::{GenerateSpec, Seed, SimConfig, spawn};
use std::hint::black_box;
use std::time::Duration;

const USERS: u64 = 100_000;
const PAGE: i64 = 1_000;

fn spec() -> GenerateSpec {
    GenerateSpec {
        users: USERS,
        groups: 1_000,
        memberships: 100_000,
        folders: 100,
        permissions_per_folder: 2,
        secrets: 100,
        rng_seed: 1,
    }
}

fn store_pages(c: &mut Criterion) {
    let mut store = Store::new();
    generate_into(&mut store, &spec());
    let filter = UserFilter { include_inactive: true, ..UserFilter::default() };
    let mut group = c.benchmark_group("store: users page of 1,000 of 100,000");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.sample_size(30).measurement_time(Duration::from_secs(4));
    for skip in [0, 50_000, 99_000] {
        let paging = Paging { skip, take: PAGE, sort: None };
        group.bench_with_input(BenchmarkId::new("by id, skip", skip), &paging, |b, paging| {
            b.iter(|| black_box(store.search_users(&filter, paging)));
        });
    }
    let sorted = Paging { skip: 50_000, take: PAGE, sort: Some(Sort { name: "userName", descending: false }) };
    group.bench_function("by userName, skip 50000", |b| b.iter(|| black_box(store.search_users(&filter, &sorted))));
    let text = UserFilter { search_text: Some("ada".to_owned()), include_inactive: true, ..UserFilter::default() };
    let first = Paging { skip: 0, take: PAGE, sort: None };
    group.bench_function("searchText, skip 0", |b| b.iter(|| black_box(store.search_users(&text, &first))));
    group.finish();
}

fn http_pages(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let (sim, http, token) = rt.block_on(async {
        let config = SimConfig { seed: Seed::Generate(spec()), ..SimConfig::for_tests() };
        let sim = spawn(config).await.expect("the emulator starts");
        let http = reqwest::Client::new();
        let token = test_support::emulator::token(&http, &sim).await;
        (sim, http, token)
    });
    let mut group = c.benchmark_group("http: GET /users page of 1,000 of 100,000");
    group.throughput(Throughput::Elements(PAGE as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    for skip in [0, 50_000, 99_000] {
        let url = format!("{}/api/v1/users?filter.includeInactive=true&skip={skip}&take={PAGE}", sim.base_url());
        group.bench_with_input(BenchmarkId::new("by id, skip", skip), &url, |b, url| {
            b.to_async(&rt).iter(|| async {
                let body = http.get(url).bearer_auth(&token).send().await.expect("sent").bytes().await.expect("body");
                black_box(body.len())
            });
        });
    }
    group.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, store_pages, http_pages);
criterion_main!(benches);
