//! Writes as jobs: build the `ProvisioningJob`, submit it with its ordering
//! and idempotency keys, wait for its `JobResult` with a deadline, and turn
//! what came back into a resource or a `ServiceError`.
//!
//! - Ordering key: `<instance>/<ResourceType>/<id>`; a create uses
//!   `<instance>/<ResourceType>/new:<lower-cased unique name>` so that two
//!   creates of the same name run one after the other (the second sees the
//!   first and answers `409`).
//! - Idempotency key: `<connection>/<client's Idempotency-Key>` when the
//!   client sent one, else a fresh UUID.
//! - Deadline: on timeout the answer is `504` naming the job id (the job
//!   still runs; the client may re-send with the same `Idempotency-Key` to
//!   re-attach to it).
//! - A dead-lettered job (Secret Server kept failing) is `503` with
//!   `Retry-After`; the instance's circuit breaker counts it.

use crate::circuit_breaker::{Admission, CircuitBreaker};
use crate::directory::{Resource, from_pb_resource, to_pb_kind};
use bytes::Bytes;
use job_queue::{JobQueue, JobStatus, NewJob, QueueError};
use prost::Message;
use proto::common::v1 as common;
use proto::provisioning::v1 as pb;
use scim::ResourceKind;
use service_error::{ErrorKind, ServiceError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What a write asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Replace,
    Patch,
    Delete,
}

impl Operation {
    fn to_pb(self) -> pb::Operation {
        match self {
            Operation::Create => pb::Operation::Create,
            Operation::Replace => pb::Operation::Replace,
            Operation::Patch => pb::Operation::Patch,
            Operation::Delete => pb::Operation::Delete,
        }
    }
}

/// One write, ready to submit.
#[derive(Debug, Clone)]
pub struct Write {
    pub connection: String,
    /// The Secret Server instance of the connection (for the ordering key and the breaker).
    pub instance: String,
    pub kind: ResourceKind,
    pub operation: Operation,
    /// Empty for a create.
    pub resource_id: String,
    /// For a create: the unique name that orders creates of the same object.
    pub unique_name: Option<String>,
    /// The validated SCIM JSON (resource or PatchOp); empty for a delete.
    pub payload: Bytes,
    pub if_match: Option<String>,
    pub request_id: String,
    /// Already scoped by connection, or `None` for a fresh UUID.
    pub idempotency_key: Option<String>,
}

/// What a write produced.
#[derive(Debug, Clone)]
pub enum Written {
    /// The resource after the change; `revived` when a create adopted an existing object.
    Resource {
        resource: Resource,
        revived: bool,
    },
    Deleted,
}

/// Submits writes and waits for their outcome.
#[derive(Debug, Clone)]
pub struct Jobs {
    queue: Arc<dyn JobQueue>,
    deadline: Duration,
}

impl Jobs {
    pub fn new(queue: Arc<dyn JobQueue>, deadline: Duration) -> Self {
        Self { queue, deadline }
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
        let outcome = self.submit_and_wait(&write).await;
        match &outcome {
            Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::DeadlineExceeded) => {
                breaker.record_failure()
            }
            _ => breaker.record_success(),
        }
        outcome
    }

    async fn submit_and_wait(&self, write: &Write) -> Result<Written, ServiceError> {
        let job = pb::ProvisioningJob {
            caller: Some(common::Caller { connection_id: write.connection.clone() }),
            resource_type: to_pb_kind(write.kind) as i32,
            operation: write.operation.to_pb() as i32,
            resource_id: write.resource_id.clone(),
            payload: write.payload.to_vec(),
            if_match: write.if_match.clone().unwrap_or_default(),
            request_id: write.request_id.clone(),
            trace_context: Some(common::TraceContext {
                fields: telemetry::current_trace_context().into_iter().collect(),
            }),
            submitted_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        };
        let submitted = self
            .queue
            .submit(NewJob {
                idempotency_key: write.idempotency_key.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                ordering_key: ordering_key(write),
                payload: Bytes::from(job.encode_to_vec()),
                trace_context: telemetry::current_trace_context(),
            })
            .await
            .map_err(queue_error)?;
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
            _ => decode_result(state.result.as_deref().unwrap_or_default(), write.operation),
        }
    }
}

/// The ordering key of a write (see the module docs).
pub fn ordering_key(write: &Write) -> String {
    match (&write.operation, &write.unique_name) {
        (Operation::Create, Some(name)) => {
            format!("{}/{}/new:{}", write.instance, write.kind.name(), name.to_lowercase())
        }
        (Operation::Create, None) => format!("{}/{}/new:{}", write.instance, write.kind.name(), uuid::Uuid::new_v4()),
        _ => format!("{}/{}/{}", write.instance, write.kind.name(), write.resource_id),
    }
}

fn decode_result(bytes: &[u8], operation: Operation) -> Result<Written, ServiceError> {
    let result =
        pb::JobResult::decode(bytes).map_err(|e| ServiceError::internal(format!("unreadable job result: {e}")))?;
    match result.outcome {
        Some(pb::job_result::Outcome::Error(error)) => Err(ServiceError::from(error)),
        Some(pb::job_result::Outcome::Success(success)) => {
            if success.deleted || operation == Operation::Delete {
                return Ok(Written::Deleted);
            }
            let resource =
                success.resource.ok_or_else(|| ServiceError::internal("the job succeeded without a resource"))?;
            Ok(Written::Resource { resource: from_pb_resource(resource)?, revived: success.revived })
        }
        None => Err(ServiceError::internal("the job result has no outcome")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(operation: Operation, id: &str, name: Option<&str>) -> Write {
        Write {
            connection: "okta".into(),
            instance: "primary".into(),
            kind: ResourceKind::User,
            operation,
            resource_id: id.into(),
            unique_name: name.map(str::to_owned),
            payload: Bytes::new(),
            if_match: None,
            request_id: "r".into(),
            idempotency_key: None,
        }
    }

    #[test]
    fn creates_of_the_same_name_share_an_ordering_key_whatever_the_case() {
        let a = ordering_key(&write(Operation::Create, "", Some("BJensen")));
        let b = ordering_key(&write(Operation::Create, "", Some("bjensen")));
        assert_eq!(a, "primary/User/new:bjensen");
        assert_eq!(a, b);
    }

    #[test]
    fn changes_of_one_resource_share_its_ordering_key() {
        assert_eq!(ordering_key(&write(Operation::Patch, "42", None)), "primary/User/42");
        assert_eq!(ordering_key(&write(Operation::Delete, "42", None)), "primary/User/42");
    }

    #[test]
    fn a_failed_job_result_becomes_its_service_error() {
        let error = ServiceError::from(scim::ScimError::uniqueness("userName taken"));
        let bytes = pb::JobResult { outcome: Some(pb::job_result::Outcome::Error((&error).into())) }.encode_to_vec();
        let decoded = decode_result(&bytes, Operation::Create).unwrap_err();
        assert_eq!((decoded.http_status(), decoded.scim_type), (409, Some(scim::ScimType::Uniqueness)));
    }
}
