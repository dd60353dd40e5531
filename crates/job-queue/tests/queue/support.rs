//! What every test needs: a backend with its own key prefix, handlers built
//! from closures, and a Redis that must be there.

use bytes::Bytes;
use futures::future::BoxFuture;
use job_queue::{Backends, Disposition, Job, JobHandler, NewJob, QueueConfig, TraceContext, connect};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The Redis the tests use: `REDIS_URL`, or the local default.
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A prefix no other test (or earlier run) uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    format!("jqtest-{test}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
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
            redis_url: (kind == Kind::Redis).then(|| SecretString::from(redis_url())),
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
        trace_context: TraceContext::new(),
    }
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
