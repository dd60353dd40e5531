//! The provisioning job queue and the events stream.
//!
//! Every provisioning change travels from the gateway to an adapter worker as
//! a job: submitted with an idempotency key (which belongs to the request it
//! was first submitted for: its fingerprint is stored with the job and
//! compared on every later submission of the key) and an ordering key, delivered at
//! least once, run one at a time per ordering key and in submission order,
//! retried with backoff, dead-lettered after too many attempts, and its result
//! handed back to the submitter. Audit events travel on a separate stream with
//! fan-out to several consumer groups.
//!
//! Two backends implement the same traits and pass the same conformance
//! suite: Redis Streams for production ([`RedisJobQueue`], [`RedisEventBus`]),
//! and an in-process backend ([`InProcessQueue`], [`InProcessEventBus`]) for
//! `scim-connector dev` without Redis and for unit tests. [`connect`] picks one
//! from a [`QueueConfig`].
//!
//! # Ordering: per-key chains
//!
//! Every ordering key has a FIFO chain of the jobs submitted for it that have
//! not finished yet. Only the head of a chain is ever runnable: submitting to
//! an empty chain makes the job ready at once; submitting to a busy chain only
//! appends it. When the head finishes (succeeded, failed or dead-lettered) it
//! leaves the chain and the next job becomes ready. A head that fails
//! transiently stays the head while it waits out its backoff, so later jobs
//! on the same key cannot overtake it, while every other key's chain carries
//! on. Ready jobs of different keys are spread over all workers of all
//! processes (one Redis consumer group), so they run in parallel. This was
//! chosen over partitioned streams because a partition would make one job's
//! backoff block every key that hashes to the same partition.
//!
//! A running attempt may read the jobs queued behind its own ([`Job::following`]):
//! in chain order, and only while it holds its job at the chain's head. A
//! handler uses it to take in a run of changes to one resource at once (the
//! adapter carries a burst of member changes to one group in one Secret Server
//! call); the jobs it saw still run in their turn, each with its own attempt and
//! result, but can no longer be withdrawn (their change may be applied already).
//!
//! # Delivery
//!
//! At least once: a job is acknowledged only after its outcome is recorded. A
//! running job's worker renews its lease every third of the visibility
//! timeout; a job whose worker crashed or stalled past the timeout is
//! reclaimed (`XAUTOCLAIM`) and run again, counting as an attempt. Outcomes are
//! fenced by attempt and owner, so a stalled worker that wakes up late cannot
//! overwrite the outcome of the attempt that replaced it. Handlers must be
//! idempotent.
//!
//! Redis layout, data durability and the in-process backend's limits are
//! described in the [`redis_streams`] and [`memory`] modules.
//!
//! # Withdrawal
//!
//! A submitter that stopped waiting may withdraw a job no worker has taken yet
//! ([`JobQueue::withdraw`]): atomically, a job still queued with no attempt
//! started (at the head of its chain waiting for a worker, or behind earlier
//! jobs of its key) leaves its chain, so that no worker ever runs it, and
//! becomes final as [`JobStatus::Withdrawn`]; its waiters wake. The rest of its
//! chain carries on in order: a withdrawn head releases the next job, a job
//! withdrawn from the middle is simply left out. A job that has had an attempt
//! (running, waiting out a retry, or ended) is never withdrawn: that attempt
//! may have made part of its change; nor is one that an earlier job's attempt
//! has seen behind it ([`Job::following`]), which may have carried its change
//! along. So a submitter told `Withdrawn` knows that the job made no change at all. A worker that read a withdrawn job's
//! entry just before skips it without calling its handler. The same request
//! sent again under the idempotency key then runs as a new job, as after a
//! dead letter.
//!
//! # Tests and measurement
//!
//! `tests/queue` runs one conformance suite against both backends, plus
//! Redis-only tests: a worker process killed with `SIGKILL` mid-job, Redis
//! killed and restarted with AOF while jobs are submitted and run, TLS with
//! client certificates, an ACL user confined to the prefix, trimming, dead
//! letters that keep no secrets, and a Sentinel failover during a stream of jobs
//! that loses no acknowledged job. They need a Redis at `REDIS_URL` (default
//! `redis://127.0.0.1:6379`), `redis-server` and `redis-sentinel` on PATH, and
//! fail when any is missing. Connections (URL or Sentinel, TLS, ACL) come from
//! `redis-connect`, shared with the state store. `examples/queue_bench.rs` measures throughput
//! beside the raw `XADD` rate; its numbers are in `docs/benchmarks.md`.

use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

mod backoff;
mod config;
mod connect;
mod lease;
pub mod memory;
pub mod metric_names;
pub mod redis_streams;
mod runner;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;
mod waiters;

pub use config::QueueConfig;
pub use connect::{Backends, connect};
pub use lease::{JobLease, MAX_FOLLOWING};
pub use memory::{InProcessEventBus, InProcessQueue};
pub use redis_connect::{RedisSettings, SentinelSettings};
pub use redis_streams::{RedisEventBus, RedisJobQueue};

/// W3C trace context fields (`traceparent`, `tracestate`) carried with a job or an event.
pub type TraceContext = BTreeMap<String, String>;

/// A key as spans and logs show it: a short digest (the first 8 bytes of its SHA-256, in hex),
/// never the key itself. Ordering and idempotency keys are chosen by the submitter and may be
/// personal data: a create's ordering key names the user it creates (`primary/User/new:bjensen`).
/// The digest still tells two keys apart and matches the same key across services and spans. It is
/// computed only when formatted, so a disabled span costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct KeyDigest<'a>(pub &'a str);

impl fmt::Display for KeyDigest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.0.as_bytes());
        digest[..8].iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// A job's identity, assigned by the queue at submission.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job to submit.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Submitting the same key again returns the first job (and, once it has
    /// finished, its result) instead of enqueuing a second one, provided that
    /// it comes with the same `fingerprint`.
    pub idempotency_key: String,
    /// What the submission is for (the submitter's request: for the gateway, a digest of its
    /// connection, method, path and body), stored with the job. The key belongs to it: a later
    /// submission of the key with another fingerprint is refused with
    /// [`QueueError::KeyReused`] and enqueues nothing. Opaque to the queue, compared exactly,
    /// kept as long as the key is remembered; it may be empty.
    pub fingerprint: String,
    /// Jobs with the same ordering key (e.g. `"primary/User/42"`) never run
    /// concurrently and run in submission order.
    pub ordering_key: String,
    /// Opaque to the queue (the connector puts a job encoded by `adapter-api` here).
    pub payload: Bytes,
    /// What the queue may hold only while the job is unfinished, opaque to it (the connector puts
    /// the job's sealed password here): delivered with the job, never copied to a dead letter, and
    /// removed from the job's record once it finishes. Empty when the job has none.
    pub secrets: Bytes,
    pub trace_context: TraceContext,
}

/// A job found by its idempotency key ([`JobQueue::find`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedJob {
    pub job_id: JobId,
    /// The fingerprint the job was submitted with.
    pub fingerprint: String,
    pub status: JobStatus,
}

/// The answer to a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub job_id: JobId,
    /// True when the idempotency key matched an earlier job.
    pub duplicate: bool,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    /// Failed transiently; scheduled to run again.
    Retrying,
    Succeeded,
    /// Finished with a permanent failure; `result` says why.
    Failed,
    /// Gave up after the maximum number of attempts; `last_error` says why.
    DeadLettered,
    /// Withdrawn before any worker took it ([`JobQueue::withdraw`]): it never ran and never will.
    Withdrawn,
}

impl JobStatus {
    /// True once the job will not run again.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::DeadLettered | JobStatus::Withdrawn)
    }
}

/// What [`JobQueue::withdraw`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// The job was queued and no attempt of it had started: it left its ordering key's chain, no
    /// worker will ever run it, and its status is [`JobStatus::Withdrawn`] (also the answer for a
    /// job withdrawn before, so that a repeated call says the same).
    Withdrawn {
        /// It was queued behind an earlier job of its ordering key (see [`JobState::behind`]);
        /// false when it headed its key, waiting for a worker.
        behind: bool,
    },
    /// A worker had taken it (it runs, waits out a retry, or has ended), or an attempt of an earlier
    /// job of its key had seen it behind itself and may have carried its change along
    /// ([`Job::following`]): nothing changed.
    Taken,
    /// No such job (never submitted here, or its record expired).
    Unknown,
}

/// What the queue knows about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub job_id: JobId,
    pub status: JobStatus,
    pub ordering_key: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// Queued behind an earlier job of its ordering key, which must end first: no worker could
    /// have taken it yet. False once it heads its key (a job that is ready and not taken waits for
    /// a worker, which says something about the workers; one that is behind says nothing). A
    /// [`JobStatus::Withdrawn`] job keeps what it was when withdrawn; any other is never behind.
    pub behind: bool,
    /// What the handler returned (`Succeeded` or `Failed`).
    pub result: Option<Bytes>,
    /// The error of the last transient failure.
    pub last_error: Option<String>,
    pub submitted_at: SystemTime,
    pub updated_at: SystemTime,
}

/// A job delivered to a worker.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub ordering_key: String,
    pub payload: Bytes,
    /// As submitted ([`NewJob::secrets`]).
    pub secrets: Bytes,
    pub trace_context: TraceContext,
    /// 1 on the first delivery; more on retries and redeliveries.
    pub attempt: u32,
    /// This attempt's hold on the job, kept current by the runner while the handler works.
    pub lease: JobLease,
}

impl Job {
    /// Up to `max` of the jobs queued after this one on its ordering key, in the order they will
    /// run, while this attempt holds the job (see [`JobLease::following`]). Lets a handler
    /// take in what is waiting behind it (a run of changes to one resource) without taking it:
    /// the jobs stay queued and run in their turn.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when the backend cannot be read.
    pub async fn following(&self, max: usize) -> Result<Vec<QueuedJob>, QueueError> {
        self.lease.following(max).await
    }
}

/// A job waiting behind a running one on its ordering key ([`Job::following`]). It carries no
/// secrets: those go to the job's own attempt only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    pub id: JobId,
    /// As submitted ([`NewJob::payload`]).
    pub payload: Bytes,
    pub trace_context: TraceContext,
}

/// What a handler decided about a job.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Done; the bytes go back to the submitter.
    Succeeded(Bytes),
    /// Done with a permanent failure (e.g. the client's mistake); the bytes
    /// go back to the submitter. Not retried.
    Failed(Bytes),
    /// A transient failure: run again after a backoff (at least `after` when
    /// given), or dead-letter once the maximum number of attempts is reached.
    Retry { error: String, after: Option<Duration> },
}

/// The work a worker does with a job. Handlers must be idempotent: a job may
/// be delivered again after a crash.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: Job) -> Disposition;
}

/// Depth and health of the queue, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueMetrics {
    /// Jobs waiting to run (including scheduled retries).
    pub depth: u64,
    /// Age of the oldest job not yet finished.
    pub oldest_age: Option<Duration>,
    pub in_flight: u64,
    /// Retries scheduled since start (counter).
    pub retries: u64,
    /// Jobs withdrawn since start (counter, [`JobQueue::withdraw`]).
    pub withdrawn: u64,
    /// Jobs in the dead-letter stream.
    pub dead_letters: u64,
}

/// A job that gave up after its last attempt, kept (until `dead_letter_retention` passes) for an
/// administrator to inspect, replay or discard. It never holds the job's secrets
/// ([`NewJob::secrets`]): they are dropped when the job finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub job_id: JobId,
    pub ordering_key: String,
    /// Attempts made before it gave up.
    pub attempts: u32,
    /// The error of the last attempt.
    pub error: String,
    /// As submitted ([`NewJob::payload`]).
    pub payload: Bytes,
    pub trace_context: TraceContext,
    /// When it was dead-lettered.
    pub at: SystemTime,
}

/// One page of dead letters, newest first ([`JobQueue::dead_letters`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetter>,
    /// The cursor of the next (older) page; `None` on the last page. Opaque.
    pub next: Option<String>,
}

/// Errors of the queue itself (not of the jobs).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue backend is unavailable: {0}")]
    Unavailable(String),
    #[error("corrupt queue entry: {0}")]
    Corrupt(String),
    #[error("invalid queue configuration: {0}")]
    Config(String),
    /// The job or event itself was refused (empty key, payload too large); nothing was enqueued.
    #[error("invalid job: {0}")]
    Invalid(String),
    /// The idempotency key names a job submitted with another fingerprint (for another request);
    /// nothing was enqueued.
    #[error("the idempotency key belongs to job {existing}, submitted for another request")]
    KeyReused {
        existing: JobId,
        /// The fingerprint `existing` was submitted with.
        fingerprint: String,
    },
}

impl QueueError {
    /// True when the same call may succeed later (the backend was unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(self, QueueError::Unavailable(_))
    }
}

/// The job queue.
#[async_trait]
pub trait JobQueue: Send + Sync + fmt::Debug + 'static {
    /// Enqueues a job, or returns the existing one with the same idempotency key when it was
    /// submitted with the same fingerprint, unless that one was dead-lettered or withdrawn: the same
    /// request sent again then runs as a new job under the key (a client following `Retry-After`).
    ///
    /// # Errors
    /// [`QueueError::KeyReused`] when the key's job has another fingerprint.
    async fn submit(&self, job: NewJob) -> Result<Submitted, QueueError>;

    /// The job an idempotency key names while the key is remembered (until its result expires),
    /// with the fingerprint it was submitted with; `None` for a key not (or no longer) in use.
    async fn find(&self, idempotency_key: &str) -> Result<Option<KeyedJob>, QueueError>;

    /// Waits until the job is final or `timeout` passes, then returns its state
    /// (not final when the timeout passed). Re-attaching later by id works.
    async fn wait(&self, id: &JobId, timeout: Duration) -> Result<Option<JobState>, QueueError>;

    /// The job's state now; `None` for an unknown (or expired) id.
    async fn status(&self, id: &JobId) -> Result<Option<JobState>, QueueError>;

    /// Withdraws job `id` if no worker has taken it, atomically (see the [crate docs](crate#withdrawal)):
    /// a queued job without any attempt started, that no attempt of an earlier job has seen behind
    /// it ([`Job::following`]), is removed from its ordering key's chain (the
    /// jobs behind it keep their order and run), becomes final as [`JobStatus::Withdrawn`] and
    /// wakes its waiters; any other job is left as it is. Safe to repeat. On Redis the withdrawal
    /// is acknowledged once it is as durable as a submission (replicas included).
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when the backend cannot be reached: whether the job was
    /// withdrawn is then unknown.
    async fn withdraw(&self, id: &JobId) -> Result<Withdrawal, QueueError>;

    /// One step of work, for tests: if a job is ready, take it, run the
    /// handler and record the outcome. Returns whether a job ran.
    async fn try_execute_job(&self, handler: &dyn JobHandler) -> Result<bool, QueueError>;

    /// Runs `concurrency` workers until `shutdown` is cancelled; jobs in
    /// progress finish first.
    async fn run_workers(
        &self,
        handler: Arc<dyn JobHandler>,
        concurrency: usize,
        shutdown: CancellationToken,
    ) -> Result<(), QueueError>;

    async fn metrics(&self) -> Result<QueueMetrics, QueueError>;

    /// Up to `count` dead letters, newest first, starting after the cursor `after` (a
    /// [`DeadLetterPage::next`]; `None` for the newest).
    ///
    /// # Errors
    /// [`QueueError::Invalid`] for a cursor this queue did not give; [`QueueError::Unavailable`]
    /// when the backend cannot be reached.
    async fn dead_letters(&self, after: Option<&str>, count: usize) -> Result<DeadLetterPage, QueueError>;

    /// The dead letter of job `id`; `None` when there is none (never dead-lettered, discarded,
    /// replayed or past its retention).
    async fn dead_letter(&self, id: &JobId) -> Result<Option<DeadLetter>, QueueError>;

    /// Removes the dead letter of job `id`; false when there was none.
    async fn discard_dead_letter(&self, id: &JobId) -> Result<bool, QueueError>;

    /// Checks that the backend answers (for `/readyz`).
    async fn ping(&self) -> Result<(), QueueError>;
}

/// An event's identity within the events stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub String);

impl EventId {
    /// Its place in the stream (`<milliseconds>-<sequence>`), to compare two ids; `None` for an id
    /// of another shape.
    pub fn position(&self) -> Option<(u64, u64)> {
        let (ms, seq) = self.0.split_once('-')?;
        Some((ms.parse().ok()?, seq.parse().ok()?))
    }
}

/// An event to publish.
#[derive(Debug, Clone)]
pub struct Event {
    /// Opaque to the bus (the connector puts an encoded `AuditEvent` here).
    pub payload: Bytes,
    pub trace_context: TraceContext,
}

/// An event delivered to a consumer group.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: EventId,
    pub payload: Bytes,
    pub trace_context: TraceContext,
}

/// The events stream: every consumer group sees every event; within a group,
/// each event goes to one consumer and comes back after a crash until acked.
#[async_trait]
pub trait EventBus: Send + Sync + fmt::Debug + 'static {
    async fn publish(&self, event: Event) -> Result<EventId, QueueError>;

    /// Joins (creating if needed) consumer group `group` as `consumer`.
    async fn subscribe(&self, group: &str, consumer: &str) -> Result<Box<dyn EventSubscription>, QueueError>;

    /// Keeps an event that [`EventBus::publish`] refused for good (too large, say) apart, with
    /// why, so that it is neither lost unseen nor retried forever: on Redis, the stream
    /// `<prefix>:ev:<events_stream>:dead` (the newest 100,000). A bus without dead letters (the
    /// in-process one) says so with [`QueueError::Unavailable`].
    async fn dead_letter(&self, event: Event, reason: &str) -> Result<(), QueueError> {
        let _ = (event, reason);
        Err(QueueError::Unavailable("this events stream keeps no dead letters".to_owned()))
    }

    /// The id of the newest event in the stream (`None` when it is empty, or when the bus cannot
    /// tell): a reader that has seen it has seen every event published before.
    async fn last_id(&self) -> Result<Option<EventId>, QueueError> {
        Ok(None)
    }

    /// Up to `max` events published after `after`, oldest first, outside any consumer group (to
    /// replay what happened since a known point). A bus that keeps no history returns none.
    async fn read_after(&self, after: &EventId, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let _ = (after, max);
        Ok(Vec::new())
    }
}

/// One consumer's view of a consumer group.
#[async_trait]
pub trait EventSubscription: Send + fmt::Debug {
    /// Up to `max` events: first those delivered before and never acked, then
    /// new ones, waiting up to `wait` when there are none.
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError>;

    async fn ack(&mut self, ids: &[EventId]) -> Result<(), QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_compare_by_their_place_in_the_stream_not_as_text() {
        let earlier = EventId("999-5".to_owned()).position().unwrap();
        let later = EventId("1000-0".to_owned()).position().unwrap();
        assert!(earlier < later);
        assert_eq!(EventId("not-an-id".to_owned()).position(), None);
    }

    #[test]
    fn a_key_digest_tells_keys_apart_without_showing_them() {
        let key = "primary/User/new:bjensen";
        let shown = KeyDigest(key).to_string();
        assert_eq!(shown.len(), 16);
        assert!(shown.bytes().all(|b| b.is_ascii_hexdigit()), "{shown}");
        assert!(!shown.contains("bjensen"));
        assert_eq!(shown, KeyDigest(key).to_string(), "the same key, the same digest");
        assert_ne!(shown, KeyDigest("primary/User/new:jsmith").to_string());
    }
}
