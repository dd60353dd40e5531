//! Writes as jobs: submit a [`Job`] (the `adapter-api` job contract: its encoding and its ordering
//! key) with its idempotency key, wait for its result with a deadline, and turn what came back
//! into a resource or an error.
//!
//! - Idempotency key: `<connection>/<client's Idempotency-Key>` when the
//!   client sent one, else a fresh UUID. The key belongs to its request: the
//!   request's [`Fingerprint`] (method, path, digest of the body) is stored
//!   with the job, and the queue compares it on every later submission of the
//!   key. The same request again replays the first answer once it is known,
//!   and is `409` while the first still runs; another request with the key is
//!   `422`, naming what differs. Nothing is submitted in either case.
//! - Passwords: sealed with the gateway's job keys before the job is submitted, so that the
//!   queue never holds one in clear (see `adapter_api::sealing`).
//! - Deadline: when the wait ends (at `job_deadline`, or earlier at the caller's own deadline: a
//!   Bulk's `bulk_deadline`) and no worker has taken the job yet, the job is withdrawn from the
//!   queue (atomically: see `job_queue::JobQueue::withdraw`), so that it never runs, and the
//!   answer is `503` with `Retry-After` saying that the change was not applied: a client told "no"
//!   can rely on it (most clients send no `Idempotency-Key`, and could never learn of a change
//!   applied behind their back later). Only a job no worker ever took is withdrawn: one that had an
//!   attempt may have made part of its change. When a worker has taken it, the answer is its
//!   outcome if it has one by then, else `504` naming the job id (the job still runs; the client
//!   may re-send with the same `Idempotency-Key` once it finished, to get its result). The same
//!   request sent again after a withdrawal runs as a new job, under its key too.
//! - A dead-lettered job (Secret Server kept failing) is `503` with
//!   `Retry-After`; the instance's circuit breaker counts it, a timeout of a job a worker
//!   had started, and a job withdrawn at its deadline while it headed its resource (taken by no
//!   worker: the adapters are down or saturated). A job still queued behind the earlier jobs of its
//!   resource when its deadline passes (the client's own backlog) says nothing about the instance
//!   and is not counted, whether withdrawn or not; nor is a wait the caller's own deadline cut short.

use crate::circuit_breaker::{Admission, CircuitBreaker};
use crate::errors::ApiError;
use adapter_api::job::decode_result;
use adapter_api::{Job, JobKeys, Written};
use job_queue::{JobId, JobQueue, JobStatus, QueueError, Withdrawal};
use service_error::{ErrorKind, ServiceError};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One write, ready to submit.
#[derive(Debug, Clone)]
pub struct Write {
    pub job: Job,
    /// The Secret Server instance of the connection (for the ordering key and the breaker).
    pub instance: String,
    /// Already scoped by connection, or `None` for a fresh UUID.
    pub idempotency_key: Option<String>,
    /// The request the idempotency key belongs to.
    pub fingerprint: Fingerprint,
}

/// What an `Idempotency-Key` belongs to: the request's method, its path below the SCIM base and a
/// digest of its body (the connection is part of the key itself). Its text form, which the queue
/// stores with the job, is `<METHOD> <path> <digest>`: the method and the path (ids only, never
/// personal data) stay readable, so that a refusal can say what differs.
///
/// The digest leaves credentials out (the values of `password` and other credential-named members,
/// and the value of a PATCH operation whose path names one): a digest of a password would let
/// whoever reads the queue test guesses of it, where the job itself keeps no clear password. Two
/// requests that differ only in a password therefore count as the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    method: String,
    path: String,
    body: String,
}

impl Fingerprint {
    /// The fingerprint of `method` on `path` (below `/scim/v2`, e.g. `/Users/12`) with `body`.
    pub fn new(method: &str, path: &str, body: &[u8]) -> Self {
        let digest = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(mut json) => {
                without_credentials(&mut json);
                Sha256::digest(json.to_string())
            }
            Err(_) => Sha256::digest(body),
        };
        Self { method: method.to_ascii_uppercase(), path: path.to_owned(), body: hex::encode(&digest[..16]) }
    }

    /// Reads the text form back; `None` for text another version of the gateway stored.
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ' ');
        let (method, path, body) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Self { method: method.to_owned(), path: path.to_owned(), body: body.to_owned() })
    }

    /// What a later request with the key (`self`) does differently from the first (`first`, as
    /// stored), for the refusal's detail.
    pub(crate) fn mismatch(&self, first: &str) -> String {
        let advice = "An Idempotency-Key belongs to one request: send a new key for a new request.";
        match Fingerprint::parse(first) {
            Some(first) if first.method == self.method && first.path == self.path => format!(
                "this Idempotency-Key was first used for {} {} with a different body. {advice}",
                first.method, first.path
            ),
            Some(first) => format!(
                "this Idempotency-Key was first used for {} {}; this request is {} {}. {advice}",
                first.method, first.path, self.method, self.path
            ),
            None => format!("this Idempotency-Key was first used for another request. {advice}"),
        }
    }
}

/// Removes every credential from a request body: credential-named members at any depth, and the
/// `value` of PATCH operations (also inside a Bulk's operations) whose `path` names a credential.
fn without_credentials(json: &mut serde_json::Value) {
    audit_events::scrub::scrub_secrets(json);
    match json {
        serde_json::Value::Object(map) => {
            let secret_path = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, v)| v.as_str())
                .is_some_and(audit_events::scrub::is_secret_key);
            for (key, value) in map.iter_mut() {
                if secret_path && key.eq_ignore_ascii_case("value") {
                    *value = serde_json::Value::Null;
                } else {
                    without_credentials(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_credentials),
        _ => {}
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.method, self.path, self.body)
    }
}

/// Submits writes and waits for their outcome.
#[derive(Debug, Clone)]
pub struct Jobs {
    queue: Arc<dyn JobQueue>,
    deadline: Duration,
    /// Seal the jobs' passwords: never in clear in the queue.
    keys: JobKeys,
}

impl Jobs {
    pub fn new(queue: Arc<dyn JobQueue>, deadline: Duration, keys: JobKeys) -> Self {
        Self { queue, deadline, keys }
    }

    /// The queue underneath (for `/readyz`).
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.queue
    }

    /// Submits `write` and waits for its result, guarded by `breaker`, until the job deadline or
    /// `until`, whichever comes first.
    ///
    /// # Errors
    /// The job's own error (as the adapter classified it), `503` when the breaker is open, the job
    /// was dead-lettered, or it was withdrawn when the deadline passed before any worker took it
    /// (the change was not applied), `504` when the deadline passed after a worker took it; for a
    /// key used before, `409` while its first request runs and `422` for another request.
    pub async fn run(
        &self,
        write: Write,
        breaker: &CircuitBreaker,
        until: Option<Instant>,
    ) -> Result<Written, ApiError> {
        let permit = match breaker.admit() {
            Admission::Allowed(permit) => permit,
            Admission::Rejected { retry_after } => {
                return Err(ServiceError::unavailable(format!(
                    "Secret Server instance {:?} is failing; writes are paused (circuit breaker open)",
                    write.instance
                ))
                .with_retry_after(retry_after)
                .into());
            }
        };
        // Dropped with this future when the client goes away: a probe then frees its slot.
        let (outcome, cut_short, says_nothing) = self.submit_and_wait(write, until).await;
        match &outcome {
            // A timeout (or a withdrawal at the deadline) says nothing about the instance when the
            // wait was cut short by the caller's own deadline, or when the job was still queued
            // behind the jobs before it for its resource (the client's own backlog): the permit
            // goes without an outcome (a probe's slot is freed for the next request). A job that
            // headed its resource and was taken by no worker counts, withdrawn as it is: the
            // adapters are down or saturated, and the breaker's fast 503 spares the next writes
            // the whole deadline. The queue's own failures say nothing about the instance either.
            Err(e) if e.error.kind == ErrorKind::DeadlineExceeded && cut_short => drop(permit),
            Err(_) if says_nothing => drop(permit),
            Err(e) if matches!(e.error.kind, ErrorKind::Unavailable | ErrorKind::DeadlineExceeded) => permit.failed(),
            _ => permit.succeeded(),
        }
        outcome
    }

    /// The job a client's idempotency key names now, and the fingerprint it was submitted with.
    ///
    /// # Errors
    /// `503` when the queue cannot be reached.
    pub async fn find(&self, idempotency_key: &str) -> Result<Option<job_queue::KeyedJob>, ApiError> {
        Ok(self.queue.find(idempotency_key).await.map_err(queue_error)?)
    }

    /// The outcome; whether the wait for it was cut short by `until` (a timeout then says nothing
    /// about the instance); and whether its error says nothing about the instance (the job was still
    /// behind its resource's earlier jobs, it was withdrawn at a deadline `until` cut short, or the
    /// queue failed).
    async fn submit_and_wait(&self, write: Write, until: Option<Instant>) -> (Result<Written, ApiError>, bool, bool) {
        let wait = match until {
            Some(until) => self.deadline.min(until.saturating_duration_since(Instant::now())),
            None => self.deadline,
        };
        let cut_short = wait < self.deadline;
        let mut says_nothing = false;
        let outcome = self.submit_and_wait_for(write, wait, cut_short, &mut says_nothing).await;
        (outcome, cut_short, says_nothing)
    }

    /// The outcome; `says_nothing` is set when an error in it says nothing about the instance: the
    /// wait ended with the job still queued behind an earlier job of its resource, the job was
    /// withdrawn at a deadline the caller `cut_short`, or the queue could not be asked.
    async fn submit_and_wait_for(
        &self,
        write: Write,
        wait: Duration,
        cut_short: bool,
        says_nothing: &mut bool,
    ) -> Result<Written, ApiError> {
        let keyed = write.idempotency_key.is_some();
        let idempotency_key = write.idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut submission = write.job.submission(
            &write.instance,
            idempotency_key.clone(),
            telemetry::current_trace_context(),
            &self.keys,
        );
        submission.fingerprint = write.fingerprint.to_string();
        let submitted = match self.queue.submit(submission).await {
            Ok(submitted) => submitted,
            Err(QueueError::KeyReused { fingerprint, .. }) => {
                return Err(ApiError::unprocessable(write.fingerprint.mismatch(&fingerprint)));
            }
            Err(e) => {
                // A submission whose confirmation failed (a replica that did not acknowledge it in
                // time, a connection lost after the write) may have been taken all the same: then
                // it will run, and "retry later" would be untrue. Its key says.
                match self.queue.find(&idempotency_key).await {
                    Ok(Some(keyed)) if keyed.fingerprint == write.fingerprint.to_string() => {
                        tracing::warn!(job = %keyed.job_id, error = %e, "a submission reported failed was taken");
                        job_queue::Submitted { job_id: keyed.job_id, duplicate: false }
                    }
                    _ => {
                        *says_nothing = true;
                        return Err(queue_error(e).into());
                    }
                }
            }
        };
        let job_id = submitted.job_id;
        if keyed && submitted.duplicate {
            return self.replay(&job_id).await;
        }
        let state = match self.queue.wait(&job_id, wait).await {
            Ok(state) => state,
            Err(e) => {
                // The job was accepted: whether it ran is not known, which a 503 ("retry later")
                // would hide; a queue outage says nothing about the instance either.
                tracing::warn!(job = %job_id, error = %e, "the job queue could not be asked for a job's outcome");
                *says_nothing = true;
                return Err(outcome_unknown(&job_id).into());
            }
        };
        match state {
            Some(state) if state.status.is_final() => return Ok(outcome(&job_id, &state)?),
            // Queued when `wait` last read it: perhaps taken since, which the withdrawal tells.
            Some(state) if state.status == JobStatus::Queued => {}
            // A worker took it (it runs, or waits to run again): it may have applied part of the
            // change, and will go on. Or the queue forgot it.
            _ => return Err(outcome_unknown(&job_id).into()),
        }
        self.withdraw(&job_id, wait, cut_short, says_nothing).await
    }

    /// The answer for job `job_id`, queued when its wait of `wait` ended: withdrawn if no worker
    /// has taken it (`503`, not applied), else its outcome if it has one now, else `504`.
    async fn withdraw(
        &self,
        job_id: &JobId,
        wait: Duration,
        cut_short: bool,
        says_nothing: &mut bool,
    ) -> Result<Written, ApiError> {
        match self.queue.withdraw(job_id).await {
            Ok(Withdrawal::Withdrawn { behind }) => {
                // Counted as the timeout of the same job was before withdrawals: a job that headed
                // its resource waited for a worker in vain; one behind it, or one whose wait the
                // caller cut short, says nothing about the instance.
                *says_nothing = behind || cut_short;
                tracing::warn!(job = %job_id, behind, waited = ?wait, "withdrew a job no worker took by its deadline");
                Err(withdrawn(job_id, wait, behind).into())
            }
            // Taken since `wait` read it: it may even have ended.
            Ok(Withdrawal::Taken) => match self.queue.status(job_id).await {
                Ok(Some(state)) if state.status.is_final() => Ok(outcome(job_id, &state)?),
                _ => Err(outcome_unknown(job_id).into()),
            },
            Ok(Withdrawal::Unknown) => Err(outcome_unknown(job_id).into()),
            Err(e) => {
                // Whether it was withdrawn is not known, so it may still run: `504`, as when the
                // queue cannot give an outcome. A queue outage says nothing about the instance.
                tracing::warn!(job = %job_id, error = %e, "the job queue could not withdraw a job at its deadline");
                *says_nothing = true;
                Err(outcome_unknown(job_id).into())
            }
        }
    }

    /// The answer of the first request with a key: its result once final, `409` while it runs.
    async fn replay(&self, job_id: &JobId) -> Result<Written, ApiError> {
        match self.queue.status(job_id).await.map_err(queue_error)? {
            Some(state) if state.status.is_final() => {
                tracing::debug!(job = %job_id, "replaying the result of the key's first request");
                Ok(outcome(job_id, &state)?)
            }
            Some(_) => Err(still_running(job_id)),
            // Forgotten between the submission and this read (its result expired): the client
            // may send it again, which then runs as new.
            None => Err(ServiceError::unavailable(format!(
                "the result of the first request with this Idempotency-Key (job {job_id}) just expired; retry"
            ))
            .with_retry_after(1)
            .into()),
        }
    }
}

/// `504`: the job was accepted and its outcome is not known yet (it may still be applied).
fn outcome_unknown(job_id: &JobId) -> ServiceError {
    ServiceError::new(
        ErrorKind::DeadlineExceeded,
        format!(
            "the change is still being applied (job {job_id}); retry with the same Idempotency-Key once it has \
             finished to get its result"
        ),
    )
    .with_retry_after(5)
}

/// `503`: the job was withdrawn after waiting `waited` for a worker (or, `behind`, for the earlier
/// jobs of its resource): the change was not applied, and never will be.
fn withdrawn(job_id: &JobId, waited: Duration, behind: bool) -> ServiceError {
    let why =
        if behind { "it was still waiting behind earlier changes to the same resource" } else { "no adapter took it" };
    ServiceError::unavailable(format!(
        "the change was not applied: {why} within {} s, so it was withdrawn (job {job_id}) and will not be \
         applied later; send it again",
        // In milliseconds: a Bulk's wait is what was left of its deadline.
        Duration::from_millis(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)).as_secs_f64()
    ))
    .with_retry_after(WITHDRAWN_RETRY_AFTER)
}

/// The `Retry-After` of a withdrawn write, in seconds.
const WITHDRAWN_RETRY_AFTER: u32 = 5;

/// `409`: the first request with this key has not finished.
pub fn still_running(job_id: &JobId) -> ApiError {
    ApiError::from(ServiceError::new(
        ErrorKind::AlreadyExists,
        format!(
            "the first request with this Idempotency-Key is still being applied (job {job_id}); \
             retry once it has finished to get its result"
        ),
    ))
}

/// What a final job answers: its result, or `503` when it was dead-lettered or withdrawn.
fn outcome(job_id: &JobId, state: &job_queue::JobState) -> Result<Written, ServiceError> {
    match state.status {
        JobStatus::Withdrawn => Err(ServiceError::unavailable(format!(
            "the change was not applied: no adapter took it in time, so it was withdrawn (job {job_id}) and will \
             not be applied later; send it again"
        ))
        .with_retry_after(WITHDRAWN_RETRY_AFTER)),
        JobStatus::DeadLettered => {
            tracing::warn!(job = %job_id, error = ?state.last_error, "job dead-lettered");
            // Not "not applied": an attempt may have made part of the change before Secret Server
            // failed for good (a create, then its roles), and nothing undoes it.
            Err(ServiceError::unavailable(format!(
                "Secret Server is unavailable and the change could not be completed (job {job_id}); an attempt may \
                 have applied part of it before failing: read the resource before sending it again"
            ))
            .with_retry_after(30))
        }
        _ => decode_result(state.result.as_deref().unwrap_or_default()),
    }
}

pub(crate) fn queue_error(e: QueueError) -> ServiceError {
    match e {
        QueueError::Unavailable(detail) => {
            tracing::warn!(%detail, "job queue unavailable");
            ServiceError::unavailable("the job queue is unavailable; retry later").with_retry_after(5)
        }
        QueueError::Invalid(detail) => ServiceError::new(ErrorKind::PayloadTooLarge, detail),
        other => {
            tracing::error!(error = %other, "job queue failure");
            ServiceError::internal("job queue failure")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::BreakerSettings;
    use adapter_api::Operation;
    use job_queue::{Disposition, InProcessQueue, JobHandler, QueueConfig};
    use scim::ResourceKind;

    /// A worker's handler that never finishes a job: Secret Server does not answer.
    struct Unanswered;

    #[async_trait::async_trait]
    impl JobHandler for Unanswered {
        async fn handle(&self, _job: job_queue::Job) -> Disposition {
            std::future::pending().await
        }
    }

    /// A worker's handler that answers every job at once.
    struct Answered;

    #[async_trait::async_trait]
    impl JobHandler for Answered {
        async fn handle(&self, _job: job_queue::Job) -> Disposition {
            Disposition::Succeeded(Written::Deleted.encode())
        }
    }

    /// Jobs on an in-process queue with a deadline of a second, and a breaker that opens after
    /// two failures.
    fn jobs_and_breaker() -> (Jobs, CircuitBreaker) {
        let queue = Arc::new(InProcessQueue::new(&QueueConfig::default()).unwrap());
        let jobs = Jobs::new(queue, Duration::from_secs(1), JobKeys::ephemeral());
        let settings = BreakerSettings { failure_threshold: 2, ..BreakerSettings::default() };
        (jobs, CircuitBreaker::new("instance:primary", settings))
    }

    /// Runs `write` while a worker takes the job that is ready once it is submitted (its own, or
    /// none when it waits behind another) and never finishes it.
    async fn run_beside_an_unanswered_worker(
        jobs: &Jobs,
        breaker: &CircuitBreaker,
        write: Write,
    ) -> Result<Written, ApiError> {
        run_beside_a_worker(jobs, breaker, write, &Unanswered).await
    }

    /// Runs `write` while a worker takes the job that is ready once it is submitted (its own, or
    /// none when it waits behind another) and runs `handler` on it, once.
    async fn run_beside_a_worker(
        jobs: &Jobs,
        breaker: &CircuitBreaker,
        write: Write,
        handler: &dyn JobHandler,
    ) -> Result<Written, ApiError> {
        let worker = async {
            let _ = jobs.queue().try_execute_job(handler).await;
            std::future::pending::<()>().await;
        };
        tokio::select! {
            // The write first: it is submitted before the worker looks for a job.
            biased;
            outcome = jobs.run(write, breaker, None) => outcome,
            () = worker => unreachable!("the worker never finishes"),
        }
    }

    /// An in-process queue whose faults a test switches on.
    fn faulty_queue() -> job_queue::testing::FaultyQueue {
        job_queue::testing::FaultyQueue::new(Arc::new(InProcessQueue::new(&QueueConfig::default()).unwrap()))
    }

    /// The instance's breaker, open after one failure: whether an outcome counts shows at once.
    fn breaker_opening_at_the_first_failure() -> CircuitBreaker {
        CircuitBreaker::new("instance:primary", BreakerSettings { failure_threshold: 1, ..BreakerSettings::default() })
    }

    /// A PATCH of user `id` (its jobs share that user's ordering key).
    fn patch_of_user(id: &str) -> Write {
        let body = serde_json::json!({"schemas": [scim::urn::PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": "T"}]});
        let job = Job::new("test", ResourceKind::User, Operation::Patch, id, body).unwrap();
        let fingerprint = Fingerprint::new("PATCH", &format!("/Users/{id}"), b"{}");
        Write { job, instance: "primary".to_owned(), idempotency_key: None, fingerprint }
    }

    /// The same PATCH of user `id`, sent with the client's `Idempotency-Key` `key`.
    fn keyed_patch_of_user(id: &str, key: &str) -> Write {
        Write { idempotency_key: Some(format!("test/{key}")), ..patch_of_user(id) }
    }

    /// Whether `outcome` is the `503` of a write withdrawn at its deadline (not applied).
    fn withdrawn_not_applied(outcome: &Result<Written, ApiError>) -> bool {
        outcome.as_ref().is_err_and(|e| {
            e.error.kind == ErrorKind::Unavailable
                && e.error.retry_after.is_some()
                && e.error.detail.starts_with("the change was not applied")
                && e.error.detail.contains("withdrawn")
        })
    }

    fn refused_by_the_breaker(outcome: &Result<Written, ApiError>) -> bool {
        outcome
            .as_ref()
            .is_err_and(|e| e.error.kind == ErrorKind::Unavailable && e.error.detail.contains("circuit breaker open"))
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_of_writes_still_queued_behind_their_resource_do_not_open_the_breaker() {
        let (jobs, breaker) = jobs_and_breaker();
        // The first write of user 12 runs and gets no answer: a failure of the instance.
        let first = run_beside_an_unanswered_worker(&jobs, &breaker, patch_of_user("12")).await;
        assert_eq!(first.unwrap_err().error.kind, ErrorKind::DeadlineExceeded);
        // The next ones wait behind it for their turn and are withdrawn at their deadline without
        // ever starting.
        for _ in 0..3 {
            let queued = run_beside_an_unanswered_worker(&jobs, &breaker, patch_of_user("12")).await;
            assert!(!refused_by_the_breaker(&queued), "a client's own backlog opened the breaker");
            assert!(withdrawn_not_applied(&queued), "{queued:?}");
            let detail = queued.unwrap_err().error.detail;
            assert!(detail.contains("behind earlier changes to the same resource"), "{detail}");
        }
        assert!(!breaker.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_of_running_writes_still_open_the_breaker() {
        let (jobs, breaker) = jobs_and_breaker();
        for id in ["1", "2"] {
            let running = run_beside_an_unanswered_worker(&jobs, &breaker, patch_of_user(id)).await;
            assert_eq!(running.unwrap_err().error.kind, ErrorKind::DeadlineExceeded);
        }
        assert!(breaker.is_open());
        let refused = run_beside_an_unanswered_worker(&jobs, &breaker, patch_of_user("3")).await;
        assert!(refused_by_the_breaker(&refused), "{refused:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_of_writes_no_worker_took_open_the_breaker() {
        // No adapter takes anything: each write heads its resource and waits for a worker until
        // its deadline, when it is withdrawn. After two, the breaker answers the next write at once.
        let (jobs, breaker) = jobs_and_breaker();
        for id in ["1", "2"] {
            let untaken = jobs.run(patch_of_user(id), &breaker, None).await;
            assert!(withdrawn_not_applied(&untaken), "{untaken:?}");
            assert!(untaken.unwrap_err().error.detail.contains("no adapter took it within 1 s"));
        }
        assert!(breaker.is_open());
        assert!(refused_by_the_breaker(&jobs.run(patch_of_user("3"), &breaker, None).await));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_no_worker_took_by_its_deadline_is_withdrawn_503_not_applied_and_never_runs() {
        let (jobs, breaker) = jobs_and_breaker();
        let untaken = jobs.run(keyed_patch_of_user("7", "deprovision"), &breaker, None).await;
        assert!(withdrawn_not_applied(&untaken), "{untaken:?}");
        let keyed = jobs.find("test/deprovision").await.unwrap().expect("the key names its job");
        assert_eq!(keyed.status, JobStatus::Withdrawn);
        assert!(untaken.unwrap_err().error.detail.contains(&keyed.job_id.to_string()), "the answer names its job");

        // Workers start afterwards: there is nothing for them to run.
        assert!(!jobs.queue().try_execute_job(&Unanswered).await.unwrap(), "the withdrawn job reached a worker");
        assert_eq!(jobs.queue().status(&keyed.job_id).await.unwrap().unwrap().status, JobStatus::Withdrawn);
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_write_sent_again_with_its_key_after_it_was_withdrawn_runs_as_a_new_job() {
        let (jobs, breaker) = jobs_and_breaker();
        let untaken = jobs.run(keyed_patch_of_user("7", "again"), &breaker, None).await;
        assert!(withdrawn_not_applied(&untaken), "{untaken:?}");
        let withdrawn = jobs.find("test/again").await.unwrap().unwrap().job_id;

        // The client follows `Retry-After` with the same request and key, and an adapter is back.
        let again = run_beside_a_worker(&jobs, &breaker, keyed_patch_of_user("7", "again"), &Answered).await;
        assert!(matches!(again, Ok(Written::Deleted)), "the withdrawal was replayed: {again:?}");
        let keyed = jobs.find("test/again").await.unwrap().unwrap();
        assert_ne!(keyed.job_id, withdrawn, "a new job under the key");
        assert_eq!(keyed.status, JobStatus::Succeeded);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_whose_job_a_worker_took_is_still_504_naming_its_job_when_its_deadline_passes() {
        let (jobs, breaker) = jobs_and_breaker();
        let running = run_beside_an_unanswered_worker(&jobs, &breaker, keyed_patch_of_user("8", "taken")).await;
        let error = running.unwrap_err().error;
        assert_eq!(error.kind, ErrorKind::DeadlineExceeded, "{error:?}");
        let keyed = jobs.find("test/taken").await.unwrap().unwrap();
        assert!(error.detail.contains(&format!("job {}", keyed.job_id)), "{}", error.detail);
        assert_eq!(keyed.status, JobStatus::Running, "it goes on");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_cut_short_by_its_caller_s_deadline_is_withdrawn_and_does_not_count_against_the_instance() {
        // A Bulk's deadline comes before the job deadline: its operation is answered as failed,
        // so its job is withdrawn too, and a wait shortened by the caller says nothing.
        let (jobs, _) = jobs_and_breaker();
        let breaker = breaker_opening_at_the_first_failure();
        for id in ["1", "2"] {
            let until = Instant::now() + Duration::from_millis(250);
            let cut_short = jobs.run(patch_of_user(id), &breaker, Some(until)).await;
            assert!(withdrawn_not_applied(&cut_short), "{cut_short:?}");
            assert!(cut_short.unwrap_err().error.detail.contains("within 0.25 s"));
        }
        assert!(!breaker.is_open());
    }

    /// Jobs on a faulty in-process queue whose workers answer every job, and a breaker that opens
    /// at the first failure.
    fn jobs_on_a_faulty_queue() -> (Jobs, Arc<job_queue::testing::FaultyQueue>, CircuitBreaker) {
        let queue = Arc::new(faulty_queue());
        let workers = Arc::clone(&queue);
        tokio::spawn(async move { workers.run_workers(Arc::new(Answered), 1, Default::default()).await });
        let jobs = Jobs::new(queue.clone(), Duration::from_secs(5), JobKeys::ephemeral());
        (jobs, queue, breaker_opening_at_the_first_failure())
    }

    #[tokio::test]
    async fn a_submission_reported_failed_but_taken_is_waited_for_and_answered_with_its_outcome() {
        let (jobs, queue, breaker) = jobs_on_a_faulty_queue();
        queue.fail_submits_after_taking(true);
        let written = jobs.run(patch_of_user("1"), &breaker, None).await;
        assert!(matches!(written, Ok(Written::Deleted)), "{written:?}");
    }

    #[tokio::test]
    async fn a_queue_that_takes_nothing_is_503_retry_later_and_does_not_open_the_breaker() {
        let (jobs, queue, breaker) = jobs_on_a_faulty_queue();
        queue.fail_submits(true);
        for id in ["1", "2"] {
            let error = jobs.run(patch_of_user(id), &breaker, None).await.unwrap_err().error;
            assert_eq!(error.kind, ErrorKind::Unavailable);
            assert!(error.detail.contains("job queue"), "{}", error.detail);
        }
        assert!(!breaker.is_open(), "the queue's outage says nothing about Secret Server");
    }

    #[tokio::test]
    async fn a_write_whose_outcome_the_queue_cannot_give_is_504_naming_its_job_and_does_not_open_the_breaker() {
        let queue = faulty_queue();
        queue.fail_waits(true);
        let jobs = Jobs::new(Arc::new(queue), Duration::from_secs(1), JobKeys::ephemeral());
        let breaker = breaker_opening_at_the_first_failure();
        for id in ["1", "2"] {
            // Accepted, so perhaps applied: never "unavailable, retry later".
            let error = jobs.run(patch_of_user(id), &breaker, None).await.unwrap_err().error;
            assert_eq!(error.kind, ErrorKind::DeadlineExceeded, "{error:?}");
            assert!(error.detail.contains("job "), "{}", error.detail);
            assert!(error.retry_after.is_some());
        }
        assert!(!breaker.is_open(), "the queue's outage says nothing about Secret Server");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_queue_cannot_withdraw_at_its_deadline_is_504_naming_its_job_and_does_not_open_the_breaker() {
        let queue = faulty_queue();
        queue.fail_withdrawals(true);
        let jobs = Jobs::new(Arc::new(queue), Duration::from_secs(1), JobKeys::ephemeral());
        let breaker = breaker_opening_at_the_first_failure();
        for id in ["1", "2"] {
            // Perhaps still queued, so perhaps applied later: never "not applied".
            let error = jobs.run(patch_of_user(id), &breaker, None).await.unwrap_err().error;
            assert_eq!(error.kind, ErrorKind::DeadlineExceeded, "{error:?}");
            assert!(error.detail.contains("job "), "{}", error.detail);
        }
        assert!(!breaker.is_open(), "the queue's outage says nothing about Secret Server");
    }

    #[test]
    fn a_fingerprint_names_method_and_path_and_tells_bodies_apart() {
        let a =
            Fingerprint::new("patch", "/Users/12", br#"{"Operations":[{"op":"replace","path":"title","value":"A"}]}"#);
        let b =
            Fingerprint::new("PATCH", "/Users/12", br#"{"Operations":[{"op":"replace","path":"title","value":"B"}]}"#);
        assert!(a.to_string().starts_with("PATCH /Users/12 "), "{a}");
        assert_ne!(a, b);
        assert_eq!(Fingerprint::parse(&a.to_string()), Some(a));
    }

    #[test]
    fn a_fingerprint_keeps_no_trace_of_a_password() {
        let create = |password: &str| {
            Fingerprint::new("POST", "/Users", format!(r#"{{"userName":"a","password":"{password}"}}"#).as_bytes())
        };
        assert_eq!(create("Guess-1"), create("Guess-2"), "the digest does not depend on the password");
        let patch = |password: &str| {
            let body = format!(r#"{{"Operations":[{{"op":"replace","path":"password","value":"{password}"}}]}}"#);
            Fingerprint::new("PATCH", "/Users/12", body.as_bytes())
        };
        assert_eq!(patch("Guess-1"), patch("Guess-2"));
        assert_ne!(create("x"), Fingerprint::new("POST", "/Users", br#"{"userName":"b","password":"x"}"#));
    }
}
