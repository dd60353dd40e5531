//! A queue with faults switched on and off by a test (feature `testing`): it runs on another
//! queue and fails only what it is told to.

use crate::{
    DeadLetter, DeadLetterPage, JobHandler, JobId, JobQueue, JobState, KeyedJob, NewJob, QueueError, QueueMetrics,
    Submitted, Withdrawal,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `inner` with faults: submissions that fail (before or after the job was taken: a write whose
/// confirmation was lost), waits and withdrawals that fail (the queue lost after a submission), and worker pools
/// that fail to start a number of times (Redis unreachable when an adapter starts).
#[derive(Debug)]
pub struct FaultyQueue {
    inner: Arc<dyn JobQueue>,
    submits_fail: AtomicBool,
    submits_fail_after_taking: AtomicBool,
    waits_fail: AtomicBool,
    withdrawals_fail: AtomicBool,
    worker_starts_to_fail: AtomicU32,
    worker_starts: AtomicU32,
}

impl FaultyQueue {
    pub fn new(inner: Arc<dyn JobQueue>) -> Self {
        Self {
            inner,
            submits_fail: AtomicBool::new(false),
            submits_fail_after_taking: AtomicBool::new(false),
            waits_fail: AtomicBool::new(false),
            withdrawals_fail: AtomicBool::new(false),
            worker_starts_to_fail: AtomicU32::new(0),
            worker_starts: AtomicU32::new(0),
        }
    }

    /// From now on every `submit` fails as an unreachable queue does, taking nothing (or works again).
    pub fn fail_submits(&self, fail: bool) {
        self.submits_fail.store(fail, Ordering::SeqCst);
    }

    /// From now on every `submit` takes the job and then fails, as a write whose confirmation was
    /// lost does (or works again).
    pub fn fail_submits_after_taking(&self, fail: bool) {
        self.submits_fail_after_taking.store(fail, Ordering::SeqCst);
    }

    /// From now on every `wait` fails as an unreachable queue does (or works again).
    pub fn fail_waits(&self, fail: bool) {
        self.waits_fail.store(fail, Ordering::SeqCst);
    }

    /// From now on every `withdraw` fails as an unreachable queue does, withdrawing nothing (or
    /// works again).
    pub fn fail_withdrawals(&self, fail: bool) {
        self.withdrawals_fail.store(fail, Ordering::SeqCst);
    }

    /// The next `count` calls of `run_workers` fail at once as an unreachable queue does.
    pub fn fail_worker_starts(&self, count: u32) {
        self.worker_starts_to_fail.store(count, Ordering::SeqCst);
    }

    /// How many times `run_workers` was called.
    pub fn worker_starts(&self) -> u32 {
        self.worker_starts.load(Ordering::SeqCst)
    }

    fn unreachable() -> QueueError {
        QueueError::Unavailable("connection refused (a fault of the test)".to_owned())
    }
}

#[async_trait]
impl JobQueue for FaultyQueue {
    async fn submit(&self, job: NewJob) -> Result<Submitted, QueueError> {
        if self.submits_fail.load(Ordering::SeqCst) {
            return Err(Self::unreachable());
        }
        let submitted = self.inner.submit(job).await?;
        if self.submits_fail_after_taking.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable(
                "1 of 1 replicas did not acknowledge the write (a fault of the test)".to_owned(),
            ));
        }
        Ok(submitted)
    }

    async fn find(&self, idempotency_key: &str) -> Result<Option<KeyedJob>, QueueError> {
        self.inner.find(idempotency_key).await
    }

    async fn wait(&self, id: &JobId, timeout: Duration) -> Result<Option<JobState>, QueueError> {
        if self.waits_fail.load(Ordering::SeqCst) {
            return Err(Self::unreachable());
        }
        self.inner.wait(id, timeout).await
    }

    async fn status(&self, id: &JobId) -> Result<Option<JobState>, QueueError> {
        self.inner.status(id).await
    }

    async fn withdraw(&self, id: &JobId) -> Result<Withdrawal, QueueError> {
        if self.withdrawals_fail.load(Ordering::SeqCst) {
            return Err(Self::unreachable());
        }
        self.inner.withdraw(id).await
    }

    async fn try_execute_job(&self, handler: &dyn JobHandler) -> Result<bool, QueueError> {
        self.inner.try_execute_job(handler).await
    }

    async fn run_workers(
        &self,
        handler: Arc<dyn JobHandler>,
        concurrency: usize,
        shutdown: CancellationToken,
    ) -> Result<(), QueueError> {
        self.worker_starts.fetch_add(1, Ordering::SeqCst);
        let failing = self.worker_starts_to_fail.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(Self::unreachable());
        }
        self.inner.run_workers(handler, concurrency, shutdown).await
    }

    async fn metrics(&self) -> Result<QueueMetrics, QueueError> {
        self.inner.metrics().await
    }

    async fn dead_letters(&self, after: Option<&str>, count: usize) -> Result<DeadLetterPage, QueueError> {
        self.inner.dead_letters(after, count).await
    }

    async fn dead_letter(&self, id: &JobId) -> Result<Option<DeadLetter>, QueueError> {
        self.inner.dead_letter(id).await
    }

    async fn discard_dead_letter(&self, id: &JobId) -> Result<bool, QueueError> {
        self.inner.discard_dead_letter(id).await
    }

    async fn ping(&self) -> Result<(), QueueError> {
        self.inner.ping().await
    }
}
