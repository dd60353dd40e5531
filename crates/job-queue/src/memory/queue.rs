//! The in-process job queue.

use crate::backoff::retry_delay;
use crate::lease::Chain;
use crate::runner::{Renewal, run_handler};
use crate::waiters::{Waiters, wait_for_final};
use crate::{
    DeadLetterPage, Disposition, Job, JobHandler, JobId, JobQueue, JobState, JobStatus, KeyedJob, NewJob, QueueConfig,
    QueueError, QueueMetrics, QueuedJob, Submitted, TraceContext, Withdrawal, metric_names, validate,
};
use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A job queue in this process's memory (see the [module docs](super) for its limits).
#[derive(Clone)]
pub struct InProcessQueue {
    inner: Arc<Inner>,
}

impl fmt::Debug for InProcessQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessQueue").field("queue", &self.inner.config.queue).finish_non_exhaustive()
    }
}

struct Inner {
    config: QueueConfig,
    state: Mutex<State>,
    /// Poked whenever a job may have become ready or a wake-up time moved.
    work: Notify,
    waiters: Arc<Waiters>,
}

#[derive(Default)]
struct State {
    jobs: HashMap<String, StoredJob>,
    idempotency: HashMap<String, String>,
    /// Per ordering key, the unfinished jobs in submission order; only the head may run.
    chains: HashMap<String, VecDeque<String>>,
    ready: VecDeque<String>,
    delayed: BTreeSet<(Instant, u64, String)>,
    leases: HashMap<String, Lease>,
    expiries: BTreeSet<(Instant, String)>,
    dead: VecDeque<DeadLetter>,
    next_seq: u64,
    retries: u64,
    withdrawn: u64,
}

struct StoredJob {
    state: JobState,
    idempotency_key: String,
    fingerprint: String,
    payload: Bytes,
    secrets: Bytes,
    trace_context: TraceContext,
    /// A running attempt of an earlier job of its key has seen it ([`Job::following`]) and may
    /// have carried its change along: it can no longer be withdrawn.
    seen: bool,
}

#[derive(Clone, Copy)]
struct Lease {
    token: u64,
    deadline: Instant,
}

/// A job that gave up, kept for inspection, with its place in the order of dead letters.
#[derive(Debug, Clone)]
struct DeadLetter {
    at: Instant,
    seq: u64,
    letter: crate::DeadLetter,
}

/// What a state change means for those who wait: finished jobs (for their
/// submitters) and whether the ready set or the schedule moved (for workers).
#[derive(Default)]
struct Changes {
    finished: Vec<String>,
    ready: bool,
}

/// What happened to a job whose outcome could be recorded.
enum Recorded {
    Final,
    Retry,
    /// The lease had passed to another attempt; the outcome was discarded.
    Stale,
}

impl InProcessQueue {
    /// A new, empty queue.
    ///
    /// # Errors
    /// [`QueueError::Config`] when the settings are invalid.
    pub fn new(config: &QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                state: Mutex::new(State::default()),
                work: Notify::new(),
                waiters: Arc::new(Waiters::default()),
            }),
        })
    }
}

impl Inner {
    fn take(&self) -> Option<(Job, u64)> {
        let now = Instant::now();
        let mut changes = Changes::default();
        let taken = {
            let mut st = self.state.lock();
            self.maintain(&mut st, now, &mut changes);
            let mut taken = None;
            while let Some(id) = st.ready.pop_front() {
                st.next_seq += 1;
                let token = st.next_seq;
                let Some(stored) = st.jobs.get_mut(&id) else { continue };
                if stored.state.status.is_final() {
                    continue;
                }
                stored.state.attempts += 1;
                stored.state.status = JobStatus::Running;
                stored.state.updated_at = SystemTime::now();
                let job = Job {
                    id: stored.state.job_id.clone(),
                    ordering_key: stored.state.ordering_key.clone(),
                    payload: stored.payload.clone(),
                    secrets: stored.secrets.clone(),
                    trace_context: stored.trace_context.clone(),
                    attempt: stored.state.attempts,
                    lease: crate::JobLease::default(),
                };
                st.leases.insert(id, Lease { token, deadline: now + self.config.visibility_timeout });
                taken = Some((job, token));
                break;
            }
            taken
        };
        self.wake(changes);
        taken
    }

    /// Promotes due retries, reclaims expired leases and forgets expired results.
    fn maintain(&self, st: &mut State, now: Instant, changes: &mut Changes) {
        while let Some((due, _, _)) = st.delayed.first() {
            if *due > now {
                break;
            }
            if let Some((_, _, id)) = st.delayed.pop_first() {
                st.ready.push_back(id);
                changes.ready = true;
            }
        }
        let expired: Vec<String> =
            st.leases.iter().filter(|(_, lease)| lease.deadline <= now).map(|(id, _)| id.clone()).collect();
        for id in expired {
            st.leases.remove(&id);
            let attempts = st.jobs.get(&id).map_or(0, |j| j.state.attempts);
            if attempts >= self.config.max_attempts {
                let error = format!("worker lost: attempt {attempts} passed its visibility timeout");
                self.dead_letter(st, &id, error, now, changes);
            } else {
                tracing::warn!(job_id = %id, attempt = attempts, "job passed its visibility timeout; redelivering");
                st.ready.push_front(id);
                changes.ready = true;
            }
        }
        while let Some((at, _)) = st.expiries.first() {
            if *at > now {
                break;
            }
            if let Some((_, id)) = st.expiries.pop_first()
                && let Some(job) = st.jobs.remove(&id)
                && st.idempotency.get(&job.idempotency_key) == Some(&id)
            {
                st.idempotency.remove(&job.idempotency_key);
            }
        }
        let keep_after = now.checked_sub(self.config.dead_letter_retention);
        while let (Some(front), Some(limit)) = (st.dead.front(), keep_after) {
            if front.at > limit {
                break;
            }
            st.dead.pop_front();
        }
    }

    fn finalize(
        &self,
        st: &mut State,
        id: &str,
        status: JobStatus,
        result: Option<Bytes>,
        now: Instant,
        changes: &mut Changes,
    ) {
        let Some(job) = st.jobs.get_mut(id) else { return };
        job.state.status = status;
        job.state.updated_at = SystemTime::now();
        if result.is_some() {
            job.state.result = result;
        }
        job.payload = Bytes::new();
        job.secrets = Bytes::new();
        let ordering_key = job.state.ordering_key.clone();
        st.expiries.insert((now + self.config.result_ttl, id.to_owned()));
        if let Some(chain) = st.chains.get_mut(&ordering_key) {
            if chain.front().map(String::as_str) == Some(id) {
                chain.pop_front();
                if let Some(next) = chain.front() {
                    st.ready.push_back(next.clone());
                    changes.ready = true;
                }
            } else {
                chain.retain(|queued| queued != id);
            }
            if chain.is_empty() {
                st.chains.remove(&ordering_key);
            }
        }
        changes.finished.push(id.to_owned());
    }

    fn dead_letter(&self, st: &mut State, id: &str, error: String, now: Instant, changes: &mut Changes) {
        // Read before `finalize`, which drops the payload and the secrets; the secrets stay out.
        let letter = st.jobs.get_mut(id).map(|job| {
            tracing::error!(job_id = %id, attempts = job.state.attempts, error = %error, "job dead-lettered");
            job.state.last_error = Some(error.clone());
            crate::DeadLetter {
                job_id: JobId(id.to_owned()),
                ordering_key: job.state.ordering_key.clone(),
                attempts: job.state.attempts,
                error,
                payload: job.payload.clone(),
                trace_context: job.trace_context.clone(),
                at: SystemTime::now(),
            }
        });
        self.finalize(st, id, JobStatus::DeadLettered, None, now, changes);
        if let Some(letter) = letter {
            st.next_seq += 1;
            let seq = st.next_seq;
            st.dead.push_back(DeadLetter { at: now, seq, letter });
        }
    }

    /// Withdraws job `id` if it is queued and never started (see [`JobQueue::withdraw`]).
    fn withdraw(&self, id: &str) -> Withdrawal {
        let now = Instant::now();
        let mut changes = Changes::default();
        let withdrawal = {
            let mut st = self.state.lock();
            self.maintain(&mut st, now, &mut changes);
            let found = st.jobs.get(id);
            match found.map(|job| (job.state.status, job.state.attempts, job.seen, job.state.behind)) {
                None => Withdrawal::Unknown,
                // Withdrawn before: a repeated call says the same.
                Some((JobStatus::Withdrawn, _, _, behind)) => Withdrawal::Withdrawn { behind },
                Some((JobStatus::Queued, 0, false, _)) => {
                    let ordering_key = found.map(|job| job.state.ordering_key.clone()).unwrap_or_default();
                    let heads_its_key =
                        st.chains.get(&ordering_key).and_then(|chain| chain.front()).is_some_and(|front| front == id);
                    if heads_its_key {
                        // Its place among the ready jobs goes with it; the next job of its key takes it.
                        st.ready.retain(|ready| ready != id);
                    }
                    tracing::info!(job_id = %id, behind = !heads_its_key, "job withdrawn before any worker took it");
                    self.finalize(&mut st, id, JobStatus::Withdrawn, None, now, &mut changes);
                    if let Some(job) = st.jobs.get_mut(id) {
                        job.state.behind = !heads_its_key;
                    }
                    st.withdrawn += 1;
                    Withdrawal::Withdrawn { behind: !heads_its_key }
                }
                Some(_) => Withdrawal::Taken,
            }
        };
        self.wake(changes);
        withdrawal
    }

    fn renew(&self, id: &str, token: u64) -> Renewal {
        let mut st = self.state.lock();
        match st.leases.get_mut(id) {
            Some(lease) if lease.token == token => {
                lease.deadline = Instant::now() + self.config.visibility_timeout;
                Renewal::Renewed
            }
            _ => Renewal::Lost,
        }
    }

    fn record(&self, id: &str, token: u64, disposition: Disposition) -> Recorded {
        let now = Instant::now();
        let mut changes = Changes::default();
        let recorded = {
            let mut st = self.state.lock();
            match st.leases.get(id) {
                Some(lease) if lease.token == token => {
                    st.leases.remove(id);
                }
                _ => return Recorded::Stale,
            }
            match disposition {
                Disposition::Succeeded(result) => {
                    self.finalize(&mut st, id, JobStatus::Succeeded, Some(result), now, &mut changes);
                    Recorded::Final
                }
                Disposition::Failed(result) => {
                    self.finalize(&mut st, id, JobStatus::Failed, Some(result), now, &mut changes);
                    Recorded::Final
                }
                Disposition::Retry { error, after } => {
                    let attempts = st.jobs.get(id).map_or(0, |j| j.state.attempts);
                    if attempts >= self.config.max_attempts {
                        self.dead_letter(&mut st, id, error, now, &mut changes);
                        Recorded::Final
                    } else {
                        let delay = retry_delay(attempts, self.config.backoff_base, self.config.backoff_max, after);
                        if let Some(job) = st.jobs.get_mut(id) {
                            job.state.status = JobStatus::Retrying;
                            job.state.last_error = Some(error);
                            job.state.updated_at = SystemTime::now();
                        }
                        st.next_seq += 1;
                        let seq = st.next_seq;
                        st.delayed.insert((now + delay, seq, id.to_owned()));
                        st.retries += 1;
                        // Idle workers must shorten their sleep to the new due time.
                        changes.ready = true;
                        Recorded::Retry
                    }
                }
            }
        };
        self.wake(changes);
        recorded
    }

    fn wake(&self, changes: Changes) {
        for id in &changes.finished {
            self.waiters.wake(id);
        }
        // Only on a real change: a worker that pokes the others on every look
        // would keep them all spinning.
        if changes.ready {
            self.work.notify_waiters();
        }
    }

    /// The next moment something becomes due without anyone poking `work`.
    fn next_wakeup(&self) -> Option<Instant> {
        let st = self.state.lock();
        let due = st.delayed.first().map(|(due, _, _)| *due);
        let lease = st.leases.values().map(|l| l.deadline).min();
        match (due, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The jobs after `id` in its chain, while attempt `token` holds it and it heads the chain,
    /// marked as seen (no longer withdrawable).
    fn following(&self, id: &str, token: u64, max: usize) -> Vec<QueuedJob> {
        let mut st = self.state.lock();
        let st = &mut *st;
        if st.leases.get(id).is_none_or(|lease| lease.token != token) {
            return Vec::new();
        }
        let Some(chain) = st.jobs.get(id).and_then(|job| st.chains.get(&job.state.ordering_key)) else {
            return Vec::new();
        };
        if chain.front().map(String::as_str) != Some(id) {
            return Vec::new();
        }
        let mut seen = Vec::new();
        for next in chain.iter().skip(1).take(max) {
            let Some(job) = st.jobs.get_mut(next).filter(|job| job.state.status == JobStatus::Queued) else { break };
            job.seen = true;
            seen.push(QueuedJob {
                id: job.state.job_id.clone(),
                payload: job.payload.clone(),
                trace_context: job.trace_context.clone(),
            });
        }
        seen
    }

    async fn execute(self: &Arc<Self>, handler: &dyn JobHandler, job: Job, token: u64) {
        let id = job.id.0.clone();
        let renew_every = self.config.visibility_timeout / 3;
        let chain = Arc::new(ChainView { queue: Arc::clone(self), id: id.clone(), token });
        let disposition =
            run_handler(handler, job, renew_every, chain, || std::future::ready(self.renew(&id, token))).await;
        if let Recorded::Stale = self.record(&id, token, disposition) {
            tracing::warn!(job_id = %id, "discarded the outcome of an attempt that lost its lease");
        }
    }

    async fn worker(self: Arc<Self>, handler: Arc<dyn JobHandler>, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some((job, token)) = self.take() {
                self.execute(handler.as_ref(), job, token).await;
                continue;
            }
            let sleep = match self.next_wakeup() {
                Some(at) => tokio::time::sleep_until(at),
                None => tokio::time::sleep(self.config.maintenance_interval.max(Duration::from_secs(60))),
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = sleep => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    fn metrics(&self) -> QueueMetrics {
        let now = SystemTime::now();
        let st = self.state.lock();
        let mut open = 0u64;
        let mut oldest: Option<SystemTime> = None;
        for job in st.jobs.values().filter(|j| !j.state.status.is_final()) {
            open += 1;
            oldest = Some(oldest.map_or(job.state.submitted_at, |o| o.min(job.state.submitted_at)));
        }
        let in_flight = st.leases.len() as u64;
        QueueMetrics {
            depth: open.saturating_sub(in_flight),
            oldest_age: oldest.map(|o| now.duration_since(o).unwrap_or_default()),
            in_flight,
            retries: st.retries,
            withdrawn: st.withdrawn,
            dead_letters: st.dead.len() as u64,
        }
    }
}

/// One attempt's view of its job's chain ([`Job::following`]).
struct ChainView {
    queue: Arc<Inner>,
    id: String,
    token: u64,
}

impl fmt::Debug for ChainView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainView").field("job_id", &self.id).finish_non_exhaustive()
    }
}

#[async_trait]
impl Chain for ChainView {
    async fn following(&self, max: usize) -> Result<Vec<QueuedJob>, QueueError> {
        Ok(self.queue.following(&self.id, self.token, max))
    }
}

#[async_trait]
impl JobQueue for InProcessQueue {
    async fn submit(&self, job: NewJob) -> Result<Submitted, QueueError> {
        validate::new_job(&job, self.inner.config.max_payload_bytes)?;
        let mut changes = Changes::default();
        let submitted = {
            let mut st = self.inner.state.lock();
            self.inner.maintain(&mut st, Instant::now(), &mut changes);
            // The same request again after its job was dead-lettered or withdrawn is a new job under
            // the key.
            let ended_undone = |id: &String| {
                st.jobs.get(id).is_some_and(|j| {
                    matches!(j.state.status, JobStatus::DeadLettered | JobStatus::Withdrawn)
                        && j.fingerprint == job.fingerprint
                })
            };
            match st.idempotency.get(&job.idempotency_key).cloned().filter(|id| !ended_undone(id)) {
                Some(existing) => {
                    let stored = st.jobs.get(&existing).map(|j| j.fingerprint.clone()).unwrap_or_default();
                    if stored == job.fingerprint {
                        Ok(Submitted { job_id: JobId(existing), duplicate: true })
                    } else {
                        Err(QueueError::KeyReused { existing: JobId(existing), fingerprint: stored })
                    }
                }
                None => {
                    let id = uuid::Uuid::now_v7().to_string();
                    let now = SystemTime::now();
                    st.jobs.insert(
                        id.clone(),
                        StoredJob {
                            state: JobState {
                                job_id: JobId(id.clone()),
                                status: JobStatus::Queued,
                                ordering_key: job.ordering_key.clone(),
                                attempts: 0,
                                behind: false,
                                result: None,
                                last_error: None,
                                submitted_at: now,
                                updated_at: now,
                            },
                            idempotency_key: job.idempotency_key.clone(),
                            fingerprint: job.fingerprint,
                            payload: job.payload,
                            secrets: job.secrets,
                            trace_context: job.trace_context,
                            seen: false,
                        },
                    );
                    st.idempotency.insert(job.idempotency_key, id.clone());
                    let chain = st.chains.entry(job.ordering_key).or_default();
                    chain.push_back(id.clone());
                    if chain.len() == 1 {
                        st.ready.push_back(id.clone());
                        changes.ready = true;
                    }
                    Ok(Submitted { job_id: JobId(id), duplicate: false })
                }
            }
        };
        self.inner.wake(changes);
        let submitted = submitted?;
        tracing::debug!(job_id = %submitted.job_id, duplicate = submitted.duplicate, "job submitted");
        Ok(submitted)
    }

    async fn find(&self, idempotency_key: &str) -> Result<Option<KeyedJob>, QueueError> {
        let mut changes = Changes::default();
        let found = {
            let mut st = self.inner.state.lock();
            self.inner.maintain(&mut st, Instant::now(), &mut changes);
            st.idempotency.get(idempotency_key).and_then(|id| st.jobs.get(id)).map(|job| KeyedJob {
                job_id: job.state.job_id.clone(),
                fingerprint: job.fingerprint.clone(),
                status: job.state.status,
            })
        };
        self.inner.wake(changes);
        Ok(found)
    }

    async fn wait(&self, id: &JobId, timeout: Duration) -> Result<Option<JobState>, QueueError> {
        wait_for_final(&self.inner.waiters, id, timeout, || self.status(id)).await
    }

    async fn status(&self, id: &JobId) -> Result<Option<JobState>, QueueError> {
        let mut changes = Changes::default();
        let state = {
            let mut st = self.inner.state.lock();
            self.inner.maintain(&mut st, Instant::now(), &mut changes);
            st.jobs.get(&id.0).map(|j| {
                let heads_its_key =
                    st.chains.get(&j.state.ordering_key).and_then(|c| c.front()).is_some_and(|front| *front == id.0);
                // A withdrawn job keeps whether it was behind when withdrawn; others are behind only
                // while queued.
                let behind = match j.state.status {
                    JobStatus::Queued => !heads_its_key,
                    _ => j.state.behind,
                };
                JobState { behind, ..j.state.clone() }
            })
        };
        self.inner.wake(changes);
        Ok(state)
    }

    async fn withdraw(&self, id: &JobId) -> Result<Withdrawal, QueueError> {
        Ok(self.inner.withdraw(&id.0))
    }

    async fn try_execute_job(&self, handler: &dyn JobHandler) -> Result<bool, QueueError> {
        match self.inner.take() {
            Some((job, token)) => {
                self.inner.execute(handler, job, token).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn run_workers(
        &self,
        handler: Arc<dyn JobHandler>,
        concurrency: usize,
        shutdown: CancellationToken,
    ) -> Result<(), QueueError> {
        if concurrency == 0 {
            return Err(QueueError::Config("run_workers needs a concurrency of at least 1".to_owned()));
        }
        // Dropping the set (when this future is dropped or aborted) aborts every
        // worker, which is what a crash looks like to the jobs they held.
        let mut workers = JoinSet::new();
        for _ in 0..concurrency {
            workers.spawn(Arc::clone(&self.inner).worker(Arc::clone(&handler), shutdown.clone()));
        }
        let queue = self.inner.config.queue.clone();
        let mut ticks = tokio::time::interval(self.inner.config.maintenance_interval.max(Duration::from_secs(1)));
        loop {
            tokio::select! {
                joined = workers.join_next() => match joined {
                    Some(Ok(())) => {}
                    Some(Err(e)) => tracing::error!(error = %e, "an in-process worker died"),
                    None => return Ok(()),
                },
                _ = ticks.tick() => metric_names::publish(&queue, &self.inner.metrics()),
            }
        }
    }

    async fn metrics(&self) -> Result<QueueMetrics, QueueError> {
        let metrics = self.inner.metrics();
        metric_names::publish(&self.inner.config.queue, &metrics);
        Ok(metrics)
    }

    async fn dead_letters(&self, after: Option<&str>, count: usize) -> Result<DeadLetterPage, QueueError> {
        let before = match after {
            None => u64::MAX,
            Some(cursor) => cursor
                .parse::<u64>()
                .map_err(|_| QueueError::Invalid(format!("{cursor:?} is not a dead-letter cursor")))?,
        };
        let st = self.inner.state.lock();
        let mut newer_first = st.dead.iter().rev().filter(|d| d.seq < before);
        let items: Vec<&DeadLetter> = newer_first.by_ref().take(count).collect();
        let more = newer_first.next().is_some();
        Ok(DeadLetterPage {
            next: if more { items.last().map(|d| d.seq.to_string()) } else { None },
            items: items.into_iter().map(|d| d.letter.clone()).collect(),
        })
    }

    async fn dead_letter(&self, id: &JobId) -> Result<Option<crate::DeadLetter>, QueueError> {
        Ok(self.inner.state.lock().dead.iter().find(|d| d.letter.job_id == *id).map(|d| d.letter.clone()))
    }

    async fn discard_dead_letter(&self, id: &JobId) -> Result<bool, QueueError> {
        let mut st = self.inner.state.lock();
        let before = st.dead.len();
        st.dead.retain(|d| d.letter.job_id != *id);
        Ok(st.dead.len() != before)
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(())
    }
}
