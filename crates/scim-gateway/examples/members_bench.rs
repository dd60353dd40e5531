//! Member changes against group size, and the Secret Server calls each costs (issue 20 goals 4
//! and 5): the gateway, the adapter, the Secret Server emulator and an in-process queue in one
//! process; a new group gets `--members` users one PATCH at a time from `--clients` concurrent
//! clients, then one PATCH adds `--batch` users at once. What each PATCH is answered with is
//! `--answer`: `without-members` (the default: the PATCH asks `?excludedAttributes=members`),
//! `full` (the whole group, every member listed: what a member change of a large group costs
//! otherwise; `--exclude-members false` says the same) or `no-content` (the connection's
//! `patchResponse` policy is `noContent`: `204` with the `ETag`, nothing rendered).
//!
//! ```text
//! cargo run --release -p scim-gateway --example members_bench -- --members 10000 --clients 8 --batch 100 \
//!     [--answer without-members|full|no-content]
//! ```
//!
//! Prints the rate of member changes in windows of 500 (by completion order), the ratio of the
//! last window to the first, and Secret Server calls per change (the emulator's request log,
//! sign-in excluded) for the one-at-a-time PATCHes and for the batch.
//!
//! `--burst <n>`: a burst of `n` one-member PATCHes to one new group from `--clients` clients (the
//! same as `--members <n> --batch 0`, printed as one line: the changes a second over the whole
//! burst and the Secret Server calls per change, by route). The adapter carries the member changes
//! queued behind the one it runs into that one's Secret Server call; with `c` clients at most `c`
//! changes are in the queue at once.
//!
//! `--latency-ms <ms>`: every Secret Server call takes that long (the emulator's capacity model,
//! 64 calls in flight, switched on once the stack has loaded), as a real Secret Server's do.
//! `--if-match-any true`: every PATCH carries `If-Match: *`, which matches any version but keeps
//! a change from being carried by another (its precondition is checked against the version it
//! meets): the same build without carrying, for the figure before.
//!
//! ```text
//! cargo run --release -p scim-gateway --example members_bench -- --burst 1000 --clients 8 \
//!     [--latency-ms 20] [--if-match-any true]
//! ```

mod common;

use anyhow::Context;
use secret_server_sim::{GenerateSpec, RunningSim, Seed, SimConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What each PATCH is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `200` with the group but its members (`?excludedAttributes=members`).
    WithoutMembers,
    /// `200` with the whole group.
    Full,
    /// `204 No Content` (the connection's `patchResponse` policy).
    NoContent,
}

impl Answer {
    fn describe(self) -> &'static str {
        match self {
            Answer::WithoutMembers => "200 without the members (?excludedAttributes=members)",
            Answer::Full => "200 with every member",
            Answer::NoContent => "204 No Content (patchResponse noContent)",
        }
    }
}

struct Args {
    members: usize,
    clients: usize,
    batch: usize,
    answer: Answer,
    /// `--burst`: only the one-member PATCHes, summed up in one line.
    burst: bool,
    /// Milliseconds each Secret Server call takes (0: as fast as the emulator answers).
    latency_ms: u64,
    /// Whether each PATCH carries `If-Match: *` (nothing is then carried).
    if_match_any: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        members: 10_000,
        clients: 8,
        batch: 100,
        answer: Answer::WithoutMembers,
        burst: false,
        latency_ms: 0,
        if_match_any: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--members" => out.members = value.parse().context("--members")?,
            "--clients" => out.clients = value.parse().context("--clients")?,
            "--batch" => out.batch = value.parse().context("--batch")?,
            "--exclude-members" => {
                let exclude: bool = value.parse().context("--exclude-members")?;
                out.answer = if exclude { Answer::WithoutMembers } else { Answer::Full };
            }
            "--answer" => {
                out.answer = match value.as_str() {
                    "without-members" => Answer::WithoutMembers,
                    "full" => Answer::Full,
                    "no-content" => Answer::NoContent,
                    other => anyhow::bail!("--answer {other}: say without-members, full or no-content"),
                }
            }
            "--latency-ms" => out.latency_ms = value.parse().context("--latency-ms")?,
            "--if-match-any" => out.if_match_any = value.parse().context("--if-match-any")?,
            "--burst" => {
                out.members = value.parse().context("--burst")?;
                out.batch = 0;
                out.burst = true;
            }
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(out)
}

/// Calls the emulator served, its token endpoint left out.
fn calls(sim: &RunningSim) -> usize {
    sim.request_log().iter().filter(|(_, path)| !path.contains("/oauth2/")).count()
}

/// The calls after the first `skip`, by method and path template (ids as `{id}`, no query).
fn calls_by_route(sim: &RunningSim, skip: usize) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (method, path) in sim.request_log().iter().filter(|(_, path)| !path.contains("/oauth2/")).skip(skip) {
        let path = path.split('?').next().unwrap_or_default();
        let template: Vec<&str> = path
            .split('/')
            .map(|s| if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() { "{id}" } else { s })
            .collect();
        *counts.entry(format!("{method} {}", template.join("/"))).or_default() += 1;
    }
    counts.into_iter().collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let wanted = args.members + args.batch;
    let mut sim_config = SimConfig::for_tests();
    // Enough users that the active ones (95 %) cover every member wanted.
    let users = (wanted as u64 * 110 / 100).max(100);
    sim_config.seed = Seed::Generate(GenerateSpec {
        users,
        groups: 1,
        memberships: 0,
        folders: 1,
        permissions_per_folder: 0,
        secrets: 1,
        rng_seed: 42,
    });
    let sim = secret_server_sim::spawn(sim_config).await?;
    let client = common::emulator_client(&sim)?;
    let spec = common::StackSpec {
        connection: "bench",
        workers: None,
        http_workers: 2,
        port: 0,
        ready_within: Duration::from_secs(600),
    };
    let policies = connections::Policies {
        patch_response: match args.answer {
            Answer::NoContent => connections::PatchResponsePolicy::NoContent,
            Answer::WithoutMembers | Answer::Full => connections::PatchResponsePolicy::Resource,
        },
        ..connections::Policies::default()
    };
    let stack = common::start_with_policies(client, spec, policies).await?;
    let (base, token) = (stack.base.clone(), stack.token.clone());
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.clients).build()?;

    // The active users but the API account (a protected principal), in id order.
    let mut ids: Vec<String> = Vec::new();
    let mut start = 1;
    loop {
        let url = format!("{base}/Users?attributes=active,userName&count=1000&startIndex={start}");
        let page: Value = http.get(&url).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        if resources.is_empty() {
            break;
        }
        start += resources.len();
        ids.extend(
            resources
                .iter()
                .filter(|u| u["active"] != false && u["userName"] != sim.api_username())
                .filter_map(|u| u["id"].as_str().map(str::to_owned)),
        );
    }
    anyhow::ensure!(ids.len() >= wanted, "only {} active users for {wanted} members", ids.len());

    let group: Value = http
        .post(format!("{base}/Groups"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "bench-members"})
                .to_string(),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let group = group["id"].as_str().context("the group's id")?.to_owned();
    if args.latency_ms > 0 {
        let capacity = secret_server_sim::capacity::CapacitySettings::new(64, args.latency_ms, 64);
        sim.capacity().set(capacity).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let if_match = if args.if_match_any { "*" } else { "" };
    let query = if args.answer == Answer::WithoutMembers { "?excludedAttributes=members" } else { "" };
    let patch = |members: &[String]| {
        let value: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "add", "path": "members", "value": value}]})
        .to_string()
    };

    // One member per PATCH, `clients` at a time.
    let single = Arc::new(ids[..args.members].to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(args.members)));
    let calls_before = calls(&sim);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (http, url, token) = (http.clone(), format!("{base}/Groups/{group}{query}"), token.clone());
        let (single, next, done) = (single.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(member) = single.get(i) else { return Ok::<(), anyhow::Error>(()) };
                let mut req = http.patch(&url).bearer_auth(&token).header("content-type", "application/scim+json");
                if !if_match.is_empty() {
                    req = req.header("if-match", if_match);
                }
                let res = req.body(patch(std::slice::from_ref(member))).send().await?;
                let status = res.status();
                let etag = res.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let body = res.bytes().await?;
                anyhow::ensure!(status.is_success(), "PATCH answered {status}: {}", String::from_utf8_lossy(&body));
                done.lock().push((began.elapsed(), body.len(), status.as_u16(), etag));
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let single_calls = calls(&sim) - calls_before;
    let single_routes = calls_by_route(&sim, calls_before);
    let mut answers = done.lock().clone();
    answers.sort_unstable();
    let times: Vec<Duration> = answers.iter().map(|(at, ..)| *at).collect();
    let elapsed = times.last().copied().unwrap_or_default();
    if args.burst {
        println!(
            "members_bench --burst: {} one-member PATCHes to one group by {} clients{}{} in {:.2} s: {:.0} changes/s; \
             Secret Server calls: {single_calls}, {:.2} per change",
            args.members,
            args.clients,
            if args.latency_ms > 0 { format!(", {} ms a call", args.latency_ms) } else { String::new() },
            if args.if_match_any { ", If-Match: * (nothing carried)" } else { "" },
            elapsed.as_secs_f64(),
            args.members as f64 / elapsed.as_secs_f64(),
            single_calls as f64 / args.members as f64
        );
        for (route, n) in single_routes {
            println!("  {route}: {n} ({:.3} per change)", n as f64 / args.members as f64);
        }
        stack.shutdown().await;
        sim.shutdown().await;
        return Ok(());
    }
    println!(
        "members_bench: {} members added one PATCH at a time by {} clients, answers {}",
        args.members,
        args.clients,
        args.answer.describe()
    );
    println!("| members | changes/s |");
    println!("|---|---|");
    let window = 500.min(args.members);
    let mut rates = Vec::new();
    for end in (window..=times.len()).step_by(window) {
        let (from, to) = (if end == window { Duration::ZERO } else { times[end - window - 1] }, times[end - 1]);
        let rate = window as f64 / (to - from).as_secs_f64();
        rates.push(rate);
        println!("| {}–{} | {rate:.0} |", end - window + 1, end);
    }
    if let (Some(first), Some(last)) = (rates.first(), rates.last()) {
        println!("last window / first window: {:.1} %", last / first * 100.0);
    }
    // What an answer weighs: with every member in it, it grows with the group.
    if let (Some((_, first, status, _)), Some((_, last, ..))) = (answers.first(), answers.last()) {
        println!("answer: {status}, {first} bytes for the first change, {last} bytes for the last");
    }
    // Whether a group's rendering could be reused across answers of one version: each change
    // makes a new version, so each answer is of its own.
    let versions: std::collections::HashSet<&str> = answers.iter().map(|(.., etag)| etag.as_str()).collect();
    println!("distinct versions (ETags) among the {} answers: {}", answers.len(), versions.len());
    println!(
        "Secret Server calls: {single_calls} for {} one-member PATCHes: {:.2} per change",
        args.members,
        single_calls as f64 / args.members as f64
    );
    for (route, n) in single_routes {
        println!("  {route}: {n}");
    }

    // One PATCH adding `batch` members.
    if args.batch > 0 {
        let before = calls(&sim);
        let batch = &ids[args.members..args.members + args.batch];
        let res = http
            .patch(format!("{base}/Groups/{group}{query}"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(patch(batch))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "the batch PATCH answered {}", res.status());
        let batch_calls = calls(&sim) - before;
        let batch_routes = calls_by_route(&sim, before);
        println!(
            "Secret Server calls: {batch_calls} for one PATCH adding {} members: {:.3} per member change",
            args.batch,
            batch_calls as f64 / args.batch as f64
        );
        for (route, n) in batch_routes {
            println!("  {route}: {n}");
        }
    }
    stack.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
