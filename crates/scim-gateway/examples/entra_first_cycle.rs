//! An Entra-style first provisioning cycle against a Secret Server of limited capacity: the
//! emulator serves 16 requests at once, 20 ms each (a queue of 16 more, then HTTP.sys's `503`),
//! behind the real adapter and gateway in one process (in-process queue). For each user, as
//! Entra does, a `userName eq` lookup then a create; then for each group a lookup, a create and
//! its members added in PATCHes of up to 100. Prints progress every second, then the total time
//! and the Secret Server calls beside the lower bound (calls ÷ capacity × latency).
//!
//! ```text
//! cargo run --release -p scim-gateway --example entra_first_cycle -- [--users 10000] [--groups 1000]
//!     [--members 100] [--clients 32] [--workers 32] [--max-in-flight 64] [--fixed N]
//! ```
//!
//! `--fixed N` bounds the calls in flight to N without adapting (the behaviour before the
//! adaptive limit), for reference.

mod common;

use anyhow::Context;
use futures::StreamExt;
use secret_server_client::AdaptiveConcurrency;
use secret_server_sim::{CapacitySettings, Seed, SimConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CAPACITY: usize = 16;
const LATENCY_MS: u64 = 20;
/// Entra's largest membership PATCH.
const MEMBERS_PER_PATCH: usize = 100;

struct Args {
    users: usize,
    groups: usize,
    members: usize,
    clients: usize,
    workers: usize,
    max_in_flight: usize,
    fixed: Option<usize>,
}

fn args() -> anyhow::Result<Args> {
    let mut out =
        Args { users: 10_000, groups: 1_000, members: 100, clients: 32, workers: 32, max_in_flight: 64, fixed: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: usize = it.next().with_context(|| format!("{flag} needs a value"))?.parse().context("a number")?;
        match flag.as_str() {
            "--users" => out.users = value,
            "--groups" => out.groups = value,
            "--members" => out.members = value,
            "--clients" => out.clients = value,
            "--workers" => out.workers = value,
            "--max-in-flight" => out.max_in_flight = value,
            "--fixed" => out.fixed = Some(value),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(out.users > 0 || out.groups == 0, "groups need users to hold");
    Ok(out)
}

/// A SCIM client of the connection's bearer token.
#[derive(Clone)]
struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        for attempt in 1..=20 {
            let mut request =
                self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
            if let Some(body) = &body {
                request = request.header("content-type", "application/scim+json").json(body);
            }
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await?;
            if status.is_success() {
                return Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? });
            }
            // As Entra does: a 429 or 503 is tried again later.
            if matches!(status.as_u16(), 429 | 503) && attempt < 20 {
                RETRIED.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                continue;
            }
            anyhow::bail!("{method} {path}: {status} {text}");
        }
        anyhow::bail!("{method} {path}: gave up")
    }

    /// `filter` lookup; the id of the one match, if any.
    async fn lookup(&self, resource: &str, filter: String) -> anyhow::Result<Option<String>> {
        let mut url = reqwest::Url::parse("http://x/").context("url")?;
        url.query_pairs_mut().append_pair("filter", &filter);
        let query = url.query().unwrap_or_default().to_owned();
        let found = self.send(reqwest::Method::GET, &format!("/{resource}?{query}"), None).await?;
        Ok(found["Resources"][0]["id"].as_str().map(str::to_owned))
    }
}

/// SCIM answers of 429/503 the clients waited for and repeated.
static RETRIED: AtomicU64 = AtomicU64::new(0);

async fn cycle_user(scim: &Scim, i: usize) -> anyhow::Result<String> {
    let name = format!("entra.user{i:05}@example.com");
    if let Some(id) = scim.lookup("Users", format!("userName eq \"{name}\"")).await? {
        return Ok(id);
    }
    let created = scim
        .send(
            reqwest::Method::POST,
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "externalId": format!("ext-{i}"),
                "active": true,
                "displayName": format!("Entra User {i}"),
                "name": {"givenName": "Entra", "familyName": format!("User {i}")},
                "emails": [{"primary": true, "type": "work", "value": format!("entra.user{i:05}@example.com")}]
            })),
        )
        .await?;
    created["id"].as_str().map(str::to_owned).context("a created user has an id")
}

async fn cycle_group(scim: &Scim, g: usize, users: &[String], members: usize) -> anyhow::Result<()> {
    let name = format!("Entra Group {g:04}");
    let id = match scim.lookup("Groups", format!("displayName eq \"{name}\"")).await? {
        Some(id) => id,
        None => {
            let created = scim
                .send(
                    reqwest::Method::POST,
                    "/Groups",
                    Some(json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": name,
                        "externalId": format!("grp-{g}"),
                        "members": []
                    })),
                )
                .await?;
            created["id"].as_str().map(str::to_owned).context("a created group has an id")?
        }
    };
    let chosen: Vec<&String> = (0..members.min(users.len())).map(|k| &users[(g * members + k) % users.len()]).collect();
    for chunk in chosen.chunks(MEMBERS_PER_PATCH) {
        let value: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        scim.send(
            reqwest::Method::PATCH,
            &format!("/Groups/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": value}]
            })),
        )
        .await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let capacity = CapacitySettings::new(CAPACITY, LATENCY_MS, CAPACITY);
    let sim = secret_server_sim::spawn(SimConfig { seed: Seed::Empty, ..SimConfig::for_tests() }).await?;
    let mut client = common::emulator_client(&sim)?;
    match args.fixed {
        Some(n) => {
            client.max_concurrent_requests = n;
            client.adaptive_concurrency = None;
        }
        None => {
            client.max_concurrent_requests = args.max_in_flight;
            client.adaptive_concurrency = Some(AdaptiveConcurrency::default());
        }
    }
    let spec = common::StackSpec {
        connection: "entra",
        workers: Some(args.workers),
        http_workers: 0,
        port: 0,
        ready_within: Duration::from_secs(600),
    };
    let stack = common::start(client, spec).await?;
    let scim = Scim {
        http: reqwest::Client::builder().pool_max_idle_per_host(args.clients).build()?,
        base: stack.base.clone(),
        token: stack.token.clone(),
    };
    // The clock starts with the capacity model, so that loading and signing in are not counted.
    sim.capacity().set(capacity).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let done_users = Arc::new(AtomicU64::new(0));
    let done_groups = Arc::new(AtomicU64::new(0));
    let progress = {
        let (done_users, done_groups) = (done_users.clone(), done_groups.clone());
        let (users, groups) = (args.users, args.groups);
        move |served: u64, in_flight: usize| {
            eprintln!(
                "{:>6.1} s  users {}/{users}  groups {}/{groups}  Secret Server calls {served} ({in_flight} in flight)",
                started.elapsed().as_secs_f64(),
                done_users.load(Ordering::Relaxed),
                done_groups.load(Ordering::Relaxed),
            );
        }
    };
    let ticker = async {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            let counters = sim.capacity().report().counters;
            progress(counters.served, counters.in_flight);
        }
    };

    let work = async {
        let ids: Vec<anyhow::Result<String>> = futures::stream::iter(0..args.users)
            .map(|i| {
                let (scim, done) = (scim.clone(), done_users.clone());
                async move {
                    let id = cycle_user(&scim, i).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    id
                }
            })
            .buffered(args.clients)
            .collect()
            .await;
        let users: Vec<String> = ids.into_iter().collect::<anyhow::Result<_>>()?;
        let users_done = started.elapsed();
        let users_calls = sim.capacity().report().counters.served;
        let users = Arc::new(users);
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..args.groups)
            .map(|g| {
                let (scim, users, done) = (scim.clone(), users.clone(), done_groups.clone());
                async move {
                    let result = cycle_group(&scim, g, &users, args.members).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    result
                }
            })
            .buffer_unordered(args.clients)
            .collect()
            .await;
        results.into_iter().collect::<anyhow::Result<()>>()?;
        anyhow::Ok((users_done, users_calls))
    };
    let (users_done, users_calls) = tokio::select! {
        result = work => result?,
        () = ticker => unreachable!("the ticker never ends"),
    };
    let total = started.elapsed();
    let report = sim.capacity().report();
    let calls = report.counters.served;
    #[allow(clippy::cast_precision_loss)]
    let bound = |calls: u64| calls as f64 / CAPACITY as f64 * LATENCY_MS as f64 / 1000.0;
    let group_calls = calls - users_calls;
    let group_time = total - users_done;
    let bound_label = match args.fixed {
        Some(n) => format!("fixed {n} in flight"),
        None => format!("adaptive, at most {}", args.max_in_flight),
    };
    println!(
        "Entra-style first cycle, capacity {CAPACITY} in flight × {LATENCY_MS} ms, {bound_label}, {} workers, {} SCIM clients",
        args.workers, args.clients
    );
    println!(
        "| phase | SCIM requests | time | Secret Server calls | lower bound (calls ÷ {CAPACITY} × {LATENCY_MS} ms) | time ÷ bound |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} users: lookup + create | {} | {:.1} s | {users_calls} | {:.1} s | {:.2} |",
        args.users,
        2 * args.users,
        users_done.as_secs_f64(),
        bound(users_calls),
        users_done.as_secs_f64() / bound(users_calls).max(f64::EPSILON)
    );
    let patches = args.groups * args.members.min(args.users).div_ceil(MEMBERS_PER_PATCH);
    println!(
        "| {} groups: lookup + create + {} members in {} PATCHes | {} | {:.1} s | {group_calls} | {:.1} s | {:.2} |",
        args.groups,
        args.members,
        patches,
        2 * args.groups + patches,
        group_time.as_secs_f64(),
        bound(group_calls),
        group_time.as_secs_f64() / bound(group_calls).max(f64::EPSILON)
    );
    println!(
        "| whole cycle | {} | {:.1} s | {calls} | {:.1} s | {:.2} |",
        2 * args.users + 2 * args.groups + patches,
        total.as_secs_f64(),
        bound(calls),
        total.as_secs_f64() / bound(calls).max(f64::EPSILON)
    );
    println!(
        "Secret Server: {} answered 503 (queue full), {} waited in its queue, at most {} in flight; SCIM 429/503 repeated: {}",
        report.counters.refused,
        report.counters.queued,
        report.counters.max_in_flight,
        RETRIED.load(Ordering::Relaxed)
    );
    stack.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
