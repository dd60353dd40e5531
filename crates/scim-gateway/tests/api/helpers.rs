//! `spawn_app()`: the whole stack on port 0 (test-support's spawner, in the gateway's shape), and
//! request helpers.

use connections::{ConnectionStore, credentials};
use job_queue::{EventBus, QueueConfig};
use reqwest::{Method, RequestBuilder, Response};
use scim_gateway::{GatewayDeps, GatewaySettings, RunningGateway};
use secret_server_adapter::RunningAdapter;
use secret_server_sim::{RunningSim, SimConfig};
use serde_json::Value;
use state_store::StateStore;
use std::sync::Arc;
use std::time::Duration;
use test_support::Backend;
use test_support::stack::{StackOptions, any_port};

pub(crate) const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";
pub(crate) const SCIM: &str = "application/scim+json";

/// The running stack.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:port`
    pub base: String,
    /// The dev connection's bearer token.
    pub token: String,
    pub http: reqwest::Client,
    pub sim: RunningSim,
    pub adapter: Option<RunningAdapter>,
    pub gateway: Option<RunningGateway>,
    pub events: Arc<dyn EventBus>,
    /// What the gateway runs on, to start more replicas beside it.
    pub deps: GatewayDeps,
    pub adapter_url: String,
    /// The secret the adapter requires of its gRPC callers.
    pub adapter_secret: Option<secrecy::SecretString>,
    /// The key prefix of the queue and state in Redis, when the stack runs on Redis.
    pub redis_prefix: Option<String>,
}

/// What a test may change about the stack.
pub(crate) struct Options {
    pub settings: GatewaySettings,
    pub queue: QueueConfig,
    pub connection: Value,
    pub seed: secret_server_sim::Seed,
    /// Queue, events and state in Redis (`REDIS_URL`, default local) under a fresh key prefix,
    /// as a multi-replica deployment has them; the test fails when Redis is missing.
    pub redis: bool,
    /// The emulator instance's console group (its members sign in to the console).
    pub console_group: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        let settings = GatewaySettings {
            listen: any_port(),
            admin_token_sha256: vec![credentials::sha256_hex(ADMIN_TOKEN)],
            http_workers: 2,
            job_deadline: Duration::from_secs(20),
            ..GatewaySettings::default()
        };
        let queue = QueueConfig {
            max_attempts: 3,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            ..QueueConfig::default()
        };
        Self {
            settings,
            queue,
            connection: serde_json::json!({"id": "test", "displayName": "Tests", "secretServer": "primary"}),
            seed: secret_server_sim::Seed::Demo,
            redis: false,
            console_group: None,
        }
    }
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub(crate) async fn spawn_app_with(options: Options) -> TestApp {
    let mut sim = SimConfig::for_tests();
    sim.seed = options.seed;
    let stack = test_support::stack::spawn(StackOptions {
        sim,
        backend: if options.redis { Backend::Redis } else { Backend::InProcess },
        prefix_label: "gwtest".to_owned(),
        queue: options.queue,
        connection: Some(options.connection),
        client_retry: Some(secret_server_client::RetryPolicy::none()),
        adapter_ready_within: Duration::from_secs(30),
        gateway: Some(options.settings),
        console_group: options.console_group,
        ..StackOptions::default()
    })
    .await;
    let deps = stack.gateway_deps();
    let gateway = stack.gateway.expect("the gateway runs");
    let adapter = stack.adapter.expect("the adapter runs");
    let adapter_secret = adapter.grpc_secret().cloned();
    TestApp {
        base: format!("http://{}", gateway.addr()),
        token: stack.token.expect("the test connection has a token"),
        http: reqwest::Client::new(),
        sim: stack.sim,
        adapter_url: format!("http://{}", adapter.grpc_addr()),
        adapter: Some(adapter),
        gateway: Some(gateway),
        events: stack.events,
        deps,
        adapter_secret,
        redis_prefix: stack.redis_prefix,
    }
}

impl TestApp {
    /// Another gateway replica on the same queue, state store and adapter, with a connection store
    /// of its own (as another process would have), returning it and its base URL.
    pub(crate) async fn spawn_replica(&self) -> (RunningGateway, String) {
        self.spawn_replica_with(Options::default().settings, self.deps.state.clone()).await
    }

    /// Another gateway replica as [`TestApp::spawn_replica`], with `settings` (its adapter made
    /// this stack's) and reading the state through `state`.
    pub(crate) async fn spawn_replica_with(
        &self,
        settings: GatewaySettings,
        state: Arc<dyn StateStore>,
    ) -> (RunningGateway, String) {
        let settings = GatewaySettings {
            adapter_url: self.adapter_url.clone(),
            adapter_secret: self.adapter_secret.clone(),
            ..settings
        };
        let connections = ConnectionStore::new(state.clone(), Duration::from_millis(200));
        let deps = GatewayDeps { connections, state, ..self.deps.clone() };
        let replica = scim_gateway::start(settings, deps).await.expect("the replica starts");
        let base = format!("http://{}", replica.addr());
        (replica, base)
    }

    /// A request to a SCIM path (`/Users`) with the dev token.
    pub(crate) fn scim(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/scim/v2{path}", self.base)).bearer_auth(&self.token)
    }

    /// A request to a SCIM path without credentials.
    pub(crate) fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/scim/v2{path}", self.base))
    }

    /// A request to an admin path (`/connections`) with the admin token.
    pub(crate) fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/admin/v1{path}", self.base)).bearer_auth(ADMIN_TOKEN)
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.scim(Method::GET, path).send().await.unwrap()
    }

    pub(crate) async fn send_json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.scim(method, path).header("content-type", SCIM).body(body.to_string()).send().await.unwrap()
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, path, body).await
    }

    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PATCH, path, body).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PUT, path, body).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Response {
        self.scim(Method::DELETE, path).send().await.unwrap()
    }

    /// Creates a user and returns its JSON.
    pub(crate) async fn create_user(&self, user_name: &str) -> Value {
        let res = self.post("/Users", &user_body(user_name)).await;
        assert_eq!(res.status(), 201, "creating {user_name}: {}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// The id of the only resource a filter finds.
    pub(crate) async fn find_one(&self, endpoint: &str, filter: &str) -> Value {
        let res = self.scim(Method::GET, endpoint).query(&[("filter", filter)]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["totalResults"], 1, "{filter}: {body}");
        body["Resources"][0].clone()
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
        if let Some(a) = self.adapter.take() {
            a.shutdown().await;
        }
        self.sim.shutdown().await;
    }
}

/// A valid new user (the emulator's password policy wants a strong password).
pub(crate) fn user_body(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": [scim::urn::USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "displayName": format!("Test {user_name}"),
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "password": "Str0ng!Passw0rd-for-tests",
        "active": true
    })
}

/// One batch of audit events from the events stream (up to `max`, waiting up to `wait`), each
/// with its payload as published, acknowledged as read: an event left unacknowledged is handed
/// back first, ahead of newer ones.
pub(crate) async fn next_audit_events(
    sub: &mut Box<dyn job_queue::EventSubscription>,
    max: usize,
    wait: Duration,
) -> Vec<(bytes::Bytes, proto::audit::v1::AuditEvent)> {
    let batch = sub.next_batch(max, wait).await.unwrap();
    sub.ack(&batch.iter().map(|d| d.id.clone()).collect::<Vec<_>>()).await.unwrap();
    batch
        .into_iter()
        .map(|d| {
            let event = <proto::audit::v1::AuditEvent as prost::Message>::decode(d.payload.as_ref()).unwrap();
            (d.payload, event)
        })
        .collect()
}

/// The body of an error response, checked to be a SCIM error with `status`.
pub(crate) async fn scim_error(res: Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    let content_type = res.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(content_type.starts_with(SCIM), "{content_type}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["schemas"][0], scim::urn::ERROR);
    assert_eq!(body["status"], status.to_string());
    body
}

/// Polls `check` until it yields a value, and returns it; fails the test naming `what` when `within`
/// passes first. For conditions that another task or process brings about on its own schedule.
pub(crate) async fn eventually<T, F, Fut>(what: &str, within: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    match test_support::poll_until(within, Duration::from_millis(20), check).await {
        Some(value) => value,
        None => panic!("not within {within:?}: {what}"),
    }
}
