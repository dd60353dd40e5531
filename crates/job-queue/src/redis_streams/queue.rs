//! The Redis job queue: submission, status, results, one-step execution and metrics.

use super::batch::Batcher;
use super::conn::{self, retrying};
use super::keys::{self, Keys, WORKER_GROUP};
use super::state::{parse_state, parse_status};
use super::{notifier, reply, scripts, workers};
use crate::backoff::retry_delay;
use crate::lease::Chain;
use crate::runner::{Renewal, run_handler};
use crate::waiters::{Waiters, wait_for_final};
use crate::{
    DeadLetterPage, Disposition, Job, JobHandler, JobId, JobQueue, JobState, KeyDigest, KeyedJob, NewJob, QueueConfig,
    QueueError, QueueMetrics, QueuedJob, Submitted, TraceContext, Withdrawal, metric_names, validate,
};
use async_trait::async_trait;
use bytes::Bytes;
use redis::Value;
use redis_connect::Connection;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OnceCell, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

/// The job queue on Redis Streams (see the [module docs](super) for the layout).
#[derive(Clone)]
pub struct RedisJobQueue {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for RedisJobQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisJobQueue").field("queue", &self.inner.config.queue).finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    pub(super) config: QueueConfig,
    pub(super) keys: Keys,
    pub(super) redis: redis_connect::Redis,
    pub(super) conn: Connection,
    waiters: Arc<Waiters>,
    notifier: OnceCell<watch::Receiver<bool>>,
    submissions: Batcher<Submission, Submit>,
    outcomes: Batcher<Outcome, Recorded>,
    /// Names this handle's consumers: `<pid>-<random>-<n>`.
    instance: String,
    consumers: AtomicU64,
    /// Stops background tasks when the last handle goes away.
    stop: CancellationToken,
    _stop_on_drop: DropGuard,
}

/// A delivered job whose attempt has started.
#[derive(Clone)]
pub(super) struct Taken {
    pub(super) entry: String,
    pub(super) job: Job,
    /// Submission time (ms) and last transient error, for the done message.
    submitted: String,
    last_error: Option<String>,
}

/// What recording an outcome did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Recorded {
    Final,
    /// Scheduled to run again after this delay.
    Retry(Duration),
    /// Another attempt owns the job now; the outcome was discarded.
    Stale,
}

impl RedisJobQueue {
    /// Connects, creates the worker group if needed and checks that the server answers.
    ///
    /// # Errors
    /// [`QueueError::Config`] for invalid settings or URL, [`QueueError::Unavailable`]
    /// when Redis cannot be reached.
    pub async fn connect(config: &QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        let redis = conn::redis(config)?;
        let conn = conn::manager(&redis, config.op_timeout.max(Duration::from_secs(1))).await?;
        let stop = CancellationToken::new();
        let keys = Keys::new(config);
        let queue = Self {
            inner: Arc::new(Inner {
                submissions: submit_batcher(
                    conn.clone(),
                    keys.base.clone(),
                    config.op_timeout,
                    config.replicas_to_wait_for(),
                ),
                outcomes: outcome_batcher(Recording::new(conn.clone(), keys.base.clone(), config)),
                keys,
                config: config.clone(),
                redis,
                conn,
                waiters: Arc::new(Waiters::default()),
                notifier: OnceCell::new(),
                instance: format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..12]),
                consumers: AtomicU64::new(0),
                _stop_on_drop: stop.clone().drop_guard(),
                stop,
            }),
        };
        queue.inner.ensure_group().await?;
        Ok(queue)
    }

    /// Trims the job stream, the dead letters and the events stream to their
    /// retention now (workers do this on their own every few seconds).
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when Redis cannot be reached.
    pub async fn trim(&self) -> Result<u64, QueueError> {
        self.inner.trim().await
    }

    /// Reads the dead-letter stream from `start` towards `end` (`XREVRANGE`), up to `count` entries.
    async fn dead_range(&self, start: &str, end: &str, count: usize) -> Result<Vec<(String, DeadLetter)>, QueueError> {
        let key = self.inner.keys.dead.clone();
        let reply: Value = retrying("XREVRANGE dead letters", self.inner.config.op_timeout, || {
            let mut c = self.inner.conn.clone();
            let (key, start, end) = (key.clone(), start.to_owned(), end.to_owned());
            async move {
                redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg(&start)
                    .arg(&end)
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut c)
                    .await
            }
        })
        .await?;
        let entries = reply::entries(&reply).ok_or_else(|| reply::corrupt("XREVRANGE"))?;
        Ok(entries
            .into_iter()
            .filter_map(|(entry, fields)| fields.map(|f| (entry, f)))
            .map(|(entry, fields)| {
                let text = |name| String::from_utf8_lossy(reply::field(&fields, name).unwrap_or_default()).into_owned();
                // The entry id starts with the milliseconds at which it was added.
                let millis = entry.split('-').next().and_then(|ms| ms.parse::<u64>().ok()).unwrap_or(0);
                let letter = DeadLetter {
                    job_id: JobId(text("id")),
                    ordering_key: text("okey"),
                    attempts: text("attempts").parse().unwrap_or(0),
                    error: text("error"),
                    payload: Bytes::copy_from_slice(reply::field(&fields, "payload").unwrap_or_default()),
                    trace_context: serde_json::from_slice(reply::field(&fields, "trace").unwrap_or_default())
                        .unwrap_or_default(),
                    at: std::time::UNIX_EPOCH + Duration::from_millis(millis),
                };
                (entry, letter)
            })
            .collect())
    }

    /// The stream entry of job `id`'s dead letter. The dead letters are few (kept for
    /// `dead_letter_retention`, and only for jobs that failed every attempt): a scan is enough.
    async fn find_dead(&self, id: &JobId) -> Result<Option<(String, DeadLetter)>, QueueError> {
        let mut start = "+".to_owned();
        loop {
            let page = self.dead_range(&start, "-", 500).await?;
            let Some((last, _)) = page.last() else { return Ok(None) };
            start = format!("({last}");
            let full = page.len() == 500;
            if let Some(found) = page.into_iter().find(|(_, d)| d.job_id == *id) {
                return Ok(Some(found));
            }
            if !full {
                return Ok(None);
            }
        }
    }
}

pub use crate::DeadLetter;

/// One job in a batched submission.
struct Submission {
    candidate: String,
    idempotency_key: String,
    fingerprint: String,
    ordering_key: String,
    payload: Bytes,
    secrets: Bytes,
    trace: Vec<u8>,
}

/// One attempt's outcome in a batched recording.
struct Outcome {
    consumer: String,
    job_id: String,
    entry: String,
    attempt: u32,
    outcome: &'static str,
    data: Bytes,
    delay: Duration,
    /// The final state for the done message, without `updated` and up to the
    /// result's length prefix (empty for a retry): see [`done_record`].
    record: Vec<u8>,
    /// The job was submitted with secrets (else its hash has no field to delete).
    secrets: bool,
}

/// Largest batch per script call: big enough to amortise the call, small
/// enough to keep one script from holding Redis for long.
const MAX_BATCH: usize = 128;
/// Batches in flight at once on the shared connection.
const BATCHES_IN_FLIGHT: usize = 4;

/// What the submit script did with one job.
enum Submit {
    New(String),
    /// An earlier job of the key, with the same fingerprint.
    Duplicate(String),
    /// An earlier job of the key, with this other fingerprint.
    Reused(String, String),
}

fn submit_batcher(conn: Connection, base: String, budget: Duration, replicas: u32) -> Batcher<Submission, Submit> {
    Batcher::spawn(MAX_BATCH, BATCHES_IN_FLIGHT, move |jobs: Vec<Submission>| {
        let (conn, base) = (conn.clone(), base.clone());
        async move {
            // Safe to repeat: the script recognises its own candidate ids.
            let rows: Value = retrying("submit", budget, || {
                let mut c = conn.clone();
                let mut args: Vec<&[u8]> = vec![base.as_bytes()];
                for job in &jobs {
                    args.extend([
                        job.candidate.as_bytes(),
                        job.idempotency_key.as_bytes(),
                        job.fingerprint.as_bytes(),
                        job.ordering_key.as_bytes(),
                        job.payload.as_ref(),
                        job.secrets.as_ref(),
                        &job.trace,
                    ]);
                }
                async move { replicated(&mut c, &scripts::SUBMIT, &args, replicas).await }
            })
            .await?;
            submitted_rows(&rows, &jobs)
        }
    })
}

/// The `SUBMIT` script's rows, one per job: `0` for a new job (its candidate id), else {id,
/// outcome, fingerprint}.
fn submitted_rows(reply: &Value, jobs: &[Submission]) -> Result<Vec<Submit>, QueueError> {
    let rows = reply::array(reply).filter(|rows| rows.len() == jobs.len()).ok_or_else(|| reply::corrupt("submit"))?;
    rows.iter()
        .zip(jobs)
        .map(|(row, job)| {
            if reply::int(row) == Some(0) {
                return Ok(Submit::New(job.candidate.clone()));
            }
            let [id, outcome, fingerprint] = reply::array(row).ok_or_else(|| reply::corrupt("submit"))? else {
                return Err(reply::corrupt("submit"));
            };
            let text = |v| reply::string(v).ok_or_else(|| reply::corrupt("submit"));
            match reply::int(outcome) {
                Some(0) => Ok(Submit::New(text(id)?)),
                Some(1) => Ok(Submit::Duplicate(text(id)?)),
                Some(2) => Ok(Submit::Reused(text(id)?, text(fingerprint)?)),
                _ => Err(reply::corrupt("submit")),
            }
        })
        .collect()
}

/// How long one `WAIT` waits for the replicas; the call is retried (within its budget) when
/// fewer answered.
const WAIT_FOR_REPLICAS: Duration = Duration::from_secs(1);

/// Runs `script` with `args`, then, when `replicas` is not 0, `WAIT`s for that many replicas to
/// hold what it wrote: both in one pipeline, so that the `WAIT` goes to the server that ran the
/// script even if the connection moves to another primary meanwhile. Fewer replicas is a
/// transient error.
async fn replicated<T: redis::FromRedisValue>(
    conn: &mut Connection,
    script: &redis::Script,
    args: &[&[u8]],
    replicas: u32,
) -> redis::RedisResult<T> {
    if replicas == 0 {
        let mut call = script.prepare_invoke();
        call.arg(args);
        return call.invoke_async(conn).await;
    }
    let mut eval = redis::cmd("EVALSHA");
    eval.arg(script.get_hash()).arg(0).arg(args);
    let mut pipe = redis::pipe();
    pipe.add_command(eval).cmd("WAIT").arg(replicas).arg(u64::try_from(WAIT_FOR_REPLICAS.as_millis()).unwrap_or(1000));
    let answer = match pipe.query_async(conn).await {
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            script.prepare_invoke().load_async(conn).await?;
            pipe.query_async(conn).await
        }
        other => other,
    };
    let (value, acknowledged): (T, u32) = answer.map_err(unconfirmed_write)?;
    if acknowledged < replicas {
        return Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{acknowledged} of {replicas} replicas acknowledged the write"),
        )));
    }
    Ok(value)
}

/// A pipeline whose script ran but whose `WAIT` failed (the server was demoted to a replica by a
/// failover between the two): whether the write survives is unknown, so it is a transient error and
/// the call is repeated (the scripts are safe to repeat) on the primary the connection follows.
fn unconfirmed_write(e: redis::RedisError) -> redis::RedisError {
    let only_the_wait_failed = e.clone().into_server_errors().is_some_and(|failed| failed.iter().all(|(i, _)| *i == 1));
    if only_the_wait_failed {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the write could not be confirmed on a replica: {e}"),
        ))
    } else {
        e
    }
}

/// Scripts' settings for recording outcomes, shared by the outcome and cycle batchers.
#[derive(Clone)]
struct Recording {
    conn: Connection,
    base: String,
    max_attempts: u32,
    ttl: u64,
    /// An outcome that cannot be recorded within the visibility timeout is
    /// moot: the job is redelivered and runs again.
    budget: Duration,
}

impl Recording {
    fn new(conn: Connection, base: String, config: &QueueConfig) -> Self {
        Self {
            conn,
            base,
            max_attempts: config.max_attempts,
            ttl: ms(config.result_ttl),
            budget: config.visibility_timeout.max(config.op_timeout),
        }
    }

    /// Records `outcomes` with the `FINISH` script, repeated while Redis is unreachable (safe:
    /// the script recognises outcomes it recorded).
    async fn finish(&self, outcomes: &[Outcome]) -> Result<Vec<Recorded>, QueueError> {
        let rows: Value = retrying("record outcome", self.budget, || {
            let mut c = self.conn.clone();
            let mut call = scripts::FINISH.prepare_invoke();
            call.arg(&self.base).arg(WORKER_GROUP).arg(self.max_attempts).arg(self.ttl);
            outcome_args(&mut call, outcomes);
            async move { call.invoke_async(&mut c).await }
        })
        .await?;
        recorded_rows(&rows, outcomes)
    }

    /// Records `outcomes` and, unless `count` is 0, reads and starts up to `count` new entries
    /// for `consumer`, in one `FINISH_TAKE` call. Not repeated: when it fails, the outcomes are
    /// recorded on their own (as [`Self::finish`] does) and no job is started; entries a failed
    /// call may have read are reclaimed after the visibility timeout.
    async fn finish_take(
        &self,
        consumer: &str,
        count: usize,
        outcomes: &[Outcome],
    ) -> Result<(Vec<Recorded>, Vec<Taken>), QueueError> {
        let mut c = self.conn.clone();
        let mut call = scripts::FINISH_TAKE.prepare_invoke();
        call.arg(&self.base).arg(WORKER_GROUP).arg(self.max_attempts).arg(self.ttl).arg(consumer).arg(count);
        outcome_args(&mut call, outcomes);
        let answer: Result<Value, _> = call.invoke_async(&mut c).await;
        let parsed = answer.map_err(|e| conn::unavailable("record outcomes and take", &e)).and_then(|reply| {
            let [recorded, _read, rows] = reply::array(&reply).ok_or_else(|| reply::corrupt("finish and take"))? else {
                return Err(reply::corrupt("finish and take"));
            };
            Ok((recorded_rows(recorded, outcomes)?, taken_rows(rows)?))
        });
        match parsed {
            Ok(done) => Ok(done),
            Err(e) => {
                tracing::debug!(error = %e, "recording outcomes and taking jobs in one call failed; recording alone");
                Ok((self.finish(outcomes).await?, Vec::new()))
            }
        }
    }
}

/// Appends the `FINISH` script's nine values per outcome.
fn outcome_args(call: &mut redis::ScriptInvocation<'_>, outcomes: &[Outcome]) {
    for o in outcomes {
        call.arg(&o.consumer)
            .arg(&o.job_id)
            .arg(&o.entry)
            .arg(o.attempt)
            .arg(o.outcome)
            .arg(o.data.as_ref())
            .arg(u64::try_from(o.delay.as_millis()).unwrap_or(u64::MAX))
            .arg(&o.record)
            .arg(u8::from(o.secrets));
    }
}

/// The `FINISH` script's rows, one per outcome.
fn recorded_rows(reply: &Value, outcomes: &[Outcome]) -> Result<Vec<Recorded>, QueueError> {
    let rows =
        reply::array(reply).filter(|rows| rows.len() == outcomes.len()).ok_or_else(|| reply::corrupt("finish"))?;
    rows.iter()
        .zip(outcomes)
        .map(|(row, o)| match reply::string(row).as_deref() {
            Some("final") | Some("done") => Ok(Recorded::Final),
            Some("retry") => Ok(Recorded::Retry(o.delay)),
            Some("stale") => Ok(Recorded::Stale),
            _ => Err(reply::corrupt("finish")),
        })
        .collect()
}

fn outcome_batcher(recording: Recording) -> Batcher<Outcome, Recorded> {
    Batcher::spawn(MAX_BATCH, BATCHES_IN_FLIGHT, move |outcomes: Vec<Outcome>| {
        let recording = recording.clone();
        async move { recording.finish(&outcomes).await }
    })
}

/// An attempt that ended in a worker process: its outcome, and whether its slot should run the
/// next waiting job.
pub(super) struct Cycle {
    outcome: Outcome,
    wants_next: bool,
}

/// What a [`Cycle`] got: how its outcome was recorded, and the job its slot runs next (if it
/// wanted one and one was waiting).
pub(super) type Cycled = (Recorded, Option<Taken>);

/// Batches the ends of attempts in one worker process (`consumer`): their outcomes recorded and,
/// for the slots they free, the next waiting jobs read and started, all in one script call.
pub(super) fn cycle_batcher(inner: &Inner, consumer: String) -> Batcher<Cycle, Cycled> {
    let recording = Recording::new(inner.conn.clone(), inner.keys.base.clone(), &inner.config);
    Batcher::spawn(MAX_BATCH, BATCHES_IN_FLIGHT, move |cycles: Vec<Cycle>| {
        let (recording, consumer) = (recording.clone(), consumer.clone());
        async move {
            let wanted = cycles.iter().filter(|c| c.wants_next).count();
            let (wants, outcomes): (Vec<bool>, Vec<Outcome>) =
                cycles.into_iter().map(|c| (c.wants_next, c.outcome)).unzip();
            let (recorded, taken) = recording.finish_take(&consumer, wanted, &outcomes).await?;
            let mut taken = taken.into_iter();
            Ok(recorded.into_iter().zip(wants).map(|(r, wants)| (r, if wants { taken.next() } else { None })).collect())
        }
    })
}

/// The length of the `updated` field and value in a done message (`7:updated13:<ms>`), the server
/// time in milliseconds having 13 digits (from 2001 to 2286); the script checks it.
const UPDATED_LEN: usize = 25;

/// A job's final state as the done message carries it (see `state::parse_done`),
/// built by the worker, which knows it, so that Redis only appends the result's
/// bytes and `updated`: it ends with the `result` field and the result's length
/// prefix (`6:result<length>:`), and it begins with the length prefix of the whole
/// message for this job (counting `updated` as [`UPDATED_LEN`] bytes), so that the
/// script formats no number for it.
fn done_record(taken: &Taken, status: &str, result: &[u8]) -> Vec<u8> {
    let job = &taken.job;
    let attempt = job.attempt.to_string();
    let mut parts: Vec<&[u8]> = vec![
        job.id.0.as_bytes(),
        b"status",
        status.as_bytes(),
        b"okey",
        job.ordering_key.as_bytes(),
        b"attempts",
        attempt.as_bytes(),
        b"submitted",
        taken.submitted.as_bytes(),
    ];
    if let Some(error) = &taken.last_error {
        parts.extend([&b"last_error"[..], error.as_bytes()]);
    }
    let mut record = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum::<usize>() + 16);
    for part in parts {
        record.extend_from_slice(part.len().to_string().as_bytes());
        record.push(b':');
        record.extend_from_slice(part);
    }
    record.extend_from_slice(format!("6:result{}:", result.len()).as_bytes());
    let whole = format!("{}:", record.len() + result.len() + UPDATED_LEN);
    record.splice(0..0, whole.bytes());
    record
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The jobs a take script started: entry id, job id, ordering key, payload, trace, attempt,
/// submitted, last error or nil, secrets per job, in one flat array.
fn taken_rows(reply: &Value) -> Result<Vec<Taken>, QueueError> {
    let rows = reply::array(reply).filter(|r| r.len() % 9 == 0).ok_or_else(|| reply::corrupt("take"))?;
    rows.chunks_exact(9)
        .map(|cols| {
            let text = |i: usize| reply::string(&cols[i]).ok_or_else(|| reply::corrupt("take field"));
            let trace: TraceContext = serde_json::from_slice(reply::bytes(&cols[4]).unwrap_or(b"{}")).map_err(|e| {
                QueueError::Corrupt(format!("trace context of job {}: {e}", text(1).unwrap_or_default()))
            })?;
            Ok(Taken {
                entry: text(0)?,
                job: Job {
                    id: JobId(text(1)?),
                    ordering_key: text(2)?,
                    payload: Bytes::copy_from_slice(reply::bytes(&cols[3]).unwrap_or_default()),
                    secrets: Bytes::copy_from_slice(reply::bytes(&cols[8]).unwrap_or_default()),
                    trace_context: trace,
                    attempt: reply::int(&cols[5]).and_then(|a| u32::try_from(a).ok()).unwrap_or(1),
                    lease: crate::JobLease::default(),
                },
                submitted: text(6)?,
                last_error: reply::bytes(&cols[7]).map(|e| String::from_utf8_lossy(e).into_owned()),
            })
        })
        .collect()
}

/// Logs what recording an attempt's outcome did; `None` when it could not be recorded.
pub(super) fn report(taken: &Taken, recorded: Result<Recorded, QueueError>) -> Option<Recorded> {
    let (id, attempt) = (&taken.job.id, taken.job.attempt);
    match recorded {
        Ok(Recorded::Stale) => {
            tracing::warn!(job_id = %id, attempt, "discarded the outcome of an attempt that lost its lease");
            Some(Recorded::Stale)
        }
        Ok(recorded) => Some(recorded),
        Err(e) => {
            tracing::error!(job_id = %id, attempt, error = %e, "could not record a job's outcome; it will be redelivered");
            None
        }
    }
}

impl Inner {
    pub(super) fn new_consumer(&self) -> String {
        format!("{}-{}", self.instance, self.consumers.fetch_add(1, Ordering::Relaxed))
    }

    pub(super) async fn ensure_group(&self) -> Result<(), QueueError> {
        let key = self.keys.ready.clone();
        let conn = self.conn.clone();
        let created: Result<(), redis::RedisError> = async {
            let mut c = conn.clone();
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&key)
                .arg(WORKER_GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut c)
                .await
        }
        .await;
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") || e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(conn::unavailable("XGROUP CREATE", &e)),
        }
    }

    /// Reads delivered entries' jobs and starts their attempts.
    /// `fresh`: the entries were just read as new by `consumer` (not reclaimed).
    pub(super) async fn take(
        &self,
        consumer: &str,
        entries: Vec<reply::Entry>,
        fresh: bool,
    ) -> Result<Vec<Taken>, QueueError> {
        let mut pairs = Vec::with_capacity(entries.len() * 2);
        let mut orphans = Vec::new();
        for (entry, fields) in entries {
            match fields
                .as_deref()
                .and_then(|f| reply::field(f, "id"))
                .map(|id| String::from_utf8_lossy(id).into_owned())
            {
                Some(id) => {
                    pairs.push(entry);
                    pairs.push(id);
                }
                None => orphans.push(entry),
            }
        }
        if !orphans.is_empty() {
            let (key, conn) = (self.keys.ready.clone(), self.conn.clone());
            retrying("XACK", self.config.op_timeout, || {
                let mut c = conn.clone();
                let (key, orphans) = (key.clone(), orphans.clone());
                async move { redis::cmd("XACK").arg(&key).arg(WORKER_GROUP).arg(&orphans).query_async::<i64>(&mut c).await }
            })
            .await?;
        }
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let ttl = ms(self.config.result_ttl);
        let reply: Value = retrying("take", self.config.op_timeout, || {
            let mut c = self.conn.clone();
            let mut call = scripts::TAKE.prepare_invoke();
            call.arg(&self.keys.base)
                .arg(WORKER_GROUP)
                .arg(consumer)
                .arg(self.config.max_attempts)
                .arg(ttl)
                .arg(u8::from(fresh))
                .arg(&pairs);
            async move { call.invoke_async(&mut c).await }
        })
        .await?;
        taken_rows(&reply)
    }

    /// Reads up to `count` new entries for `consumer` and starts their jobs, in one script call
    /// (see `scripts::READ_TAKE`): the entries read (none: the stream had nothing new) and the
    /// jobs to run. Not repeated on failure: the entries of a lost reply are reclaimed later.
    pub(super) async fn read_take(&self, consumer: &str, count: usize) -> Result<(usize, Vec<Taken>), QueueError> {
        let mut c = self.conn.clone();
        let mut call = scripts::READ_TAKE.prepare_invoke();
        call.arg(&self.keys.base)
            .arg(WORKER_GROUP)
            .arg(consumer)
            .arg(self.config.max_attempts)
            .arg(ms(self.config.result_ttl))
            .arg(count);
        let reply: Value = call.invoke_async(&mut c).await.map_err(|e| conn::unavailable("read and take", &e))?;
        let [read, rows] = reply::array(&reply).ok_or_else(|| reply::corrupt("read and take"))? else {
            return Err(reply::corrupt("read and take"));
        };
        let read = reply::int(read).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| reply::corrupt("read"))?;
        Ok((read, taken_rows(rows)?))
    }

    pub(super) async fn renew(&self, consumer: &str, taken_entry: &str, job: &JobId, attempt: u32) -> Renewal {
        let mut c = self.conn.clone();
        let mut call = scripts::RENEW.prepare_invoke();
        call.arg(&self.keys.base).arg(WORKER_GROUP).arg(consumer).arg(&job.0).arg(taken_entry).arg(attempt);
        match call.invoke_async::<i64>(&mut c).await {
            Ok(1) => Renewal::Renewed,
            Ok(_) => Renewal::Lost,
            Err(e) => {
                tracing::warn!(error = %e, job_id = %job, "lease renewal failed");
                Renewal::Failed
            }
        }
    }

    pub(super) async fn record(
        &self,
        consumer: &str,
        taken: &Taken,
        disposition: Disposition,
    ) -> Result<Recorded, QueueError> {
        self.outcomes.call(self.outcome(consumer, taken, disposition)).await
    }

    /// Records an attempt's outcome and, when `wants_next`, starts the next waiting job for the
    /// same slot, through the worker process's `cycles` (one script call for a batch of both).
    pub(super) async fn cycle(
        &self,
        cycles: &Batcher<Cycle, Cycled>,
        consumer: &str,
        taken: &Taken,
        disposition: Disposition,
        wants_next: bool,
    ) -> Result<Cycled, QueueError> {
        cycles.call(Cycle { outcome: self.outcome(consumer, taken, disposition), wants_next }).await
    }

    fn outcome(&self, consumer: &str, taken: &Taken, disposition: Disposition) -> Outcome {
        let job = &taken.job;
        let (outcome, data, delay) = match disposition {
            Disposition::Succeeded(result) => ("succeeded", result, Duration::ZERO),
            Disposition::Failed(result) => ("failed", result, Duration::ZERO),
            Disposition::Retry { error, after } => (
                "retry",
                Bytes::from(error),
                retry_delay(job.attempt, self.config.backoff_base, self.config.backoff_max, after),
            ),
        };
        let record = if outcome == "retry" { Vec::new() } else { done_record(taken, outcome, &data) };
        Outcome {
            consumer: consumer.to_owned(),
            job_id: job.id.0.clone(),
            entry: taken.entry.clone(),
            attempt: job.attempt,
            outcome,
            data,
            delay,
            record,
            secrets: !job.secrets.is_empty(),
        }
    }

    /// The jobs after `id` in its chain (see `scripts::FOLLOWING`), one script call.
    async fn following(
        &self,
        consumer: &str,
        id: &JobId,
        attempt: u32,
        max: usize,
    ) -> Result<Vec<QueuedJob>, QueueError> {
        let reply: Value = retrying("following", self.config.op_timeout, || {
            let mut c = self.conn.clone();
            let mut call = scripts::FOLLOWING.prepare_invoke();
            call.arg(&self.keys.base).arg(consumer).arg(&id.0).arg(attempt).arg(max);
            async move { call.invoke_async(&mut c).await }
        })
        .await?;
        let rows = reply::array(&reply).ok_or_else(|| reply::corrupt("following"))?;
        rows.iter()
            .map(|row| {
                let cols = reply::array(row).filter(|c| c.len() == 3).ok_or_else(|| reply::corrupt("following row"))?;
                let id = reply::string(&cols[0]).ok_or_else(|| reply::corrupt("following id"))?;
                let trace_context: TraceContext = serde_json::from_slice(reply::bytes(&cols[2]).unwrap_or(b"{}"))
                    .map_err(|e| QueueError::Corrupt(format!("trace context of job {id}: {e}")))?;
                Ok(QueuedJob {
                    id: JobId(id),
                    payload: Bytes::copy_from_slice(reply::bytes(&cols[1]).unwrap_or_default()),
                    trace_context,
                })
            })
            .collect()
    }

    /// Runs one started attempt to its recorded outcome.
    pub(super) async fn execute(
        self: &Arc<Self>,
        handler: &dyn JobHandler,
        consumer: &str,
        taken: Taken,
    ) -> Option<Recorded> {
        let disposition = self.attempt(handler, consumer, &taken).await;
        let recorded = self.record(consumer, &taken, disposition).await;
        report(&taken, recorded)
    }

    /// Runs the handler on one started attempt, renewing its lease, to its disposition.
    pub(super) async fn attempt(
        self: &Arc<Self>,
        handler: &dyn JobHandler,
        consumer: &str,
        taken: &Taken,
    ) -> Disposition {
        let renew_every = self.config.visibility_timeout / 3;
        let (id, attempt) = (taken.job.id.clone(), taken.job.attempt);
        let chain =
            Arc::new(ChainView { queue: Arc::clone(self), consumer: consumer.to_owned(), id: id.clone(), attempt });
        run_handler(handler, taken.job.clone(), renew_every, chain, || self.renew(consumer, &taken.entry, &id, attempt))
            .await
    }

    /// Moves due retries to the ready stream; returns how long until the next is due.
    pub(super) async fn promote(&self) -> Result<Option<Duration>, QueueError> {
        let mut c = self.conn.clone();
        let mut call = scripts::PROMOTE.prepare_invoke();
        call.arg(&self.keys.base).arg(1000);
        let (_, wait): (i64, i64) = call.invoke_async(&mut c).await.map_err(|e| conn::unavailable("promote", &e))?;
        Ok(u64::try_from(wait).ok().map(Duration::from_millis))
    }

    /// Claims up to `count` entries whose workers went silent for the visibility timeout.
    pub(super) async fn reclaim(
        &self,
        consumer: &str,
        cursor: &mut String,
        count: usize,
    ) -> Result<Vec<reply::Entry>, QueueError> {
        let mut c = self.conn.clone();
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.keys.ready)
            .arg(WORKER_GROUP)
            .arg(consumer)
            .arg(ms(self.config.visibility_timeout))
            .arg(cursor.as_str())
            .arg("COUNT")
            .arg(count)
            .query_async(&mut c)
            .await
            .map_err(|e| conn::unavailable("XAUTOCLAIM", &e))?;
        let (next, entries) = reply::xautoclaim(&reply)?;
        *cursor = next;
        for (entry, _) in &entries {
            tracing::warn!(entry = %entry, "reclaimed a job whose worker passed its visibility timeout");
        }
        Ok(entries)
    }

    pub(super) async fn read_new(
        &self,
        conn: &mut Connection,
        consumer: &str,
        count: usize,
        block: Option<Duration>,
    ) -> Result<Vec<reply::Entry>, redis::RedisError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(WORKER_GROUP).arg(consumer).arg("COUNT").arg(count);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(ms(block));
        }
        cmd.arg("STREAMS").arg(&self.keys.ready).arg(">");
        let reply: Value = cmd.query_async(conn).await?;
        reply::xread(&reply)
            .map_err(|e| redis::RedisError::from((redis::ErrorKind::Parse, "XREADGROUP", e.to_string())))
    }

    pub(super) async fn trim(&self) -> Result<u64, QueueError> {
        let mut removed = 0;
        for (stream, retention) in [
            (&self.keys.ready, self.config.retention),
            (&self.keys.dead, self.config.dead_letter_retention),
            (&self.keys.events, self.config.retention),
        ] {
            let mut c = self.conn.clone();
            let mut call = scripts::TRIM.prepare_invoke();
            call.arg(stream).arg(ms(retention));
            let n: u64 = call.invoke_async(&mut c).await.map_err(|e| conn::unavailable("trim", &e))?;
            removed += n;
        }
        Ok(removed)
    }

    pub(super) async fn forget_idle_consumers(&self) -> Result<u64, QueueError> {
        let idle = ms(self.config.visibility_timeout.max(Duration::from_secs(3600)) * 2);
        let mut c = self.conn.clone();
        let mut call = scripts::FORGET_CONSUMERS.prepare_invoke();
        call.arg(&self.keys.ready).arg(WORKER_GROUP).arg(idle);
        call.invoke_async(&mut c).await.map_err(|e| conn::unavailable("forget idle consumers", &e))
    }

    async fn read_metrics(&self) -> Result<QueueMetrics, QueueError> {
        let (open, age, in_flight, retries, dead, withdrawn): (u64, i64, u64, u64, u64, u64) =
            retrying("metrics", self.config.op_timeout, || {
                let mut c = self.conn.clone();
                let mut call = scripts::METRICS.prepare_invoke();
                call.arg(&self.keys.base).arg(WORKER_GROUP);
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(QueueMetrics {
            depth: open.saturating_sub(in_flight),
            oldest_age: u64::try_from(age).ok().map(Duration::from_millis),
            in_flight,
            retries,
            withdrawn,
            dead_letters: dead,
        })
    }

    pub(super) async fn publish_metrics(&self) -> Result<QueueMetrics, QueueError> {
        let metrics = self.read_metrics().await?;
        metric_names::publish(&self.config.queue, &metrics);
        Ok(metrics)
    }

    /// Whether the done channel is subscribed now (false before the first `wait`).
    fn notifier_subscribed(&self) -> bool {
        self.notifier.get().is_some_and(|ready| *ready.borrow())
    }

    async fn notifier_ready(&self, patience: Duration) {
        let mut ready = self
            .notifier
            .get_or_init(|| async {
                notifier::spawn(
                    self.redis.clone(),
                    self.keys.done_channel.clone(),
                    Arc::clone(&self.waiters),
                    self.stop.clone(),
                )
            })
            .await
            .clone();
        // Without the subscription a completion could go unnoticed; if Redis is
        // down the status read that follows reports it.
        let _ = tokio::time::timeout(patience.min(self.config.op_timeout), ready.wait_for(|r| *r)).await;
    }
}

/// One attempt's view of its job's chain ([`Job::following`]).
struct ChainView {
    queue: Arc<Inner>,
    consumer: String,
    id: JobId,
    attempt: u32,
}

impl fmt::Debug for ChainView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainView").field("job_id", &self.id).field("attempt", &self.attempt).finish_non_exhaustive()
    }
}

#[async_trait]
impl Chain for ChainView {
    async fn following(&self, max: usize) -> Result<Vec<QueuedJob>, QueueError> {
        self.queue.following(&self.consumer, &self.id, self.attempt, max).await
    }
}

#[async_trait]
impl JobQueue for RedisJobQueue {
    async fn submit(&self, job: NewJob) -> Result<Submitted, QueueError> {
        let inner = &self.inner;
        validate::new_job(&job, inner.config.max_payload_bytes)?;
        let candidate = keys::new_job_id(&job.idempotency_key);
        let span = tracing::info_span!(
            "queue.submit",
            job_id = %candidate,
            ordering_key_digest = %KeyDigest(&job.ordering_key)
        );
        async {
            let trace = serde_json::to_vec(&job.trace_context)
                .map_err(|e| QueueError::Corrupt(format!("trace context cannot be encoded: {e}")))?;
            // Watched before the script runs, while subscribed: a `wait` on
            // the new job can skip its first status read (see `waiters`).
            let watched = inner.notifier_subscribed() && inner.waiters.watch(&candidate);
            let submitted = inner
                .submissions
                .call(Submission {
                    idempotency_key: job.idempotency_key.clone(),
                    fingerprint: job.fingerprint.clone(),
                    candidate: candidate.clone(),
                    ordering_key: job.ordering_key.clone(),
                    payload: job.payload.clone(),
                    secrets: job.secrets.clone(),
                    trace,
                })
                .await;
            if watched && !matches!(&submitted, Ok(Submit::New(id)) if *id == candidate) {
                inner.waiters.unwatch(&candidate);
            }
            match submitted? {
                Submit::New(id) => Ok(Submitted { job_id: JobId(id), duplicate: false }),
                Submit::Duplicate(id) => {
                    tracing::debug!(existing_job_id = %id, "idempotency key seen before; returning the existing job");
                    Ok(Submitted { job_id: JobId(id), duplicate: true })
                }
                Submit::Reused(id, fingerprint) => {
                    tracing::debug!(existing_job_id = %id, "idempotency key in use for another request");
                    Err(QueueError::KeyReused { existing: JobId(id), fingerprint })
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn find(&self, idempotency_key: &str) -> Result<Option<KeyedJob>, QueueError> {
        let key = self.inner.keys.job_of_key(idempotency_key);
        let fields: Vec<Option<String>> = retrying("find", self.inner.config.op_timeout, || {
            let mut c = self.inner.conn.clone();
            let key = key.clone();
            async move {
                redis::cmd("HMGET").arg(&key).arg("id").arg("idem").arg("fp").arg("status").query_async(&mut c).await
            }
        })
        .await?;
        let [id, idem, fingerprint, status] =
            <[Option<String>; 4]>::try_from(fields).map_err(|_| reply::corrupt("HMGET"))?;
        let (Some(id), Some(idem)) = (id, idem) else { return Ok(None) };
        if idem != idempotency_key {
            // Another key with the same digest: this key has no job.
            return Ok(None);
        }
        let status = status
            .as_deref()
            .and_then(parse_status)
            .ok_or_else(|| QueueError::Corrupt(format!("job {id} has status {status:?}")))?;
        Ok(Some(KeyedJob { job_id: JobId(id), fingerprint: fingerprint.unwrap_or_default(), status }))
    }

    async fn wait(&self, id: &JobId, timeout: Duration) -> Result<Option<JobState>, QueueError> {
        self.inner.notifier_ready(timeout).await;
        wait_for_final(&self.inner.waiters, id, timeout, || self.status(id)).await
    }

    async fn status(&self, id: &JobId) -> Result<Option<JobState>, QueueError> {
        let Some(key) = self.inner.keys.job(&id.0) else { return Ok(None) };
        let fields: HashMap<String, Vec<u8>> = retrying("status", self.inner.config.op_timeout, || {
            let mut c = self.inner.conn.clone();
            let key = key.clone();
            async move { redis::cmd("HGETALL").arg(&key).query_async(&mut c).await }
        })
        .await?;
        // The hash belongs to the idempotency key: it may hold a later job of the same key now.
        if fields.get("id").map(Vec::as_slice) != Some(id.0.as_bytes()) {
            return Ok(None);
        }
        parse_state(id, fields)
    }

    async fn withdraw(&self, id: &JobId) -> Result<Withdrawal, QueueError> {
        let inner = &self.inner;
        if inner.keys.job(&id.0).is_none() {
            return Ok(Withdrawal::Unknown);
        }
        let ttl = ms(inner.config.result_ttl).to_string();
        let replicas = inner.config.replicas_to_wait_for();
        // Safe to repeat: a withdrawn job answers as it did. Acknowledged only once as durable as a
        // submission: a withdrawal lost in a failover would run a job its submitter was told never runs.
        let answer: String = retrying("withdraw", inner.config.op_timeout, || {
            let mut c = inner.conn.clone();
            let args: Vec<&[u8]> =
                vec![inner.keys.base.as_bytes(), WORKER_GROUP.as_bytes(), ttl.as_bytes(), id.0.as_bytes()];
            async move { replicated(&mut c, &scripts::WITHDRAW, &args, replicas).await }
        })
        .await?;
        let withdrawal = match answer.as_str() {
            "withdrawn" => Withdrawal::Withdrawn { behind: false },
            "withdrawn behind" => Withdrawal::Withdrawn { behind: true },
            "taken" => Withdrawal::Taken,
            "unknown" => Withdrawal::Unknown,
            _ => return Err(reply::corrupt("withdraw")),
        };
        if let Withdrawal::Withdrawn { behind } = withdrawal {
            tracing::info!(job_id = %id, behind, "job withdrawn before any worker took it");
        }
        Ok(withdrawal)
    }

    async fn try_execute_job(&self, handler: &dyn JobHandler) -> Result<bool, QueueError> {
        let inner = &self.inner;
        inner.promote().await?;
        let consumer = format!("{}-step", inner.instance);
        let mut cursor = "0-0".to_owned();
        let mut conn = inner.conn.clone();
        loop {
            let mut entries = inner.reclaim(&consumer, &mut cursor, 1).await?;
            let fresh = entries.is_empty();
            if fresh {
                entries = match inner.read_new(&mut conn, &consumer, 1, None).await {
                    Ok(entries) => entries,
                    Err(e) if conn::is_nogroup(&e) => {
                        inner.ensure_group().await?;
                        continue;
                    }
                    Err(e) => return Err(conn::unavailable("XREADGROUP", &e)),
                };
            }
            if entries.is_empty() {
                return Ok(false);
            }
            // A stale entry yields no job; look at the next one.
            if let Some(taken) = inner.take(&consumer, entries, fresh).await?.into_iter().next() {
                inner.execute(handler, &consumer, taken).await;
                return Ok(true);
            }
        }
    }

    async fn run_workers(
        &self,
        handler: Arc<dyn JobHandler>,
        concurrency: usize,
        shutdown: CancellationToken,
    ) -> Result<(), QueueError> {
        workers::run(Arc::clone(&self.inner), handler, concurrency, shutdown).await
    }

    async fn metrics(&self) -> Result<QueueMetrics, QueueError> {
        self.inner.publish_metrics().await
    }

    async fn dead_letters(&self, after: Option<&str>, count: usize) -> Result<DeadLetterPage, QueueError> {
        let start = match after {
            None => "+".to_owned(),
            Some(cursor) if is_stream_id(cursor) => format!("({cursor}"),
            Some(cursor) => return Err(QueueError::Invalid(format!("{cursor:?} is not a dead-letter cursor"))),
        };
        let mut page = self.dead_range(&start, "-", count.saturating_add(1)).await?;
        let more = page.len() > count;
        page.truncate(count);
        Ok(DeadLetterPage {
            next: if more { page.last().map(|(entry, _)| entry.clone()) } else { None },
            items: page.into_iter().map(|(_, d)| d).collect(),
        })
    }

    async fn dead_letter(&self, id: &JobId) -> Result<Option<DeadLetter>, QueueError> {
        Ok(self.find_dead(id).await?.map(|(_, d)| d))
    }

    async fn discard_dead_letter(&self, id: &JobId) -> Result<bool, QueueError> {
        let Some((entry, _)) = self.find_dead(id).await? else { return Ok(false) };
        let key = self.inner.keys.dead.clone();
        let removed: u64 = retrying("XDEL dead letter", self.inner.config.op_timeout, || {
            let mut c = self.inner.conn.clone();
            let (key, entry) = (key.clone(), entry.clone());
            async move { redis::cmd("XDEL").arg(&key).arg(&entry).query_async(&mut c).await }
        })
        .await?;
        Ok(removed > 0)
    }

    async fn ping(&self) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut c).await.map(|_| ()).map_err(|e| conn::unavailable("PING", &e))
    }
}

/// A stream entry id, `<ms>-<seq>`: what a dead-letter cursor must be.
fn is_stream_id(text: &str) -> bool {
    text.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(candidate: &str) -> Submission {
        Submission {
            candidate: candidate.to_owned(),
            idempotency_key: "k".to_owned(),
            fingerprint: "fp".to_owned(),
            ordering_key: "o".to_owned(),
            payload: Bytes::new(),
            secrets: Bytes::new(),
            trace: b"{}".to_vec(),
        }
    }

    fn text(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_new_jobs_submit_row_is_a_bare_zero_and_the_others_keep_their_id_and_fingerprint() {
        let jobs = [submission("new.1"), submission("dup.2"), submission("reused.3"), submission("repeated.4")];
        let reply = Value::Array(vec![
            Value::Int(0),
            Value::Array(vec![text("first.2"), Value::Int(1), text("fp")]),
            Value::Array(vec![text("first.3"), Value::Int(2), text("other")]),
            Value::Array(vec![text("repeated.4"), Value::Int(0), text("fp")]),
        ]);
        let rows = submitted_rows(&reply, &jobs).unwrap();
        assert!(matches!(&rows[0], Submit::New(id) if id == "new.1"));
        assert!(matches!(&rows[1], Submit::Duplicate(id) if id == "first.2"));
        assert!(matches!(&rows[2], Submit::Reused(id, fp) if id == "first.3" && fp == "other"));
        assert!(matches!(&rows[3], Submit::New(id) if id == "repeated.4"));
        // A row per job, or the reply is corrupt.
        assert!(submitted_rows(&Value::Array(vec![Value::Int(0)]), &jobs).is_err());
        assert!(submitted_rows(&Value::Array(vec![Value::Int(3); 4]), &jobs).is_err());
    }

    /// An outcome is recorded only for the attempt that owns the job (same consumer, same attempt
    /// number, compared as the script stores them), and recording it again is harmless.
    #[tokio::test]
    async fn an_outcome_is_fenced_by_owner_and_attempt_and_a_repeated_one_changes_nothing() {
        let config = QueueConfig {
            redis: Some(crate::RedisSettings::url(test_support::redis_url())),
            prefix: test_support::unique_prefix("jq-fence"),
            ..QueueConfig::default()
        };
        let queue = RedisJobQueue::connect(&config).await.expect("the tests need Redis at REDIS_URL");
        let submitted = queue
            .submit(NewJob {
                idempotency_key: "fenced".to_owned(),
                fingerprint: String::new(),
                ordering_key: "User/1".to_owned(),
                payload: Bytes::from_static(b"p"),
                secrets: Bytes::new(),
                trace_context: TraceContext::new(),
            })
            .await
            .unwrap();
        let inner = &queue.inner;
        let consumer = inner.new_consumer();
        let (read, mut taken) = inner.read_take(&consumer, 4).await.unwrap();
        assert_eq!((read, taken.len()), (1, 1));
        let taken = taken.remove(0);
        assert_eq!((&taken.job.id, taken.job.attempt), (&submitted.job_id, 1));
        let ok = || Disposition::Succeeded(Bytes::from_static(b"r"));

        let mut later = taken.clone();
        later.job.attempt = 2;
        assert_eq!(inner.record(&consumer, &later, ok()).await.unwrap(), Recorded::Stale, "another attempt");
        assert_eq!(inner.record("someone-else", &taken, ok()).await.unwrap(), Recorded::Stale, "another owner");
        assert_eq!(queue.status(&taken.job.id).await.unwrap().unwrap().status, crate::JobStatus::Running);

        assert_eq!(inner.record(&consumer, &taken, ok()).await.unwrap(), Recorded::Final);
        assert_eq!(inner.record(&consumer, &taken, ok()).await.unwrap(), Recorded::Final, "a repeated call");
        assert_eq!(inner.record(&consumer, &later, ok()).await.unwrap(), Recorded::Stale, "after the end too");
        let state = queue.wait(&taken.job.id, Duration::from_secs(5)).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (crate::JobStatus::Succeeded, 1));
        assert_eq!(state.result.as_deref(), Some(&b"r"[..]));
    }

    /// A worker's blocking read and the script that starts the attempt are two calls: a job
    /// withdrawn between them is skipped (its entry acknowledged), never started.
    #[tokio::test]
    async fn a_job_withdrawn_after_a_worker_read_its_entry_is_skipped_and_never_started() {
        let config = QueueConfig {
            redis: Some(crate::RedisSettings::url(test_support::redis_url())),
            prefix: test_support::unique_prefix("jq-withdraw-read"),
            ..QueueConfig::default()
        };
        let queue = RedisJobQueue::connect(&config).await.expect("the tests need Redis at REDIS_URL");
        let job = NewJob {
            idempotency_key: "withdrawn-while-read".to_owned(),
            fingerprint: String::new(),
            ordering_key: "User/1".to_owned(),
            payload: Bytes::from_static(b"p"),
            secrets: Bytes::from_static(b"sealed"),
            trace_context: TraceContext::new(),
        };
        let id = queue.submit(job).await.unwrap().job_id;
        let inner = &queue.inner;
        let consumer = inner.new_consumer();
        let mut conn = inner.conn.clone();
        let entries = inner.read_new(&mut conn, &consumer, 4, None).await.unwrap();
        assert_eq!(entries.len(), 1, "the worker read the job's entry");

        assert_eq!(queue.withdraw(&id).await.unwrap(), Withdrawal::Withdrawn { behind: false });
        let taken = inner.take(&consumer, entries, true).await.unwrap();
        assert!(taken.is_empty(), "the withdrawn job was started");
        let state = queue.status(&id).await.unwrap().unwrap();
        assert_eq!((state.status, state.attempts), (crate::JobStatus::Withdrawn, 0));
        let mut c = inner.conn.clone();
        let pending: Value =
            redis::cmd("XPENDING").arg(&inner.keys.ready).arg(WORKER_GROUP).query_async(&mut c).await.unwrap();
        assert_eq!(reply::array(&pending).and_then(|summary| reply::int(&summary[0])), Some(0), "nothing pending");
        let entries: u64 = redis::cmd("XLEN").arg(&inner.keys.ready).query_async(&mut c).await.unwrap();
        assert_eq!(entries, 0, "its entry left the ready stream");
        let secrets: bool =
            redis::cmd("HEXISTS").arg(inner.keys.job(&id.0).unwrap()).arg("secrets").query_async(&mut c).await.unwrap();
        assert!(!secrets, "a withdrawn job keeps no secrets");
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}:*", config.prefix)).query_async(&mut c).await.unwrap_or_default();
        let _: i64 = redis::cmd("UNLINK").arg(&keys).query_async(&mut c).await.unwrap();
    }

    #[test]
    fn take_rows_come_nine_values_a_job_in_one_flat_array() {
        let row = |id: &str, last_error: Value| {
            vec![
                text(&format!("1-{id}")),
                text(id),
                text("okey"),
                text("payload"),
                text("{}"),
                Value::Int(2),
                text("1700000000000"),
                last_error,
                text(""),
            ]
        };
        let reply = Value::Array([row("a.1", Value::Nil), row("b.2", text("boom"))].concat());
        let taken = taken_rows(&reply).unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!((taken[0].entry.as_str(), taken[0].job.id.0.as_str()), ("1-a.1", "a.1"));
        assert_eq!((taken[0].job.attempt, taken[0].last_error.as_deref()), (2, None));
        assert_eq!((taken[1].job.id.0.as_str(), taken[1].last_error.as_deref()), ("b.2", Some("boom")));
        assert_eq!(taken[1].submitted, "1700000000000");
        assert!(taken_rows(&Value::Array(row("c.3", Value::Nil)[..8].to_vec())).is_err());
    }

    /// The worker's done record begins with the length of the job's whole message, which the
    /// script completes with the result and a 25-byte `updated` (a 13-digit time).
    #[test]
    fn a_done_record_is_prefixed_with_the_length_of_the_whole_message() {
        let reply = Value::Array(vec![
            text("1-0"),
            text("a.1"),
            text("User/1"),
            text("payload"),
            text("{}"),
            Value::Int(2),
            text("1700000000000"),
            text("boom"),
            text(""),
        ]);
        let taken = taken_rows(&reply).unwrap().remove(0);
        let result = b"a:b\x00";
        let mut message = done_record(&taken, "succeeded", result);
        message.extend_from_slice(result);
        message.extend_from_slice(b"7:updated13:1700000000123");
        let states = crate::redis_streams::state::parse_done(&message);
        assert_eq!(states.len(), 1, "one whole netstring");
        let state = &states[0];
        assert_eq!((state.job_id.0.as_str(), state.status, state.attempts), ("a.1", crate::JobStatus::Succeeded, 2));
        assert_eq!(state.result.as_deref(), Some(&result[..]));
        assert_eq!(state.last_error.as_deref(), Some("boom"));
        assert_eq!(UPDATED_LEN, b"7:updated13:1700000000123".len());
    }
}
