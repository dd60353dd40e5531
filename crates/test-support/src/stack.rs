//! The one stack spawner: the Secret Server emulator, the backends ([`crate::Backends`]), the
//! connections store with the test connection, the adapter bound to the emulator as instance
//! [`INSTANCE`] and the gateway in front of it, each on port 0. The options say which services run
//! (no adapter, or no gateway), on which backend, with which seed and settings; the gateway's and
//! the adapter's test harnesses are thin layers over it.

use crate::{Backend, Backends};
use connections::{Connection, ConnectionStore, credentials};
use job_queue::{EventBus, JobQueue, QueueConfig};
use scim_gateway::{GatewayDeps, GatewaySettings, RunningGateway};
use secrecy::ExposeSecret;
use secret_server_adapter::{AdapterDeps, AdapterSettings, InstanceSettings, ProtectedPrincipals, RunningAdapter};
use secret_server_client::{ClientConfig, RetryPolicy};
use secret_server_sim::{RunningSim, SimConfig};
use serde_json::{Value, json};
use state_store::StateStore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The Secret Server instance the adapter binds the emulator to.
pub const INSTANCE: &str = "primary";

/// Port 0 on loopback.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// What a test may choose about its stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The emulator's configuration, its seed included (unused by [`spawn_on`]).
    pub sim: SimConfig,
    /// In process or on Redis.
    pub backend: Backend,
    /// What the Redis key prefix starts with.
    pub prefix_label: String,
    /// The queue's settings (its `redis` and `prefix` come from the backend).
    pub queue: QueueConfig,
    /// How long the connections store caches a connection.
    pub connection_cache_ttl: Duration,
    /// The test connection, stored before any service starts; `None` stores none.
    pub connection: Option<Value>,
    /// Whether to issue the test connection a bearer token ([`Stack::token`]).
    pub bearer_token: bool,
    /// The adapter's settings (its instance is bound to the emulator here); `None` runs no adapter.
    pub adapter: Option<AdapterSettings>,
    /// The instance's protected principals (besides its API account).
    pub protected: ProtectedPrincipals,
    /// The instance's console group (its members sign in to the console); `None`: no sign-in
    /// with the emulator's accounts.
    pub console_group: Option<String>,
    /// The retry policy of the adapter's Secret Server client; `None` keeps the client's default.
    pub client_retry: Option<RetryPolicy>,
    /// How long the adapter may take to load the emulator.
    pub adapter_ready_within: Duration,
    /// The gateway's settings (its adapter URL is set here); `None` runs no gateway.
    pub gateway: Option<GatewaySettings>,
}

impl Default for StackOptions {
    /// The emulator with the demo organisation, in-process backends, the connection `test` on
    /// instance `primary` with a bearer token, the adapter (4 workers, no HTTP listener) and the gateway.
    fn default() -> Self {
        Self {
            sim: SimConfig::for_tests(),
            backend: Backend::InProcess,
            prefix_label: "test-stack".to_owned(),
            queue: QueueConfig::default(),
            connection_cache_ttl: Duration::from_millis(200),
            connection: Some(json!({"id": "test", "secretServer": INSTANCE})),
            bearer_token: true,
            adapter: Some(AdapterSettings {
                grpc_listen: any_port(),
                http_listen: None,
                workers: 4,
                progress_bars: false,
                ..AdapterSettings::default()
            }),
            protected: ProtectedPrincipals::default(),
            console_group: None,
            client_retry: None,
            adapter_ready_within: Duration::from_secs(60),
            gateway: Some(GatewaySettings { listen: any_port(), ..GatewaySettings::default() }),
        }
    }
}

/// A running stack. Every part is public so that a harness can take it apart into its own shape.
#[derive(Debug)]
pub struct Stack {
    pub sim: RunningSim,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub state: Arc<dyn StateStore>,
    /// The key prefix in Redis, when the stack runs on Redis.
    pub redis_prefix: Option<String>,
    pub connections: ConnectionStore,
    /// The test connection's bearer token, when one was issued.
    pub token: Option<String>,
    /// Loaded from the emulator when present.
    pub adapter: Option<RunningAdapter>,
    pub gateway: Option<RunningGateway>,
    /// What the stack was started with (to start more adapters alike).
    pub options: StackOptions,
}

/// Starts a fresh emulator and the stack over it.
///
/// # Panics
/// When a part cannot start: a test cannot go on without it.
pub async fn spawn(options: StackOptions) -> Stack {
    let sim = secret_server_sim::spawn(options.sim.clone()).await.expect("the emulator starts");
    spawn_on(sim, options).await
}

/// Starts the stack over an emulator already running (a generated data set, for instance).
///
/// # Panics
/// When a part cannot start.
pub async fn spawn_on(sim: RunningSim, options: StackOptions) -> Stack {
    let Backends { queue, events, state, redis_prefix } =
        Backends::open(options.backend, &options.prefix_label, &options.queue).await;
    let connections = ConnectionStore::new(state.clone(), options.connection_cache_ttl);
    let mut token = None;
    if let Some(json) = options.connection.clone() {
        let mut connection: Connection = serde_json::from_value(json).expect("a valid test connection");
        if options.bearer_token {
            let issued = credentials::issue_token(Some("tests".into()), None);
            connection.credentials.bearer_tokens.push(issued.credential.clone());
            token = Some(issued.token.expose_secret().to_owned());
        }
        connections.put(&connection).await.expect("the test connection is stored");
    }
    let deps = AdapterDeps { queue: queue.clone(), events: events.clone(), state: state.clone(), connections };
    let adapter = match options.adapter.clone() {
        Some(settings) => Some(start_adapter(&sim, &options, settings, deps.clone()).await),
        None => None,
    };
    let gateway = match options.gateway.clone() {
        Some(mut settings) => {
            if let Some(adapter) = &adapter {
                settings.adapter_url = format!("http://{}", adapter.grpc_addr());
                settings.adapter_secret = adapter.grpc_secret().cloned();
            }
            let deps = GatewayDeps {
                queue: deps.queue.clone(),
                events: deps.events.clone(),
                state: deps.state.clone(),
                connections: deps.connections.clone(),
            };
            Some(scim_gateway::start(settings, deps).await.expect("the gateway starts"))
        }
        None => None,
    };
    let AdapterDeps { connections, .. } = deps;
    Stack { sim, queue, events, state, redis_prefix, connections, token, adapter, gateway, options }
}

/// The emulator's API account as a Secret Server client configuration.
///
/// # Panics
/// When the emulator's URL does not parse.
pub fn client_config(sim: &RunningSim) -> ClientConfig {
    let base_url = url::Url::parse(&sim.base_url()).expect("the emulator's URL");
    ClientConfig::new(base_url, sim.api_username(), sim.api_password().clone()).allowing_http()
}

/// Starts an adapter with `settings`, its instance bound to `sim` as `options` say, on `deps`,
/// and waits until it has loaded the emulator: the stack's own, a restart, or another replica.
///
/// # Panics
/// When it cannot start or load.
pub async fn start_adapter(
    sim: &RunningSim,
    options: &StackOptions,
    mut settings: AdapterSettings,
    deps: AdapterDeps,
) -> RunningAdapter {
    let mut client = client_config(sim);
    if let Some(retry) = options.client_retry {
        client.retry = retry;
    }
    settings.instances = vec![InstanceSettings {
        protected: options.protected.clone(),
        console_group: options.console_group.clone(),
        ..InstanceSettings::new(INSTANCE, client)
    }];
    let adapter = secret_server_adapter::start(settings, deps).await.expect("the adapter starts");
    adapter.wait_ready(options.adapter_ready_within).await.expect("the adapter loads the emulator");
    adapter
}

impl Stack {
    /// What an adapter of this stack runs on.
    pub fn adapter_deps(&self) -> AdapterDeps {
        AdapterDeps {
            queue: self.queue.clone(),
            events: self.events.clone(),
            state: self.state.clone(),
            connections: self.connections.clone(),
        }
    }

    /// What a gateway of this stack runs on.
    pub fn gateway_deps(&self) -> GatewayDeps {
        GatewayDeps {
            queue: self.queue.clone(),
            events: self.events.clone(),
            state: self.state.clone(),
            connections: self.connections.clone(),
        }
    }

    /// Stops the gateway, then the adapter, then the emulator.
    pub async fn shutdown(self) {
        if let Some(gateway) = self.gateway {
            gateway.shutdown().await;
        }
        if let Some(adapter) = self.adapter {
            adapter.shutdown().await;
        }
        self.sim.shutdown().await;
    }
}
