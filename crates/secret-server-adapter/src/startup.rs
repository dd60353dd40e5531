//! Building and running the adapter: [`start`] binds the gRPC (and health) listeners, starts the
//! first load of every instance, the resync loops and the workers, and returns a
//! [`RunningAdapter`] handle. Tests start it on port 0 against the emulator.

use crate::admin::AdminService;
use crate::bounds::ExpensiveWork;
use crate::core::Core;
use crate::directory::DirectoryService;
use crate::http::{self, HealthServer};
use crate::instance::Instance;
use crate::principals::Protection;
use crate::read_model::fetch::FetchOptions;
use crate::replication;
use crate::settings::AdapterSettings;
use crate::text::now_millis;
use crate::worker::Worker;
use anyhow::Context;
use connections::ConnectionStore;
use futures::StreamExt;
use job_queue::{EventBus, JobQueue};
use proto::admin::v1::admin_server::AdminServer;
use proto::directory::v1::directory_server::DirectoryServer;
use scim::Schemas;
use scim::paging::CursorCodec;
use secret_server_client::SecretServerClient;
use state_store::StateStore;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the adapter shares with the rest of the connector.
#[derive(Debug, Clone)]
pub struct AdapterDeps {
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub state: Arc<dyn StateStore>,
    pub connections: ConnectionStore,
}

/// A running adapter.
#[derive(Debug)]
pub struct RunningAdapter {
    grpc_addr: SocketAddr,
    core: Arc<Core>,
    cancel: CancellationToken,
    grpc: JoinHandle<Result<(), tonic::transport::Error>>,
    workers: JoinHandle<Result<(), job_queue::QueueError>>,
    background: Vec<JoinHandle<()>>,
    health: Option<HealthServer>,
    /// What `/readyz` checks besides the instances.
    state: Arc<dyn StateStore>,
    queue: Arc<dyn JobQueue>,
}

/// Delay before retrying a failed first load: doubles from 1 s up to 30 s.
fn load_backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30))
}

/// Where and how the read model's snapshots are kept (see [`crate::snapshot`]).
#[derive(Debug, Clone)]
struct Snapshots {
    dir: std::path::PathBuf,
    interval: Duration,
    max_age: Duration,
}

impl Snapshots {
    fn of(settings: &AdapterSettings) -> Option<Self> {
        settings.snapshot_dir.clone().map(|dir| Self {
            dir,
            interval: settings.snapshot_interval,
            max_age: settings.snapshot_max_age,
        })
    }

    /// Fills `instance` from its snapshot when there is a usable one; true when it did. A
    /// snapshot that cannot be used is deleted, and the instance loads as if there were none.
    async fn restore(&self, instance: &Instance, events: &dyn EventBus) -> bool {
        let (dir, name, max_age) = (self.dir.clone(), instance.name.clone(), self.max_age);
        let read = tokio::task::spawn_blocking(move || crate::snapshot::read(&dir, &name, max_age, now_millis())).await;
        let snapshot = match read {
            Ok(Ok(snapshot)) => snapshot,
            Ok(Err(crate::snapshot::Discarded::Missing)) => return false,
            Ok(Err(why)) => {
                tracing::warn!(instance = %instance.name, reason = %why, "read-model snapshot discarded; loading everything");
                crate::snapshot::remove(&self.dir, &instance.name);
                return false;
            }
            Err(e) => {
                tracing::error!(instance = %instance.name, error = %e, "reading the read-model snapshot failed");
                return false;
            }
        };
        let age = Duration::from_millis(u64::try_from(now_millis() - snapshot.written_at).unwrap_or(0));
        let began = std::time::Instant::now();
        let report = match instance.restore(snapshot.fetched).await {
            Ok(Some(report)) => report,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(instance = %instance.name, error = format!("{e:#}"), "restoring the read-model snapshot failed; loading everything");
                return false;
            }
        };
        let replayed = match snapshot.events_after {
            Some(after) => match replication::replay(events, instance, job_queue::EventId(after)).await {
                Ok(n) => n,
                Err(e) => {
                    // Attributes, meta and tombstones came from the state store; the resync that
                    // follows brings the Secret Server side up to date.
                    tracing::warn!(instance = %instance.name, error = %e, "cannot replay the changes since the snapshot; the resync will catch up");
                    0
                }
            },
            None => 0,
        };
        instance.mark_loaded(age);
        tracing::info!(
            instance = %instance.name,
            records = report.records,
            changes_replayed = replayed,
            snapshot_age_seconds = age.as_secs(),
            seconds = format!("{:.2}", began.elapsed().as_secs_f64()),
            "read model restored from its snapshot; resyncing with Secret Server"
        );
        true
    }

    /// Writes the snapshot of every loaded instance. Without the events stream's position (Redis
    /// unreachable) the previous snapshot is kept: a restore must know where to replay from.
    async fn write_all(&self, instances: &[Arc<Instance>], events: &dyn EventBus) {
        let after = match tokio::time::timeout(Duration::from_secs(5), events.last_id()).await {
            Ok(Ok(id)) => id.map(|id| id.0),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the events stream's position; the previous snapshot is kept");
                return;
            }
            Err(_) => {
                tracing::warn!("the events stream's position took too long; the previous snapshot is kept");
                return;
            }
        };
        for instance in instances {
            let Some(fetched) = instance.capture() else { continue };
            let (dir, name, after) = (self.dir.clone(), instance.name.clone(), after.clone());
            let began = std::time::Instant::now();
            let written = tokio::task::spawn_blocking(move || {
                crate::snapshot::write(&dir, &name, &fetched, after.as_deref(), now_millis())
            })
            .await;
            match written {
                Ok(Ok(())) => tracing::debug!(instance = %instance.name, seconds = began.elapsed().as_secs_f64(),
                    "read-model snapshot written"),
                Ok(Err(e)) => {
                    tracing::warn!(instance = %instance.name, error = %e, "cannot write the read-model snapshot")
                }
                Err(e) => {
                    tracing::error!(instance = %instance.name, error = %e, "writing the read-model snapshot failed")
                }
            }
        }
    }

    /// Writes the snapshots every `interval` until `cancel`.
    async fn write_loop(self, instances: Vec<Arc<Instance>>, events: Arc<dyn EventBus>, cancel: CancellationToken) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticks.tick() => self.write_all(&instances, events.as_ref()).await,
            }
        }
    }
}

/// The first load of an instance (from its snapshot when there is a usable one, then a resync at
/// once; otherwise from Secret Server, retried until it succeeds), then its resync loop.
async fn sync_loop(
    instance: Arc<Instance>,
    interval: Duration,
    snapshots: Option<Snapshots>,
    events: Arc<dyn EventBus>,
    cancel: CancellationToken,
) {
    let restored = match &snapshots {
        Some(snapshots) => snapshots.restore(&instance, events.as_ref()).await,
        None => false,
    };
    if restored && let Err(e) = instance.sync().await {
        tracing::error!(instance = %instance.name, error = format!("{e:#}"),
            "catching up with Secret Server after restoring the snapshot failed; the next resync tries again");
    }
    let mut attempt = 0;
    // After a failed attempt, the other instances' follower runs and passes this one's events over
    // (see `replication::follow`): what other replicas change while the next attempt reads Secret
    // Server is replayed once it has.
    let mut since = None;
    while !instance.is_loaded() {
        if attempt > 0 && since.is_none() {
            since = events.last_id().await.ok().flatten();
        }
        match instance.sync().await {
            Ok(_) => {
                if let Some(after) = since.take()
                    && let Err(e) = replication::replay(events.as_ref(), &instance, after).await
                {
                    tracing::warn!(instance = %instance.name, error = %e,
                        "cannot replay the changes made while the instance loaded; the next resync catches up");
                }
                break;
            }
            Err(e) => {
                let wait = load_backoff(attempt);
                attempt += 1;
                tracing::error!(instance = %instance.name, error = format!("{e:#}"), retry_in = ?wait,
                    "the first load from Secret Server failed");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticks.tick() => {
                if let Err(e) = instance.sync().await {
                    tracing::error!(instance = %instance.name, error = format!("{e:#}"), "resync with Secret Server failed");
                }
            }
        }
    }
}

/// Publishes the read model's age every few seconds.
async fn age_loop(instances: Vec<Arc<Instance>>, cancel: CancellationToken) {
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticks.tick() => {
                for instance in &instances {
                    if let Some(age) = instance.age() {
                        crate::metrics::read_model_age(&instance.name, age);
                    }
                }
            }
        }
    }
}

/// Starts the adapter.
///
/// # Errors
/// Invalid settings (naming the setting), a listener that cannot be bound, a Secret Server
/// client configuration that cannot work, or a state store that cannot give the cursor key. Secret Server being unreachable is not an error here:
/// the first load is retried in the background and [`RunningAdapter::wait_ready`] tells when it
/// is done.
pub async fn start(settings: AdapterSettings, deps: AdapterDeps) -> anyhow::Result<RunningAdapter> {
    settings.validate()?;
    let mut instances = HashMap::new();
    for config in &settings.instances {
        let client = SecretServerClient::new(config.client.clone())
            .with_context(|| format!("Secret Server instance '{}'", config.name))?;
        let options = FetchOptions {
            instance: config.name.clone(),
            concurrency: settings.load_concurrency,
            progress_bars: settings.progress_bars,
            removal_bound: settings.resync_removal_bound,
        };
        let mut protection = Protection::new(&config.name, &config.client.username, &config.protected);
        if let Some(group) = config.console_group.as_deref() {
            protection = protection.with_console_group(group);
        }
        let mut instance = Instance::new(&config.name, client, deps.state.clone(), options, protection)
            .with_events(deps.events.clone());
        if let Some(group) = config.console_group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            instance = instance.with_console_group(group.to_owned(), config.client.clone());
        }
        instances.insert(config.name.to_ascii_lowercase(), Arc::new(instance));
    }
    let key = crate::cursor_key::resolve(settings.cursor_secret.as_ref(), deps.state.as_ref())
        .await
        .context("cannot read or create the cursor key in the state store")?;
    let cursors = CursorCodec::new(&key, settings.cursor_timeout.as_secs());
    let version_tags = Arc::new(crate::meta::VersionTags::new(&key));
    let core = Arc::new(Core {
        instances,
        connections: deps.connections.clone(),
        schemas: Arc::new(Schemas::standard()),
        events: deps.events.clone(),
        expensive: ExpensiveWork::new(settings.expensive_per_connection),
        version_tags,
        settings: settings.clone(),
        freshness: settings
            .replica_id
            .as_ref()
            .map(|_| Arc::new(replication::Freshness::new(settings.read_fence_wait))),
    });
    let cancel = CancellationToken::new();

    let listener = tokio::net::TcpListener::bind(settings.grpc_listen)
        .await
        .with_context(|| format!("cannot listen on {} (grpc_listen)", settings.grpc_listen))?;
    let grpc_addr = listener.local_addr()?;
    let check = crate::grpc_auth::RequireSecret::new(settings.grpc_secret.as_ref());
    let service = DirectoryServer::with_interceptor(DirectoryService::new(core.clone(), cursors), check.clone());
    // The same check guards the admin service: no admin call without the gateway's credentials.
    let admin = AdminServer::with_interceptor(AdminService::new(core.clone()), check);
    let shutdown = cancel.clone();
    let shutdown = async move { shutdown.cancelled().await };
    let mut server = tonic::transport::Server::builder();
    if let Some(age) = settings.max_connection_age {
        // Callers reconnect now and then, so that their calls spread over the replicas again (a
        // replica that started later would otherwise get no connection until one breaks).
        server = server.max_connection_age(age);
    }
    let server = server.add_service(service).add_service(admin);
    let http_tls = match &settings.grpc_tls {
        Some(files) => Some(transport_tls::ServerTls::load(files, settings.tls_poll)?),
        None => None,
    };
    let grpc = match (&settings.grpc_tls, &settings.grpc_client_ca) {
        (Some(files), client_ca) => {
            let incoming = match client_ca {
                Some(ca) => {
                    let files = transport_tls::MutualTlsFiles {
                        cert: files.cert.clone(),
                        key: files.key.clone(),
                        client_ca: ca.clone(),
                    };
                    transport_tls::GrpcServerTls::load(&files, settings.tls_poll)?.incoming(listener).boxed()
                }
                None => transport_tls::GrpcServerTls::without_client_certificates(files, settings.tls_poll)?
                    .incoming(listener)
                    .boxed(),
            };
            tokio::spawn(server.serve_with_incoming_shutdown(incoming, shutdown))
        }
        (None, _) => {
            // Without TCP_NODELAY, small answers wait for the peer's delayed ACK (tens of milliseconds).
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tokio::spawn(server.serve_with_incoming_shutdown(incoming, shutdown))
        }
    };

    let health = match settings.http_listen {
        Some(addr) => Some(http::start(addr, core.clone(), deps.state.clone(), deps.queue.clone(), http_tls)?),
        None => None,
    };

    let mut background = Vec::new();
    for instance in core.instances.values() {
        background.push(tokio::spawn(sync_loop(
            instance.clone(),
            settings.resync_interval,
            Snapshots::of(&settings),
            deps.events.clone(),
            cancel.clone(),
        )));
    }
    if let Some(snapshots) = Snapshots::of(&settings) {
        background.push(tokio::spawn(snapshots.write_loop(
            core.instances.values().cloned().collect(),
            deps.events.clone(),
            cancel.clone(),
        )));
    }
    background.push(tokio::spawn(age_loop(core.instances.values().cloned().collect(), cancel.clone())));
    if let (Some(replica), Some(freshness)) = (&settings.replica_id, &core.freshness) {
        background.push(tokio::spawn(replication::follow(
            core.clone(),
            replica.clone(),
            freshness.clone(),
            cancel.clone(),
        )));
    }

    let worker = Arc::new(Worker::new(core.clone()));
    let queue = deps.queue.clone();
    let worker_cancel = cancel.clone();
    let workers = tokio::spawn(keep_workers_running(queue, worker, settings.workers, worker_cancel));

    tracing::info!(grpc = %grpc_addr, http = ?health.as_ref().map(|h| h.addr), instances = core.instances.len(),
        "secret-server adapter started");
    Ok(RunningAdapter {
        grpc_addr,
        core,
        cancel,
        grpc,
        workers,
        background,
        health,
        state: deps.state.clone(),
        queue: deps.queue.clone(),
    })
}

/// Runs the job workers until `cancel`. A pool that ends with an error (the queue unreachable
/// when the adapter starts, or lost beyond the pool's own retries) is started again after a
/// pause that doubles up to 10 s: an adapter that serves reads never stops taking jobs for good.
async fn keep_workers_running(
    queue: Arc<dyn JobQueue>,
    handler: Arc<dyn job_queue::JobHandler>,
    workers: usize,
    cancel: CancellationToken,
) -> Result<(), job_queue::QueueError> {
    let mut pause = Duration::from_millis(200);
    loop {
        match queue.run_workers(Arc::clone(&handler), workers, cancel.clone()).await {
            Ok(()) => return Ok(()),
            // A setting no retry changes.
            Err(e @ job_queue::QueueError::Config(_)) => return Err(e),
            Err(e) if cancel.is_cancelled() => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, retry_in = ?pause, "the job workers stopped; starting them again");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = cancel.cancelled() => return Ok(()),
                }
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        }
    }
}

impl RunningAdapter {
    /// What `/readyz` answers now (also without the HTTP listener).
    pub async fn readiness(&self) -> telemetry::actix::Readiness {
        http::readiness(self.core.clone(), self.state.clone(), self.queue.clone()).await
    }

    /// The gRPC `Directory` address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The shared secret its gRPC callers must present (`None`: client certificates only).
    pub fn grpc_secret(&self) -> Option<&secrecy::SecretString> {
        self.core.settings.grpc_secret.as_ref()
    }

    /// What a client in the same process presents to this adapter over plain gRPC: its secret.
    pub fn client_auth(&self) -> adapter_api::client::AdapterAuth {
        adapter_api::client::AdapterAuth { secret: self.grpc_secret().cloned(), tls: None }
    }

    /// The per-connection bound on expensive work (for tests and operators' tools).
    pub fn expensive_work(&self) -> &ExpensiveWork {
        &self.core.expensive
    }

    /// The `/healthz` `/readyz` `/metrics` address, when served.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(|h| h.addr)
    }

    /// The provisioning job handler the workers run, for tools and tests that run a job by hand
    /// (`JobQueue::try_execute_job`, or a redelivery).
    pub fn job_handler(&self) -> Arc<dyn job_queue::JobHandler> {
        Arc::new(Worker::new(self.core.clone()))
    }

    /// Waits until every instance's first load has finished.
    ///
    /// # Errors
    /// When `timeout` passes first, naming the instances still loading and their last error.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        for instance in self.core.instances.values() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !instance.wait_loaded(left).await {
                anyhow::bail!(
                    "Secret Server instance '{}' is not loaded after {timeout:?}{}",
                    instance.name,
                    instance.last_error().map(|e| format!(": {e}")).unwrap_or_default()
                );
            }
        }
        Ok(())
    }

    /// Resyncs every instance with Secret Server now and waits for it (tests; the periodic resync
    /// does the same on its own).
    ///
    /// # Errors
    /// The first instance whose resync failed.
    pub async fn resync_now(&self) -> anyhow::Result<()> {
        for instance in self.core.instances.values() {
            instance.sync().await.with_context(|| format!("resync of instance '{}'", instance.name))?;
        }
        Ok(())
    }

    /// Stops serving: jobs in progress finish first; then the listeners close.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        match self.workers.await {
            Ok(Err(e)) => tracing::error!(error = %e, "the workers stopped with an error"),
            Err(e) => tracing::error!(error = %e, "the workers task failed"),
            Ok(Ok(())) => {}
        }
        if let Err(e) = self.grpc.await.unwrap_or(Ok(())) {
            tracing::error!(error = %e, "the gRPC server stopped with an error");
        }
        if let Some(health) = self.health {
            health.stop().await;
        }
        for task in self.background {
            task.abort();
            let _ = task.await;
        }
        // After the workers: the snapshot holds every change they wrote through.
        if let Some(snapshots) = Snapshots::of(&self.core.settings) {
            let instances: Vec<_> = self.core.instances.values().cloned().collect();
            snapshots.write_all(&instances, self.core.events.as_ref()).await;
        }
        tracing::info!("secret-server adapter stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_queue::testing::FaultyQueue;
    use job_queue::{Disposition, InProcessQueue, NewJob, QueueConfig};

    struct Done;

    #[async_trait::async_trait]
    impl job_queue::JobHandler for Done {
        async fn handle(&self, _job: job_queue::Job) -> Disposition {
            Disposition::Succeeded(bytes::Bytes::from_static(b"done"))
        }
    }

    #[tokio::test]
    async fn workers_that_could_not_start_are_started_again_and_take_the_jobs_waiting() {
        let queue = Arc::new(FaultyQueue::new(Arc::new(InProcessQueue::new(&QueueConfig::default()).unwrap())));
        queue.fail_worker_starts(2);
        let job = NewJob {
            idempotency_key: "k".into(),
            fingerprint: String::new(),
            ordering_key: "primary/User/1".into(),
            payload: bytes::Bytes::from_static(b"{}"),
            secrets: bytes::Bytes::new(),
            trace_context: Default::default(),
        };
        let id = queue.submit(job).await.unwrap().job_id;
        let cancel = CancellationToken::new();
        let running = tokio::spawn(keep_workers_running(queue.clone(), Arc::new(Done), 1, cancel.clone()));
        let state = queue.wait(&id, Duration::from_secs(30)).await.unwrap().unwrap();
        assert_eq!(state.status, job_queue::JobStatus::Succeeded);
        assert_eq!(queue.worker_starts(), 3, "two failed starts, then one that took the job");
        cancel.cancel();
        running.await.unwrap().unwrap();
    }
}
