//! What every test needs: a backend with its own key prefix, handlers built
//! from closures, and a Redis that must be there.

use bytes::Bytes;
use futures::future::BoxFuture;
use job_queue::{Backends, Disposition, Job, JobHandler, NewJob, QueueConfig, TraceContext, connect};
use redis_connect::RedisSettings;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The Redis the tests use: `REDIS_URL`, or the local default.
pub(crate) fn redis_url() -> String {
    test_support::redis_url()
}

/// A prefix no other test (or earlier run) uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    test_support::unique_prefix(&format!("jqtest-{test}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    InProcess,
    Redis,
}

/// One backend under test, with settings short enough for tests.
pub(crate) struct Harness {
    pub kind: Kind,
    pub config: QueueConfig,
    first: OnceCell<Backends>,
}

impl Harness {
    pub(crate) fn new(kind: Kind, test: &str, tweak: impl FnOnce(&mut QueueConfig)) -> Self {
        let mut config = QueueConfig {
            redis: (kind == Kind::Redis).then(|| RedisSettings::url(redis_url())),
            prefix: unique_prefix(test),
            visibility_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            maintenance_interval: Duration::from_millis(100),
            ..QueueConfig::default()
        };
        tweak(&mut config);
        Self { kind, config, first: OnceCell::new() }
    }

    /// The backends; the first call connects, later ones share them.
    pub(crate) async fn backends(&self) -> Backends {
        self.first.get_or_init(|| connect_or_fail(&self.config)).await.clone()
    }

    /// Another handle on the same queue, as a second process would have (the
    /// in-process backend has no other process: it hands out the same one).
    pub(crate) async fn another_handle(&self) -> Backends {
        match self.kind {
            Kind::InProcess => self.backends().await,
            Kind::Redis => connect_or_fail(&self.config).await,
        }
    }
}

pub(crate) async fn connect_or_fail(config: &QueueConfig) -> Backends {
    match connect(config).await {
        Ok(b) => b,
        Err(e) => panic!("the queue backend is required for this test and is not reachable ({}): {e}", redis_url()),
    }
}

impl Drop for Harness {
    /// Leaves the shared Redis as it was found.
    fn drop(&mut self) {
        if self.kind == Kind::Redis {
            delete_prefix(&redis_url(), &self.config.prefix);
        }
    }
}

pub(crate) fn delete_prefix(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else { return };
    let Ok(mut conn) = client.get_connection() else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(&mut conn).unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<i64, _> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
    }
}

pub(crate) fn job(idempotency_key: &str, ordering_key: &str, payload: &str) -> NewJob {
    NewJob {
        idempotency_key: idempotency_key.to_owned(),
        fingerprint: String::new(),
        ordering_key: ordering_key.to_owned(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        secrets: Bytes::new(),
        trace_context: TraceContext::new(),
    }
}

/// A job whose `secrets` hold `secret`.
pub(crate) fn job_with_secrets(idempotency_key: &str, ordering_key: &str, payload: &str, secret: &str) -> NewJob {
    NewJob { secrets: Bytes::copy_from_slice(secret.as_bytes()), ..job(idempotency_key, ordering_key, payload) }
}

/// A handler made of an async closure.
pub(crate) struct FnHandler<F>(pub F);

#[async_trait::async_trait]
impl<F> JobHandler for FnHandler<F>
where
    F: Fn(Job) -> BoxFuture<'static, Disposition> + Send + Sync + 'static,
{
    async fn handle(&self, job: Job) -> Disposition {
        (self.0)(job).await
    }
}

pub(crate) fn handler<F>(f: F) -> Arc<dyn JobHandler>
where
    F: Fn(Job) -> BoxFuture<'static, Disposition> + Send + Sync + 'static,
{
    Arc::new(FnHandler(f))
}

/// Succeeds with the payload read back to front.
pub(crate) fn reversing() -> Arc<dyn JobHandler> {
    handler(|job| {
        Box::pin(async move {
            let mut bytes = job.payload.to_vec();
            bytes.reverse();
            Disposition::Succeeded(Bytes::from(bytes))
        })
    })
}

/// Generous bound for anything that should happen "soon": a liveness check, not a timing claim.
pub(crate) const SOON: Duration = Duration::from_secs(20);

/// Numbered jobs (`<label>-<n>`, payload `n`, ten ordering keys) submitted one after another while
/// four workers run them: the load of the tests that disrupt Redis mid-stream and then check that
/// every job acknowledged to its submitter ran to success.
pub(crate) struct JobStream {
    queue: Arc<dyn job_queue::JobQueue>,
    total: u32,
    acknowledged: Arc<parking_lot::Mutex<Vec<(u32, job_queue::JobId)>>>,
    ran: Arc<parking_lot::Mutex<std::collections::BTreeSet<u32>>>,
    submitter: tokio::task::JoinHandle<Result<(), job_queue::QueueError>>,
    workers: tokio::task::JoinHandle<Result<(), job_queue::QueueError>>,
    stop: tokio_util::sync::CancellationToken,
}

impl JobStream {
    pub(crate) fn start(queue: Arc<dyn job_queue::JobQueue>, label: &str, total: u32) -> Self {
        let ran = Arc::new(parking_lot::Mutex::new(std::collections::BTreeSet::new()));
        let work = handler({
            let ran = ran.clone();
            move |job| {
                let n: u32 = std::str::from_utf8(&job.payload).unwrap().parse().unwrap();
                ran.lock().insert(n);
                Box::pin(async move { Disposition::Succeeded(job.payload) })
            }
        });
        let stop = tokio_util::sync::CancellationToken::new();
        let workers = tokio::spawn({
            let (queue, stop) = (queue.clone(), stop.clone());
            async move { queue.run_workers(work, 4, stop).await }
        });
        let acknowledged = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let submitter = tokio::spawn({
            let (queue, acknowledged, label) = (queue.clone(), acknowledged.clone(), label.to_owned());
            async move {
                for n in 0..total {
                    let submitted =
                        queue.submit(job(&format!("{label}-{n}"), &format!("User/{}", n % 10), &n.to_string())).await?;
                    acknowledged.lock().push((n, submitted.job_id));
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                Ok(())
            }
        });
        Self { queue, total, acknowledged, ran, submitter, workers, stop }
    }

    /// How many submissions were acknowledged so far.
    pub(crate) fn acknowledged(&self) -> usize {
        self.acknowledged.lock().len()
    }

    /// Waits for the last submission (`why` says what they must wait out instead of failing),
    /// then checks that every acknowledged job ran to success, and stops the workers.
    pub(crate) async fn every_acknowledged_job_succeeds(self, why: &str, acknowledged_before_the_disruption: usize) {
        self.submitter.await.unwrap().unwrap_or_else(|e| panic!("{why}: {e:?}"));
        let acknowledged = self.acknowledged.lock().clone();
        assert_eq!(acknowledged.len(), self.total as usize);
        assert!(
            acknowledged_before_the_disruption < self.total as usize,
            "the disruption happened while submissions were going on"
        );
        for (n, id) in &acknowledged {
            let state = wait_final(self.queue.as_ref(), id).await.unwrap_or_else(|| panic!("job {n} ({id}) was lost"));
            assert_eq!(state.status, job_queue::JobStatus::Succeeded, "job {n}");
            assert_eq!(state.result.as_deref(), Some(n.to_string().as_bytes()));
        }
        assert_eq!(self.ran.lock().len(), self.total as usize, "every acknowledged job ran");
        self.stop.cancel();
        self.workers.await.unwrap().unwrap();
    }
}

/// The job's final state, waiting through redeliveries (up to [`SOON`]); `None` when the queue
/// does not know it.
async fn wait_final(queue: &dyn job_queue::JobQueue, id: &job_queue::JobId) -> Option<job_queue::JobState> {
    let deadline = std::time::Instant::now() + SOON;
    loop {
        let state = queue.wait(id, Duration::from_secs(1)).await.expect("the queue answers after the disruption")?;
        if state.status.is_final() || std::time::Instant::now() > deadline {
            return Some(state);
        }
    }
}
