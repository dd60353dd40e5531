//! Writes as jobs: submit a [`Job`] (the `adapter-api` job contract: its encoding and its ordering
//! key) with its idempotency key, wait for its result with a deadline, and turn what came back
//! into a resource or a `ServiceError`.
//!
//! - Idempotency key: `<connection>/<client's Idempotency-Key>` when the
//!   client sent one, else a fresh UUID.
//! - Passwords: sealed with the gateway's job keys before the job is submitted, so that the
//!   queue never holds one in clear (see `adapter_api::sealing`).
//! - Deadline: on timeout the answer is `504` naming the job id (the job
//!   still runs; the client may re-send with the same `Idempotency-Key` to
//!   re-attach to it).
//! - A dead-lettered job (Secret Server kept failing) is `503` with
//!   `Retry-After`; the instance's circuit breaker counts it.

use crate::circuit_breaker::{Admission, CircuitBreaker};
use adapter_api::job::decode_result;
use adapter_api::{Job, JobKeys, Written};
use job_queue::{JobQueue, JobStatus, QueueError};
use service_error::{ErrorKind, ServiceError};
use std::sync::Arc;
use std::time::Duration;

/// One write, ready to submit.
#[derive(Debug, Clone)]
pub struct Write {
    pub job: Job,
    /// The Secret Server instance of the connection (for the ordering key and the breaker).
    pub instance: String,
    /// Already scoped by connection, or `None` for a fresh UUID.
    pub idempotency_key: Option<String>,
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

    /// Submits `write` and waits for its result, guarded by `breaker`.
    ///
    /// # Errors
    /// The job's own error (as the adapter classified it), `503` when the
    /// breaker is open or the job was dead-lettered, `504` when the deadline passed.
    pub async fn run(&self, write: Write, breaker: &CircuitBreaker) -> Result<Written, ServiceError> {
        if let Admission::Rejected { retry_after } = breaker.admit() {
            return Err(ServiceError::unavailable(format!(
                "Secret Server instance {:?} is failing; writes are paused (circuit breaker open)",
                write.instance
            ))
            .with_retry_after(retry_after));
        }
        let outcome = self.submit_and_wait(write).await;
        match &outcome {
            Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::DeadlineExceeded) => {
                breaker.record_failure()
            }
            _ => breaker.record_success(),
        }
        outcome
    }

    async fn submit_and_wait(&self, write: Write) -> Result<Written, ServiceError> {
        let idempotency_key = write.idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let submission =
            write.job.submission(&write.instance, idempotency_key, telemetry::current_trace_context(), &self.keys);
        let submitted = self.queue.submit(submission).await.map_err(queue_error)?;
        let job_id = submitted.job_id;
        let state = self.queue.wait(&job_id, self.deadline).await.map_err(queue_error)?;
        let Some(state) = state.filter(|s| s.status.is_final()) else {
            return Err(ServiceError::new(
                ErrorKind::DeadlineExceeded,
                format!(
                    "the change is still being applied (job {job_id}); retry with the same Idempotency-Key to see its result"
                ),
            ));
        };
        match state.status {
            JobStatus::DeadLettered => {
                tracing::warn!(job = %job_id, error = ?state.last_error, "job dead-lettered");
                Err(ServiceError::unavailable(format!(
                    "Secret Server is unavailable; the change was not applied (job {job_id})"
                ))
                .with_retry_after(30))
            }
            _ => decode_result(state.result.as_deref().unwrap_or_default()),
        }
    }
}

fn queue_error(e: QueueError) -> ServiceError {
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
