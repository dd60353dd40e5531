//! The whole stack in process, for end-to-end tests: the emulator (seeded with the demo
//! organisation), the adapter, the gateway and the audit service, each on port 0, with a temporary
//! data directory. The queue is in-process, or Redis (with a unique key prefix) when
//! `STACK_QUEUE=redis`; the Redis and the prefix are test-support's ([`test_support::redis_url`]).
//!
//! The end-to-end tests test the `dev` role itself, so the stack is the one `scim-connector dev`
//! composes ([`Stack::start`]: its development connection, admin token and data directory), not
//! test-support's spawner of the services alone. Only with the `testing` feature, which only this
//! crate's tests turn on.

use crate::resolve::Common;
use crate::roles::dev::{Stack, StackSettings};
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::roles::dev::Stack as RunningStack;

/// What a test may change before the stack starts.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Run the queue and state on Redis instead of in-process.
    pub redis: bool,
    /// The emulator's seed.
    pub seed: secret_server_sim::Seed,
    /// The adapter's resync interval.
    pub resync_interval: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            redis: std::env::var("STACK_QUEUE").is_ok_and(|v| v.eq_ignore_ascii_case("redis")),
            seed: secret_server_sim::Seed::Demo,
            resync_interval: Duration::from_secs(300),
        }
    }
}

/// A started stack and the temporary directory it lives in (removed on drop).
#[derive(Debug)]
pub struct TestStack {
    pub stack: Stack,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl TestStack {
    /// The audit records matching `query` (one page), through the audit API with the admin token.
    ///
    /// # Panics
    /// When the audit API does not answer with records.
    pub async fn audit_records(&self, query: &str) -> Vec<serde_json::Value> {
        let page: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/audit/v1/records?{query}", self.audit_url()))
            .bearer_auth(secrecy::ExposeSecret::expose_secret(&self.admin_token))
            .send()
            .await
            .expect("the audit API answers")
            .json()
            .await
            .expect("a page of records");
        page["records"].as_array().cloned().unwrap_or_default()
    }

    /// Stops every service.
    pub async fn shutdown(self) {
        self.stack.shutdown().await;
    }
}

/// Starts the stack with the default options and waits until the adapter has loaded the emulator.
///
/// # Panics
/// When the stack cannot start: a test cannot go on without it.
pub async fn spawn_stack() -> TestStack {
    spawn_stack_with(StackOptions::default()).await
}

/// Starts the stack with `options` and waits until the adapter has loaded the emulator.
///
/// # Panics
/// When the stack cannot start (including when Redis is asked for and missing).
pub async fn spawn_stack_with(options: StackOptions) -> TestStack {
    telemetry::init_for_tests();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let common = Common {
        data_dir: dir.path().to_owned(),
        redis: options.redis.then(test_support::redis_settings),
        redis_prefix: test_support::unique_prefix("test-stack"),
        redis_wait_replicas: None,
        log_format: None,
        shutdown_grace: Duration::from_secs(10),
    };
    let mut sim = secret_server_sim::SimConfig::for_tests();
    sim.seed = options.seed;
    let adapter = secret_server_adapter::AdapterSettings {
        grpc_listen: any_port,
        http_listen: None,
        resync_interval: options.resync_interval,
        progress_bars: false,
        ..Default::default()
    };
    let gateway = scim_gateway::GatewaySettings { listen: any_port, ..Default::default() };
    let audit = audit::AuditSettings {
        key: Some(audit::ChainKey::generate().0),
        data_dir: dir.path().to_owned(),
        listen: any_port,
        poll_wait: Duration::from_millis(100),
        ..Default::default()
    };
    let stack = Stack::start(StackSettings { common, sim, adapter, gateway, audit })
        .await
        .unwrap_or_else(|e| panic!("the stack did not start (Redis asked: {}): {e:#}", options.redis));
    stack.adapter.wait_ready(Duration::from_secs(60)).await.expect("the adapter loads the emulator");
    TestStack { stack, _dir: dir }
}
