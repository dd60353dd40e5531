//! A provisioning job as the worker understands it: decoded from protobuf and validated at the
//! boundary, so that nothing past here sees a generated type.

use crate::events::kind_of;
use job_queue::TraceContext;
use prost::Message;
use proto::provisioning::v1 as pb;
use scim::{ResourceKind, ScimError};
use serde_json::Value;
use service_error::ServiceError;

/// What the job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Replace,
    Patch,
    Delete,
}

impl Operation {
    /// The name used in metrics and audit events.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Replace => "replace",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
        }
    }
}

/// A decoded, validated provisioning job. Its `Debug` leaves the payload out: it may hold a
/// password.
#[derive(Clone)]
pub struct JobRequest {
    pub connection_id: String,
    pub kind: ResourceKind,
    pub operation: Operation,
    /// The target's id text, as the client sent it (empty for a create).
    pub resource_id: String,
    /// The SCIM JSON (`Null` for a delete).
    pub payload: Value,
    pub if_match: Option<String>,
    pub request_id: String,
    pub trace_context: TraceContext,
}

impl std::fmt::Debug for JobRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRequest")
            .field("connection_id", &self.connection_id)
            .field("kind", &self.kind)
            .field("operation", &self.operation)
            .field("resource_id", &self.resource_id)
            .field("if_match", &self.if_match)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl JobRequest {
    /// Decodes the queue's payload.
    ///
    /// # Errors
    /// `InvalidArgument` for bytes that are not a `ProvisioningJob`, an unknown resource type or
    /// operation, a missing target id, or a payload that is not JSON (`invalidSyntax`).
    pub fn decode(bytes: &[u8]) -> Result<Self, ServiceError> {
        let job = pb::ProvisioningJob::decode(bytes)
            .map_err(|e| ServiceError::invalid_argument(format!("the job is not a ProvisioningJob: {e}")))?;
        Self::try_from(job)
    }
}

impl TryFrom<pb::ProvisioningJob> for JobRequest {
    type Error = ServiceError;

    fn try_from(job: pb::ProvisioningJob) -> Result<Self, Self::Error> {
        let kind = kind_of(job.resource_type)
            .ok_or_else(|| ServiceError::invalid_argument(format!("unknown resource type {}", job.resource_type)))?;
        let operation = match pb::Operation::try_from(job.operation) {
            Ok(pb::Operation::Create) => Operation::Create,
            Ok(pb::Operation::Replace) => Operation::Replace,
            Ok(pb::Operation::Patch) => Operation::Patch,
            Ok(pb::Operation::Delete) => Operation::Delete,
            _ => return Err(ServiceError::invalid_argument(format!("unknown operation {}", job.operation))),
        };
        if operation != Operation::Create && job.resource_id.trim().is_empty() {
            return Err(ServiceError::invalid_argument(format!("a {} needs the resource id", operation.name())));
        }
        let payload = if operation == Operation::Delete || job.payload.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&job.payload).map_err(|e| {
                ServiceError::from(ScimError::invalid_syntax(format!(
                    "the body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                )))
            })?
        };
        if operation != Operation::Delete && !payload.is_object() {
            return Err(ScimError::invalid_syntax(format!("a {} needs a JSON object body", operation.name())).into());
        }
        let trace_context = job.trace_context.map(|t| t.fields.into_iter().collect()).unwrap_or_default();
        Ok(Self {
            connection_id: job.caller.map(|c| c.connection_id).unwrap_or_default(),
            kind,
            operation,
            resource_id: job.resource_id.trim().to_owned(),
            payload,
            if_match: Some(job.if_match.trim().to_owned()).filter(|m| !m.is_empty()),
            request_id: job.request_id,
            trace_context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::common::v1 as common;

    fn job(op: pb::Operation, id: &str, payload: &[u8]) -> pb::ProvisioningJob {
        pb::ProvisioningJob {
            caller: Some(common::Caller { connection_id: "okta".into() }),
            resource_type: common::ResourceType::User as i32,
            operation: op as i32,
            resource_id: id.into(),
            payload: payload.to_vec(),
            ..pb::ProvisioningJob::default()
        }
    }

    #[test]
    fn a_create_decodes_with_its_payload() {
        let bytes = job(pb::Operation::Create, "", br#"{"userName":"a"}"#).encode_to_vec();
        let req = JobRequest::decode(&bytes).unwrap();
        assert_eq!((req.kind, req.operation), (ResourceKind::User, Operation::Create));
        assert_eq!(req.payload["userName"], "a");
        assert_eq!(req.if_match, None);
    }

    #[test]
    fn a_replace_without_an_id_is_refused() {
        assert!(JobRequest::try_from(job(pb::Operation::Replace, " ", b"{}")).is_err());
    }

    #[test]
    fn a_body_that_is_not_json_is_invalid_syntax() {
        let err = JobRequest::try_from(job(pb::Operation::Patch, "4", b"{nope")).unwrap_err();
        assert_eq!(err.scim_type, Some(scim::ScimType::InvalidSyntax));
    }

    #[test]
    fn the_debug_form_never_shows_the_payload() {
        let bytes =
            job(pb::Operation::Create, "", br#"{"userName":"a","password":"Hunter-2-Secret!"}"#).encode_to_vec();
        let shown = format!("{:?}", JobRequest::decode(&bytes).unwrap());
        assert!(!shown.contains("Hunter-2"), "{shown}");
    }

    #[test]
    fn garbage_bytes_are_refused_not_panicked_on() {
        assert!(JobRequest::decode(&[0xff, 0xff, 0xff]).is_err());
    }
}
