//! The stack the benchmark examples share: one connection with a fresh bearer token, the real
//! adapter (in-process queue and event bus, in-memory state) in front of a running emulator, and
//! the gateway in front of the adapter, all in one process.

use connections::{Connection, ConnectionStore, Policies, credentials};
use job_queue::{EventBus, InProcessEventBus, InProcessQueue, JobQueue, QueueConfig};
use scim_gateway::{GatewayDeps, GatewaySettings, RunningGateway};
use secrecy::ExposeSecret;
use secret_server_adapter::{AdapterDeps, AdapterSettings, InstanceSettings, RunningAdapter};
use secret_server_client::ClientConfig;
use state_store::{LocalStore, StateStore};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The client configuration of the emulator `sim` serves: its API account, over plain HTTP on
/// loopback.
pub(crate) fn emulator_client(sim: &secret_server_sim::RunningSim) -> anyhow::Result<ClientConfig> {
    Ok(ClientConfig::new(sim.base_url().parse()?, sim.api_username(), sim.api_password().clone()).allowing_http())
}

/// How to start the stack.
pub(crate) struct StackSpec {
    /// The connection's id (and its token's label).
    pub(crate) connection: &'static str,
    /// The adapter's job workers; `None` keeps the default.
    pub(crate) workers: Option<usize>,
    /// The gateway's HTTP workers (0: one per core).
    pub(crate) http_workers: usize,
    /// The gateway's port (0: any free one).
    pub(crate) port: u16,
    /// How long the adapter may take to load the emulator.
    pub(crate) ready_within: Duration,
}

/// A running stack: stop it with [`Stack::shutdown`].
pub(crate) struct Stack {
    pub(crate) gateway: RunningGateway,
    pub(crate) adapter: RunningAdapter,
    /// The connection's bearer token.
    pub(crate) token: String,
    /// `http://{gateway}/scim/v2`.
    pub(crate) base: String,
}

/// Starts adapter and gateway in front of the emulator `client` reaches, with connection
/// `spec.connection` (instance `primary`, default scope, no rate limit).
// Each example compiles this module on its own, and not every one calls both starts.
#[allow(dead_code)]
pub(crate) async fn start(client: ClientConfig, spec: StackSpec) -> anyhow::Result<Stack> {
    start_with_policies(client, spec, Policies::default()).await
}

/// [`start`], the connection with `policies`.
pub(crate) async fn start_with_policies(
    client: ClientConfig,
    spec: StackSpec,
    policies: Policies,
) -> anyhow::Result<Stack> {
    let state: Arc<dyn StateStore> = Arc::new(LocalStore::in_memory()?);
    let connections = ConnectionStore::new(state.clone(), Duration::from_secs(5));
    let queue_config = QueueConfig::default();
    let queue: Arc<dyn JobQueue> = Arc::new(InProcessQueue::new(&queue_config)?);
    let events: Arc<dyn EventBus> = Arc::new(InProcessEventBus::new(&queue_config)?);
    let issued = credentials::issue_token(Some(spec.connection.into()), None);
    let mut connection: Connection = serde_json::from_value(serde_json::json!({
        "id": spec.connection, "displayName": spec.connection, "secretServer": "primary", "rateLimit": "none"
    }))?;
    connection.credentials.bearer_tokens.push(issued.credential);
    connection.policies = policies;
    connections.put(&connection).await?;
    let defaults = AdapterSettings::default();
    let adapter = secret_server_adapter::start(
        AdapterSettings {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_listen: None,
            instances: vec![InstanceSettings::new("primary", client)],
            workers: spec.workers.unwrap_or(defaults.workers),
            progress_bars: false,
            ..defaults
        },
        AdapterDeps {
            queue: queue.clone(),
            events: events.clone(),
            state: state.clone(),
            connections: connections.clone(),
        },
    )
    .await?;
    adapter.wait_ready(spec.ready_within).await?;
    let gateway = scim_gateway::start(
        GatewaySettings {
            listen: SocketAddr::from(([127, 0, 0, 1], spec.port)),
            adapter_url: format!("http://{}", adapter.grpc_addr()),
            adapter_secret: adapter.grpc_secret().cloned(),
            http_workers: spec.http_workers,
            ..GatewaySettings::default()
        },
        GatewayDeps { queue, events, state, connections },
    )
    .await?;
    let base = format!("http://{}/scim/v2", gateway.addr());
    Ok(Stack { gateway, adapter, token: issued.token.expose_secret().to_owned(), base })
}

impl Stack {
    /// Stops the gateway, then the adapter.
    pub(crate) async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.adapter.shutdown().await;
    }
}
