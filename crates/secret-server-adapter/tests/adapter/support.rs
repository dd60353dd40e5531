//! The test stack (test-support's spawner, in the adapter's shape): the Secret Server emulator, a job queue and a state store (in process, or on
//! Redis with a unique prefix), the connections store, and the adapter on port 0. Reads go through
//! the real gRPC client (`adapter-api`'s, as the gateway's); writes are real jobs on the queue,
//! built and submitted with `adapter-api` as the gateway submits them; the emulator's state is
//! checked through its own REST API. Tests of the server's own checks of what arrives on the wire
//! use the generated client directly (`search_raw`).

use adapter_api::job::decode_result;
use adapter_api::{DirectoryClient, GetResource, Job, Operation, Page, SearchQuery, SearchResources, Written};
use connections::{Connection, ConnectionStore};
use job_queue::{EventBus, JobId, JobQueue, JobStatus, QueueConfig, TraceContext};
use proto::common::v1 as common;
use proto::directory::v1 as dir;
use scim::ResourceKind;
use secret_server_adapter::{AdapterDeps, AdapterSettings, ProtectedPrincipals, RunningAdapter};
use secret_server_client::SecretServerClient;
use secret_server_sim::{RunningSim, SimConfig};
use serde_json::{Value, json};
use service_error::ServiceError;
use state_store::StateStore;
use std::sync::Arc;
use std::time::Duration;
use test_support::stack::StackOptions;
use tonic::transport::Channel;

type WireClient = dir::directory_client::DirectoryClient<
    tonic::service::interceptor::InterceptedService<Channel, secret_server_adapter::grpc_auth::PresentSecret>,
>;

/// The connection every test uses unless it makes its own.
pub(crate) const CONNECTION: &str = "test";
pub(crate) const INSTANCE: &str = "primary";

/// Where the queue and the state live.
pub(crate) use test_support::Backend;

/// Options of a stack.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub backend: Backend,
    pub resync_interval: Duration,
    pub replica_id: Option<String>,
    /// The instance's protected principals (besides its API account).
    pub protected: ProtectedPrincipals,
    /// The instance's console group (whose members may sign in to the console).
    pub console_group: Option<String>,
    /// Where the adapter keeps its read-model snapshots; `None`: none.
    pub snapshot_dir: Option<std::path::PathBuf>,
    /// Members beyond which a group read that renders them is expensive work.
    pub large_group_members: usize,
}

impl Default for Options {
    fn default() -> Self {
        // Tests resync on demand; the long interval keeps the periodic one out of the way.
        Self {
            backend: Backend::InProcess,
            resync_interval: Duration::from_secs(3600),
            replica_id: None,
            protected: ProtectedPrincipals::default(),
            console_group: None,
            snapshot_dir: None,
            large_group_members: AdapterSettings::default().large_group_members,
        }
    }
}

/// A key prefix of the adapter's tests, for a test that opens backends of its own.
#[allow(dead_code)]
pub(crate) fn unique_prefix() -> String {
    test_support::unique_prefix("test-adapter")
}

/// What a job ended with.
#[derive(Debug)]
pub(crate) enum Outcome {
    Ok(Written),
    Err(ServiceError),
}

impl Outcome {
    /// The resource a succeeded job returned, as JSON; panics with the error otherwise.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        match self {
            Outcome::Ok(Written::Resource(r)) => serde_json::from_slice(&r.json).expect("resource JSON"),
            other => panic!("expected a resource, got {other:?}"),
        }
    }

    /// The error of a failed job; panics when it succeeded.
    #[track_caller]
    pub(crate) fn err(&self) -> &ServiceError {
        match self {
            Outcome::Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[track_caller]
    pub(crate) fn id(&self) -> String {
        self.json()["id"].as_str().expect("id").to_owned()
    }
}

pub(crate) fn proto_kind(kind: ResourceKind) -> common::ResourceType {
    adapter_api::kind::to_proto(kind)
}

/// The test stack.
pub(crate) struct Stack {
    pub sim: RunningSim,
    pub adapter: Option<RunningAdapter>,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub state: Arc<dyn StateStore>,
    pub connections: ConnectionStore,
    pub grpc: DirectoryClient,
    /// The generated client, for requests the domain types cannot express.
    pub wire: WireClient,
    /// A client of the emulator, to check its state through its own REST API.
    pub ss: SecretServerClient,
    options: Options,
}

pub(crate) fn ss_client(sim: &RunningSim) -> SecretServerClient {
    SecretServerClient::new(test_support::stack::client_config(sim)).expect("client")
}

/// The adapter's settings for `options` (its instance is bound to the emulator by test-support).
fn adapter_settings(options: &Options) -> AdapterSettings {
    AdapterSettings {
        grpc_listen: "127.0.0.1:0".parse().expect("addr"),
        http_listen: Some("127.0.0.1:0".parse().expect("addr")),
        workers: 4,
        resync_interval: options.resync_interval,
        progress_bars: false,
        replica_id: options.replica_id.clone(),
        snapshot_dir: options.snapshot_dir.clone(),
        large_group_members: options.large_group_members,
        // No cursor_secret: the key is kept in the state store, shared by restarts and replicas.
        ..AdapterSettings::default()
    }
}

/// The stack of `options` in test-support's terms: the emulator, the backends, the test
/// connection (no bearer token: tests talk to the adapter directly) and the adapter, no gateway.
fn stack_options(options: &Options) -> StackOptions {
    StackOptions {
        backend: options.backend,
        prefix_label: "test-adapter".to_owned(),
        queue: QueueConfig { max_attempts: 4, ..QueueConfig::default() },
        connection_cache_ttl: Duration::from_millis(50),
        connection: Some(json!({"id": CONNECTION, "secretServer": INSTANCE})),
        bearer_token: false,
        adapter: Some(adapter_settings(options)),
        protected: options.protected.clone(),
        console_group: options.console_group.clone(),
        gateway: None,
        ..StackOptions::default()
    }
}

/// The test connection: everything readable and writable (but secrets), default rights mapping.
/// Job `id` as the queue hands it to the adapter on its `attempt`th delivery (2 or more: a
/// redelivery, the only one that may find what an earlier attempt left).
pub(crate) fn delivered(id: &str, body: Job, attempt: u32) -> job_queue::Job {
    let sealed = body.seal(&adapter_api::JobKeys::ephemeral());
    job_queue::Job {
        id: JobId(id.to_owned()),
        ordering_key: format!("{INSTANCE}/test/{id}"),
        payload: sealed.payload,
        secrets: sealed.secrets,
        trace_context: TraceContext::default(),
        attempt,
        lease: job_queue::JobLease::default(),
    }
}

/// Who holds the disabled role of [`emulator_with_a_disabled_role_held_by`].
pub(crate) enum Holder {
    User(&'static str),
    FirstGroup,
}

/// An emulator on the test data set where `holder` holds a disabled role, "Auditor" (the
/// emulator's API makes no role): its saved state is written so before it starts. With the
/// holder's Secret Server id.
pub(crate) async fn emulator_with_a_disabled_role_held_by(holder: Holder, dir: &std::path::Path) -> (RunningSim, i64) {
    let config = || SimConfig { data_dir: Some(dir.to_owned()), ..SimConfig::for_tests() };
    secret_server_sim::spawn(config()).await.unwrap().shutdown().await;
    let path = dir.join("snapshot.json");
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let role = saved["roles"].as_array().unwrap().iter().filter_map(|r| r["id"].as_i64()).max().unwrap() + 1;
    saved["roles"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": role, "name": "Auditor", "enabled": false, "isSystem": false}));
    let (pairs, id) = match holder {
        Holder::User(name) => {
            let users = saved["users"].as_array().unwrap();
            ("userRoles", users.iter().find(|u| u["userName"] == name).unwrap()["id"].as_i64().unwrap())
        }
        Holder::FirstGroup => ("groupRoles", saved["groups"][0]["id"].as_i64().unwrap()),
    };
    saved[pairs].as_array_mut().unwrap().push(json!([id, role]));
    std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();
    (secret_server_sim::spawn(config()).await.unwrap(), id)
}

/// The permissions Secret Server lists on folder `folder` (read from the emulator).
pub(crate) async fn ss_folder_permissions(stack: &Stack, folder: &str) -> Vec<secret_server_api::FolderPermission> {
    futures::TryStreamExt::try_collect(
        stack
            .ss
            .search_folder_permissions(&secret_server_client::FolderPermissionQuery::folder(folder.parse().unwrap())),
    )
    .await
    .unwrap()
}

pub(crate) fn connection(id: &str) -> Connection {
    serde_json::from_value(json!({"id": id, "secretServer": INSTANCE})).expect("connection")
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub(crate) async fn start_with(options: Options) -> Self {
        Self::start_on(secret_server_sim::spawn(SimConfig::for_tests()).await.expect("emulator"), options).await
    }

    /// A stack over an emulator already running (a generated data set, for instance).
    pub(crate) async fn start_on(sim: RunningSim, options: Options) -> Self {
        let stack = test_support::stack::spawn_on(sim, stack_options(&options)).await;
        let adapter = stack.adapter.expect("the adapter runs");
        let ss = ss_client(&stack.sim);
        let (grpc, wire) = (grpc_client(&adapter), wire_client(&adapter).await);
        Self {
            sim: stack.sim,
            adapter: Some(adapter),
            queue: stack.queue,
            events: stack.events,
            state: stack.state,
            connections: stack.connections,
            grpc,
            wire,
            ss,
            options,
        }
    }

    /// Stops the adapter (the emulator, queue and state stay).
    pub(crate) async fn stop_adapter(&mut self) {
        if let Some(adapter) = self.adapter.take() {
            adapter.shutdown().await;
        }
    }

    /// Stops the adapter and starts a new one over the same emulator, queue and state, publishing
    /// its events on `events` (a stream that a test can make fail).
    #[allow(dead_code)]
    pub(crate) async fn restart_adapter_on(&mut self, events: Arc<dyn EventBus>) {
        self.stop_adapter().await;
        let adapter =
            start_adapter(&self.sim, &self.options, &self.queue, &events, &self.state, &self.connections).await;
        self.grpc = grpc_client(&adapter);
        self.wire = wire_client(&adapter).await;
        self.adapter = Some(adapter);
    }

    /// Starts a new adapter over the same emulator, queue and state.
    pub(crate) async fn start_adapter(&mut self) {
        let adapter =
            start_adapter(&self.sim, &self.options, &self.queue, &self.events, &self.state, &self.connections).await;
        self.grpc = grpc_client(&adapter);
        self.wire = wire_client(&adapter).await;
        self.adapter = Some(adapter);
    }

    /// Stops the adapter and starts a new one over the same emulator, queue and state.
    pub(crate) async fn restart_adapter(&mut self) {
        self.stop_adapter().await;
        self.start_adapter().await;
    }

    /// What an adapter of its own needs to share this stack's queue, events, state and connections.
    pub(crate) fn adapter_deps(&self) -> AdapterDeps {
        AdapterDeps {
            queue: self.queue.clone(),
            events: self.events.clone(),
            state: self.state.clone(),
            connections: self.connections.clone(),
        }
    }

    /// A second adapter replica over the same emulator, queue and state, with its own gRPC client.
    pub(crate) async fn second_replica(&self, replica_id: &str) -> (RunningAdapter, DirectoryClient) {
        let options = Options { replica_id: Some(replica_id.to_owned()), ..self.options.clone() };
        let adapter =
            start_adapter(&self.sim, &options, &self.queue, &self.events, &self.state, &self.connections).await;
        let grpc = grpc_client(&adapter);
        (adapter, grpc)
    }

    pub(crate) fn adapter(&self) -> &RunningAdapter {
        self.adapter.as_ref().expect("adapter running")
    }

    pub(crate) async fn resync(&self) {
        self.adapter().resync_now().await.expect("resync");
    }

    pub(crate) async fn stop(mut self) {
        if let Some(adapter) = self.adapter.take() {
            adapter.shutdown().await;
        }
        self.sim.shutdown().await;
    }

    // ----- writes, as the gateway submits them -----

    /// Submits a job and waits for its result.
    pub(crate) async fn submit(&self, job: Job, idempotency_key: &str) -> Outcome {
        self.submit_in_trace(job, idempotency_key, TraceContext::default()).await
    }

    /// Submits a job in the trace `trace_context` and waits for its result.
    pub(crate) async fn submit_in_trace(
        &self,
        job: Job,
        idempotency_key: &str,
        trace_context: TraceContext,
    ) -> Outcome {
        // The adapter's settings keep the process's own job keys, as a gateway beside it would.
        let submission =
            job.submission(INSTANCE, idempotency_key.to_owned(), trace_context, &adapter_api::JobKeys::ephemeral());
        let submitted = self.queue.submit(submission).await.expect("submit");
        self.outcome(&submitted.job_id).await
    }

    /// Submits a job without waiting for it (while the adapter is stopped, jobs queue up).
    #[allow(dead_code)]
    pub(crate) async fn enqueue(&self, job: Job) -> JobId {
        let submission =
            job.submission(INSTANCE, Self::key(), TraceContext::default(), &adapter_api::JobKeys::ephemeral());
        self.queue.submit(submission).await.expect("submit").job_id
    }

    /// Waits for job `id`'s result.
    pub(crate) async fn outcome(&self, id: &JobId) -> Outcome {
        let state = self.queue.wait(id, Duration::from_secs(60)).await.expect("wait").expect("job state");
        match state.status {
            JobStatus::Succeeded | JobStatus::Failed => {}
            other => panic!("job {id} ended {other:?}: {:?}", state.last_error),
        }
        match decode_result(state.result.expect("result").as_ref()) {
            Ok(written) => Outcome::Ok(written),
            Err(e) => Outcome::Err(e),
        }
    }

    /// A job, as the gateway builds it.
    pub(crate) fn job(
        &self,
        connection: &str,
        kind: ResourceKind,
        op: Operation,
        id: &str,
        payload: Option<&Value>,
        if_match: Option<&str>,
    ) -> Job {
        Job::new(connection, kind, op, id, payload.cloned().unwrap_or(Value::Null))
            .expect("a valid job")
            .with_if_match(if_match)
            .with_request_id(uuid::Uuid::new_v4().to_string())
    }

    pub(crate) fn key() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    pub(crate) async fn create(&self, kind: ResourceKind, body: Value) -> Outcome {
        self.create_as(CONNECTION, kind, body).await
    }

    pub(crate) async fn create_as(&self, connection: &str, kind: ResourceKind, body: Value) -> Outcome {
        self.submit(self.job(connection, kind, Operation::Create, "", Some(&body), None), &Self::key()).await
    }

    pub(crate) async fn replace(&self, kind: ResourceKind, id: &str, body: Value, if_match: Option<&str>) -> Outcome {
        self.submit(self.job(CONNECTION, kind, Operation::Replace, id, Some(&body), if_match), &Self::key()).await
    }

    pub(crate) async fn patch(&self, kind: ResourceKind, id: &str, ops: Value) -> Outcome {
        self.patch_as(CONNECTION, kind, id, ops, None).await
    }

    pub(crate) async fn patch_as(
        &self,
        connection: &str,
        kind: ResourceKind,
        id: &str,
        ops: Value,
        if_match: Option<&str>,
    ) -> Outcome {
        let body = json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops});
        self.submit(self.job(connection, kind, Operation::Patch, id, Some(&body), if_match), &Self::key()).await
    }

    pub(crate) async fn delete(&self, kind: ResourceKind, id: &str) -> Outcome {
        self.delete_as(CONNECTION, kind, id).await
    }

    pub(crate) async fn delete_as(&self, connection: &str, kind: ResourceKind, id: &str) -> Outcome {
        self.submit(self.job(connection, kind, Operation::Delete, id, None, None), &Self::key()).await
    }

    // ----- reads, through gRPC -----

    pub(crate) async fn get_as(&self, connection: &str, kind: ResourceKind, id: &str) -> Result<Value, ServiceError> {
        read(&self.grpc, connection, kind, id).await
    }

    pub(crate) async fn get(&self, kind: ResourceKind, id: &str) -> Result<Value, ServiceError> {
        self.get_as(CONNECTION, kind, id).await
    }

    /// A search sent as the wire message, through the generated client.
    pub(crate) async fn search_raw(
        &self,
        req: dir::SearchResourcesRequest,
    ) -> Result<dir::SearchResourcesResponse, ServiceError> {
        let mut wire = self.wire.clone();
        Ok(wire.search_resources(req).await.map_err(ServiceError::from)?.into_inner())
    }

    pub(crate) fn search_request(
        &self,
        connection: &str,
        kind: ResourceKind,
        filter: &str,
    ) -> dir::SearchResourcesRequest {
        dir::SearchResourcesRequest {
            caller: Some(common::Caller { connection_id: connection.to_owned() }),
            resource_types: vec![proto_kind(kind) as i32],
            filter: filter.to_owned(),
            page: Some(dir::search_resources_request::Page::Index(dir::IndexPage {
                start_index: 1,
                count: Some(1000),
            })),
            ..dir::SearchResourcesRequest::default()
        }
    }

    /// Every resource of `kind` matching `filter` (up to 1000), as JSON.
    pub(crate) async fn search_as(
        &self,
        connection: &str,
        kind: ResourceKind,
        filter: &str,
    ) -> Result<Vec<Value>, ServiceError> {
        let query = SearchQuery {
            kinds: vec![kind],
            filter: Some(filter.to_owned()),
            page: Page::Index { start_index: 1, count: Some(1000) },
            ..SearchQuery::default()
        };
        let page = self.grpc.search(SearchResources { connection_id: connection.to_owned(), query }).await?;
        Ok(page.resources.iter().map(|r| serde_json::from_slice(&r.json).expect("json")).collect())
    }

    pub(crate) async fn search(&self, kind: ResourceKind, filter: &str) -> Vec<Value> {
        self.search_as(CONNECTION, kind, filter).await.expect("search")
    }

    /// The one resource matching `filter`.
    pub(crate) async fn find(&self, kind: ResourceKind, filter: &str) -> Value {
        let mut found = self.search(kind, filter).await;
        assert_eq!(found.len(), 1, "{filter}: {found:?}");
        found.remove(0)
    }
}

/// One resource through `client`, as JSON.
pub(crate) async fn read(
    client: &DirectoryClient,
    connection: &str,
    kind: ResourceKind,
    id: &str,
) -> Result<Value, ServiceError> {
    let request = GetResource {
        connection_id: connection.to_owned(),
        kind,
        id: id.to_owned(),
        projection: adapter_api::Projection::default(),
    };
    let resource = client.get(request).await?;
    Ok(serde_json::from_slice(&resource.json).expect("json"))
}

pub(crate) fn grpc_client(adapter: &RunningAdapter) -> DirectoryClient {
    let url = format!("http://{}", adapter.grpc_addr());
    DirectoryClient::new(&url, Duration::from_secs(5), Duration::from_secs(60), adapter.client_auth()).expect("client")
}

async fn wire_client(adapter: &RunningAdapter) -> WireClient {
    let channel =
        Channel::from_shared(format!("http://{}", adapter.grpc_addr())).expect("uri").connect().await.expect("grpc");
    dir::directory_client::DirectoryClient::with_interceptor(
        channel,
        secret_server_adapter::grpc_auth::PresentSecret::new(adapter.grpc_secret()),
    )
}

async fn start_adapter(
    sim: &RunningSim,
    options: &Options,
    queue: &Arc<dyn JobQueue>,
    events: &Arc<dyn EventBus>,
    state: &Arc<dyn StateStore>,
    connections: &ConnectionStore,
) -> RunningAdapter {
    let deps = AdapterDeps {
        queue: queue.clone(),
        events: events.clone(),
        state: state.clone(),
        connections: connections.clone(),
    };
    test_support::stack::start_adapter(sim, &stack_options(options), adapter_settings(options), deps).await
}

/// Polls `check` until it returns `Some` or `patience` passes.
pub(crate) async fn eventually<T, F, Fut>(patience: Duration, check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    test_support::poll_until(patience, Duration::from_millis(100), check).await
}
