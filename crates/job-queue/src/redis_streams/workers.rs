//! `run_workers` on Redis: a reader that fills the free worker slots (first
//! with stalled jobs it reclaims, then by blocking on the ready stream), a
//! scheduler that promotes due retries, trims streams and publishes metrics,
//! and one task per running job.
//!
//! A graceful shutdown stops reading, lets the jobs in progress run for `release_after`, then
//! releases those still running: their handlers are dropped and each attempt is recorded as a
//! retry, so that the job returns to the queue at once for another worker (rather than after its
//! visibility timeout). A handler stopped halfway is safe: handlers are idempotent, and fencing
//! keeps a released attempt's outcome out.

use super::batch::Batcher;
use super::conn;
use super::queue::{Cycle, Cycled, Inner, Recorded, Taken, cycle_batcher, report};
use crate::{Disposition, JobHandler, QueueError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long one `XREADGROUP` blocks; it bounds how long a graceful shutdown
/// waits for the reader (a new job wakes the reader at once).
const READ_BLOCK: Duration = Duration::from_secs(1);
/// Trimming, metrics and consumer clean-up need not run at every maintenance tick.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10);

struct Pool {
    inner: Arc<Inner>,
    handler: Arc<dyn JobHandler>,
    consumer: String,
    slots: Arc<Semaphore>,
    tasks: TaskTracker,
    /// Cancelled when `run_workers` is dropped without a graceful shutdown:
    /// every task stops at once, as in a crash.
    killed: CancellationToken,
    /// Cancelled when a graceful shutdown has waited `release_after` for the jobs in progress.
    release: CancellationToken,
    /// A retry was scheduled: the scheduler should look at the delayed set.
    retry_scheduled: Notify,
    /// Ends of attempts: outcomes recorded and next jobs started, batched.
    cycles: Batcher<Cycle, Cycled>,
    /// Once cancelled, ended attempts start no new job.
    shutdown: CancellationToken,
}

pub(super) async fn run(
    inner: Arc<Inner>,
    handler: Arc<dyn JobHandler>,
    concurrency: usize,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
    if concurrency == 0 {
        return Err(QueueError::Config("run_workers needs a concurrency of at least 1".to_owned()));
    }
    inner.ensure_group().await?;
    let killed = CancellationToken::new();
    let _kill_on_drop = killed.clone().drop_guard();
    let consumer = inner.new_consumer();
    let pool = Arc::new(Pool {
        cycles: cycle_batcher(&inner, consumer.clone()),
        shutdown: shutdown.clone(),
        consumer,
        inner,
        handler,
        slots: Arc::new(Semaphore::new(concurrency)),
        tasks: TaskTracker::new(),
        killed,
        release: CancellationToken::new(),
        retry_scheduled: Notify::new(),
    });
    tracing::info!(consumer = %pool.consumer, concurrency, queue = %pool.inner.config.queue, "job workers started");
    let scheduler = pool.tasks.spawn(Arc::clone(&pool).scheduler(shutdown.clone()));
    let read = Arc::clone(&pool).reader(concurrency, shutdown.clone()).await;
    // Graceful: the jobs in progress finish and record their outcomes, or are released.
    pool.tasks.close();
    if tokio::time::timeout(pool.inner.config.release_after, pool.tasks.wait()).await.is_err() {
        tracing::warn!(jobs = pool.tasks.len(), "jobs still running at shutdown; releasing them to other workers");
        pool.release.cancel();
        pool.tasks.wait().await;
    }
    drop(scheduler);
    tracing::info!(consumer = %pool.consumer, "job workers stopped");
    read
}

impl Pool {
    async fn reader(self: Arc<Self>, concurrency: usize, shutdown: CancellationToken) -> Result<(), QueueError> {
        let inner = &self.inner;
        let mut conn = conn::manager(&inner.redis, READ_BLOCK + inner.config.op_timeout).await?;
        let mut backoff = Duration::from_millis(50);
        let mut next_reclaim = Instant::now();
        let mut cursor = "0-0".to_owned();
        // While jobs are waiting, one script reads and starts them (one round trip); once it finds
        // the stream drained, the reader blocks on `XREADGROUP` until the next job arrives.
        let mut waiting = true;
        while !shutdown.is_cancelled() {
            let first = tokio::select! {
                permit = Arc::clone(&self.slots).acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => return Ok(()),
                },
                _ = shutdown.cancelled() => break,
            };
            let mut slots = vec![first];
            while slots.len() < concurrency {
                match Arc::clone(&self.slots).try_acquire_owned() {
                    Ok(p) => slots.push(p),
                    Err(_) => break,
                }
            }
            // The reader holds the free slots, so reclaiming happens here too.
            let now = Instant::now();
            if now >= next_reclaim {
                next_reclaim = now + inner.config.maintenance_interval;
                match inner.reclaim(&self.consumer, &mut cursor, slots.len()).await {
                    Ok(entries) if !entries.is_empty() => {
                        self.start(entries, false, &mut slots).await;
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reclaiming stalled jobs failed"),
                }
            }
            if waiting {
                match inner.read_take(&self.consumer, slots.len()).await {
                    Ok((0, _)) => waiting = false,
                    Ok((_, taken)) => {
                        self.spawn_taken(taken, &mut slots);
                        continue;
                    }
                    Err(e) => {
                        // The blocking read below reports (and recovers from) what went wrong.
                        tracing::debug!(error = %e, "reading and starting jobs in one call failed");
                        waiting = false;
                    }
                }
            }
            let block =
                READ_BLOCK.min(next_reclaim.saturating_duration_since(Instant::now())).max(Duration::from_millis(1));
            // Not cancelled mid-read: entries the server hands out must reach a worker.
            let entries = match inner.read_new(&mut conn, &self.consumer, slots.len(), Some(block)).await {
                Ok(entries) => {
                    backoff = Duration::from_millis(50);
                    entries
                }
                Err(e) => {
                    if conn::is_nogroup(&e) {
                        tracing::warn!("the worker group vanished (Redis lost its data?); recreating it");
                        let _ = inner.ensure_group().await;
                    } else {
                        tracing::warn!(error = %e, "reading the job stream failed; retrying");
                    }
                    drop(slots);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            if !entries.is_empty() {
                self.start(entries, true, &mut slots).await;
                waiting = true;
            }
        }
        Ok(())
    }

    /// Starts the jobs of delivered entries, one slot each.
    async fn start(
        self: &Arc<Self>,
        entries: Vec<super::reply::Entry>,
        fresh: bool,
        slots: &mut Vec<OwnedSemaphorePermit>,
    ) {
        match self.inner.take(&self.consumer, entries, fresh).await {
            Ok(taken) => self.spawn_taken(taken, slots),
            // The entries stay pending for this consumer and are reclaimed after
            // the visibility timeout.
            Err(e) => tracing::error!(error = %e, "could not start delivered jobs"),
        }
    }

    /// Runs started jobs, one slot each.
    fn spawn_taken(self: &Arc<Self>, taken: Vec<Taken>, slots: &mut Vec<OwnedSemaphorePermit>) {
        for job in taken {
            let Some(slot) = slots.pop() else {
                tracing::error!("more jobs than free slots; the extra job will be reclaimed");
                break;
            };
            self.spawn_job(job, slot);
        }
    }

    /// Runs a job in its slot, then, while the slot's cycle hands it one, the next waiting job:
    /// a busy worker process records outcomes and starts the next jobs in one call per cycle.
    fn spawn_job(self: &Arc<Self>, taken: Taken, slot: OwnedSemaphorePermit) {
        let pool = Arc::clone(self);
        self.tasks.spawn(async move {
            let _slot = slot;
            let mut taken = taken;
            loop {
                let disposition = tokio::select! {
                    disposition = pool.inner.attempt(pool.handler.as_ref(), &pool.consumer, &taken) => disposition,
                    _ = pool.killed.cancelled() => return,
                    _ = pool.release.cancelled() => return pool.release_job(&taken).await,
                };
                // Not interrupted by the release: jobs the call starts must reach this slot.
                let wants_next = !pool.shutdown.is_cancelled();
                let cycled = tokio::select! {
                    cycled = pool.inner.cycle(&pool.cycles, &pool.consumer, &taken, disposition, wants_next) => cycled,
                    _ = pool.killed.cancelled() => return,
                };
                let (recorded, next) = match cycled {
                    Ok((recorded, next)) => (Ok(recorded), next),
                    Err(e) => (Err(e), None),
                };
                if let Some(Recorded::Retry(_)) = report(&taken, recorded) {
                    pool.retry_scheduled.notify_one();
                }
                match next {
                    Some(next) => taken = next,
                    None => return,
                }
            }
        });
    }

    /// Records a running job's attempt as a retry due at once (its handler was dropped); when Redis
    /// cannot be reached in time, the job comes back after its visibility timeout instead.
    async fn release_job(&self, taken: &Taken) {
        let disposition = Disposition::Retry {
            error: "released: the worker shut down before the job finished".to_owned(),
            after: Some(Duration::ZERO),
        };
        let recorded = tokio::time::timeout(self.inner.config.op_timeout.min(Duration::from_secs(2)), async {
            self.inner.record(&self.consumer, taken, disposition).await
        })
        .await;
        match recorded {
            Ok(Ok(_)) => tracing::info!(job_id = %taken.job.id, "released a running job to the queue"),
            Ok(Err(e)) => tracing::warn!(job_id = %taken.job.id, error = %e,
                "could not release a running job; it returns after its visibility timeout"),
            Err(_) => tracing::warn!(job_id = %taken.job.id,
                "releasing a running job timed out; it returns after its visibility timeout"),
        }
    }

    async fn scheduler(self: Arc<Self>, shutdown: CancellationToken) {
        let interval = self.inner.config.maintenance_interval;
        let mut next_promote = Instant::now();
        let mut next_housekeeping = Instant::now() + interval.min(HOUSEKEEPING_EVERY);
        loop {
            let until = next_promote.min(next_housekeeping);
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = self.retry_scheduled.notified() => next_promote = Instant::now(),
                _ = shutdown.cancelled() => return,
                _ = self.killed.cancelled() => return,
            }
            let now = Instant::now();
            if now >= next_promote {
                next_promote = match self.inner.promote().await {
                    Ok(Some(due_in)) => now + due_in.min(interval),
                    Ok(None) => now + interval,
                    Err(e) => {
                        tracing::warn!(error = %e, "promoting due retries failed");
                        now + interval
                    }
                };
            }
            if now >= next_housekeeping {
                self.housekeeping().await;
                next_housekeeping = now + interval.max(HOUSEKEEPING_EVERY);
            }
        }
    }

    async fn housekeeping(&self) {
        if let Err(e) = self.inner.trim().await {
            tracing::warn!(error = %e, "trimming the streams failed");
        }
        if let Err(e) = self.inner.forget_idle_consumers().await {
            tracing::warn!(error = %e, "forgetting idle consumers failed");
        }
        if let Err(e) = self.inner.publish_metrics().await {
            tracing::warn!(error = %e, "reading queue metrics failed");
        }
    }
}
