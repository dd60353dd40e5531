use audit::{AuditSettings, RunningAudit};
use audit_events::ChangeOutcome;
use job_queue::{EventBus, InProcessEventBus, QueueConfig};
use proto::audit::v1 as pb;
use proto::common::v1::ResourceType;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub(crate) const TOKEN: &str = "test-admin-token";
/// The chain key of every test service (kept out of its database, as in production).
pub(crate) const CHAIN_KEY: &str = "audit-tests-chain-key-0123456789abcdef";

pub(crate) fn chain_key() -> audit::ChainKey {
    audit::ChainKey::from_text(CHAIN_KEY).expect("a key of 32 bytes or more")
}

pub(crate) struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub bus: Arc<dyn EventBus>,
    pub data_dir: tempfile::TempDir,
    pub shutdown: CancellationToken,
    pub running: Option<RunningAudit>,
    /// Events published through [`TestApp::publish`] and [`TestApp::publish_raw`].
    published: AtomicU64,
}

pub(crate) fn memory_bus() -> Arc<dyn EventBus> {
    let config = QueueConfig { visibility_timeout: Duration::from_millis(300), ..QueueConfig::default() };
    Arc::new(InProcessEventBus::new(&config).expect("a valid in-process bus"))
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(memory_bus(), |_| {}).await
}

pub(crate) async fn spawn_app_with(bus: Arc<dyn EventBus>, adjust: impl FnOnce(&mut AuditSettings)) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("a temporary directory"), bus, adjust).await
}

/// The service on a data directory that may already hold a database (one a previous instance wrote).
pub(crate) async fn spawn_app_in(
    data_dir: tempfile::TempDir,
    bus: Arc<dyn EventBus>,
    adjust: impl FnOnce(&mut AuditSettings),
) -> TestApp {
    telemetry::init_for_tests();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut settings = AuditSettings {
        data_dir: data_dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token_sha256: vec![hex::encode(Sha256::digest(TOKEN.as_bytes()))],
        consumer_name: Some("test-consumer".into()),
        batch_size: 50,
        poll_wait: Duration::from_millis(50),
        key: Some(chain_key()),
        head_interval: Duration::from_millis(50),
        ..AuditSettings::default()
    };
    adjust(&mut settings);
    let shutdown = CancellationToken::new();
    let running = audit::start(settings, bus.clone(), shutdown.clone()).await.expect("the audit service starts");
    let app = TestApp {
        base: format!("http://{}", running.local_addr()),
        client: reqwest::Client::new(),
        bus,
        data_dir,
        shutdown,
        running: Some(running),
        published: AtomicU64::new(0),
    };
    app.wait_until_ready().await;
    app
}

impl TestApp {
    pub(crate) fn db_path(&self) -> PathBuf {
        audit::AuditStore::path_in(self.data_dir.path())
    }

    /// Where the service exports the chain's heads (the default place).
    pub(crate) fn heads_path(&self) -> PathBuf {
        self.data_dir.path().join("audit").join("heads.jsonl")
    }

    /// `audit verify`: the chain with the key, and the exported heads.
    pub(crate) fn verify(&self) -> audit::VerifyReport {
        audit::verify(&self.db_path(), &chain_key(), &self.heads_path(), keep_all())
            .expect("the database can be verified")
    }

    pub(crate) async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client.get(format!("{}{path_and_query}", self.base)).bearer_auth(TOKEN).send().await.expect("a response")
    }

    pub(crate) async fn get_json(&self, path_and_query: &str) -> serde_json::Value {
        let response = self.get(path_and_query).await;
        assert_eq!(response.status(), 200, "GET {path_and_query}");
        response.json().await.expect("a JSON body")
    }

    /// The `seq` of every record a query returns (one page).
    pub(crate) async fn seqs(&self, query: &str) -> Vec<u64> {
        let page = self.get_json(&format!("/audit/v1/records?{query}")).await;
        page["records"].as_array().unwrap().iter().map(|r| r["seq"].as_u64().unwrap()).collect()
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.client.get(format!("{}/readyz", self.base)).send().await.map(|r| r.status().as_u16());
            if matches!(status, Ok(200)) {
                return;
            }
            assert!(Instant::now() < deadline, "the audit service did not become ready: {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn publish(&self, event: &pb::AuditEvent) {
        audit_events::publish(self.bus.as_ref(), event).await.expect("the bus takes the event");
        self.published.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) async fn publish_raw(&self, payload: &'static [u8]) {
        let event = job_queue::Event { payload: bytes::Bytes::from_static(payload), trace_context: Default::default() };
        self.bus.publish(event).await.expect("the bus takes the event");
        self.published.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until the chain head reaches `seq` (the consumer runs on its own schedule).
    pub(crate) async fn wait_for_head(&self, seq: u64) {
        let store = self.running.as_ref().unwrap().store().clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let head = store.stats().unwrap().head.seq;
            if head >= seq {
                return;
            }
            assert!(Instant::now() < deadline, "only {head} of {seq} records arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the consumer has taken, recorded (or found duplicate) and acknowledged every
    /// event published through this app: nothing more will be recorded from them, and none is
    /// delivered again (used before asserting that nothing more was recorded).
    pub(crate) async fn settle(&self) {
        self.wait_for_acknowledged(self.published.load(Ordering::SeqCst)).await;
    }

    /// Waits until the consumer has acknowledged `count` deliveries (redeliveries included).
    pub(crate) async fn wait_for_acknowledged(&self, count: u64) {
        let running = self.running.as_ref().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let acknowledged = running.events_acknowledged();
            if acknowledged >= count {
                return;
            }
            assert!(Instant::now() < deadline, "only {acknowledged} of {count} events were acknowledged");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn store(&self) -> &Arc<audit::AuditStore> {
        self.running.as_ref().unwrap().store()
    }

    pub(crate) async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.wait().await.expect("a clean stop");
        }
    }
}

pub(crate) fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

pub(crate) fn call(
    connection: (&str, &str),
    method: &str,
    route: &str,
    resource: ResourceType,
    id: &str,
    status: u32,
) -> pb::AuditEvent {
    audit_events::scim_call(pb::ScimCall {
        connection_id: connection.0.into(),
        connection_name: connection.1.into(),
        method: method.into(),
        route: route.into(),
        resource_type: resource as i32,
        resource_id: id.into(),
        status,
        latency_micros: 1234,
        client_address: "203.0.113.7".into(),
        request_id: "req-1".into(),
        ..Default::default()
    })
}

pub(crate) fn change(
    connection: &str,
    resource: ResourceType,
    id: &str,
    operation: &str,
    outcome: ChangeOutcome,
) -> pb::AuditEvent {
    audit_events::resource_change(pb::ResourceChange {
        connection_id: connection.into(),
        secret_server_instance: "primary".into(),
        resource_type: resource as i32,
        resource_id: id.into(),
        operation: operation.into(),
        job_id: "job-1".into(),
        before_json: br#"{"userName":"before"}"#.to_vec(),
        after_json: br#"{"userName":"after"}"#.to_vec(),
        outcome: outcome.to_proto() as i32,
        ..Default::default()
    })
}

/// Writes `n` simple records (for paging, tampering and retention tests) and waits for them.
pub(crate) async fn record_n(app: &TestApp, n: u64) {
    let start = app.store().stats().unwrap().head.seq;
    for i in 0..n {
        app.publish(&call(("c1", "okta"), "GET", "/scim/v2/Users/{id}", ResourceType::User, &format!("u{i}"), 200))
            .await;
    }
    app.wait_for_head(start + n).await;
}

/// The test service's retention: none, so nothing may have been pruned.
pub(crate) fn keep_all() -> audit::Pruning {
    audit::Pruning { retention: None, head_interval: std::time::Duration::from_secs(60) }
}
