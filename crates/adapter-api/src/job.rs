//! The provisioning job contract: what the gateway submits and the adapter's workers apply, and
//! the result that travels back.
//!
//! - [`Job`]: a validated change (connection, kind, operation, target id, SCIM payload, `If-Match`,
//!   request id), sealed and encoded to the queue's payload and secrets ([`Job::seal`]: a user's
//!   password never travels or rests in clear, see [`crate::sealing`]), and opened and validated
//!   again from them ([`Job::open`]). The trace context is not part of it: it travels once, in the
//!   queue's [`NewJob::trace_context`], and reaches the worker as [`job_queue::Job::trace_context`].
//! - The ordering key ([`Job::ordering_key`]): `<instance>/<ResourceType>/<id>`, the id exactly as
//!   the job carries it; a create uses `<instance>/<ResourceType>/new:<lower-cased unique name>`
//!   so that two creates of the same object run one after the other (the second sees the first and
//!   answers `409`). A name longer than [`MAX_KEY_PART_BYTES`] stands as `sha256:<hex digest>`,
//!   so that the key stays within the queue's bound whatever a client sends (the name is checked
//!   by the worker as any other). It names a person for a user's create: log or trace only its digest
//!   ([`job_queue::KeyDigest`]).
//! - The result: [`Written`] (the resource after the change, or deleted) or the `ServiceError`
//!   the SCIM client should see ([`Written::encode`], [`encode_failure`], [`decode_result`]).

use crate::directory::Resource;
use crate::kind;
use crate::operation::Operation;
use crate::sealing::{self, JobKeys, SealedJob};
use bytes::Bytes;
use job_queue::{NewJob, TraceContext};
use prost::Message;
use proto::common::v1 as common;
use proto::provisioning::v1 as pb;
use scim::{ResourceKind, ScimError};
use serde_json::Value;
use service_error::ServiceError;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// A validated provisioning job. Its `Debug` leaves the payload out: it may hold a password.
#[derive(Clone, PartialEq)]
pub struct Job {
    connection_id: String,
    kind: ResourceKind,
    operation: Operation,
    resource_id: String,
    payload: Value,
    if_match: Option<String>,
    request_id: String,
    answer_without_members: bool,
    answer_version_only: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("connection_id", &self.connection_id)
            .field("kind", &self.kind)
            .field("operation", &self.operation)
            .field("resource_id", &self.resource_id)
            .field("if_match", &self.if_match)
            .field("request_id", &self.request_id)
            .field("answer_without_members", &self.answer_without_members)
            .field("answer_version_only", &self.answer_version_only)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// A job for `connection_id`: `operation` on the `kind` resource `resource_id` (empty for a
    /// create) with the SCIM JSON `payload` (ignored for a delete).
    ///
    /// # Errors
    /// `400` when a replace, patch or delete names no resource id, or when the payload of a
    /// create, replace or patch is not a JSON object (`invalidSyntax`); `404` when its id is not
    /// one the connector issues ([`crate::id`]: no job, and so no ordering key, for another
    /// spelling of an id).
    pub fn new(
        connection_id: impl Into<String>,
        kind: ResourceKind,
        operation: Operation,
        resource_id: &str,
        payload: Value,
    ) -> Result<Self, ServiceError> {
        if operation != Operation::Create {
            if resource_id.trim().is_empty() {
                return Err(ServiceError::invalid_argument(format!("a {} needs the resource id", operation.name())));
            }
            if !crate::id::is_issued(resource_id) {
                return Err(ServiceError::not_found(format!("{} {resource_id:?} not found", kind.name())));
            }
        }
        let payload = if operation == Operation::Delete { Value::Null } else { payload };
        if operation != Operation::Delete && !payload.is_object() {
            return Err(ScimError::invalid_syntax(format!("a {} needs a JSON object body", operation.name())).into());
        }
        Ok(Self {
            connection_id: connection_id.into(),
            kind,
            operation,
            resource_id: resource_id.to_owned(),
            payload,
            if_match: None,
            request_id: String::new(),
            answer_without_members: false,
            answer_version_only: false,
        })
    }

    /// The job with the client's `If-Match` header value (checked by the worker against the
    /// current version where the change is applied); blank is none.
    #[must_use]
    pub fn with_if_match(mut self, if_match: Option<&str>) -> Self {
        self.if_match = if_match.map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned);
        self
    }

    /// The job with the id that correlates it with the HTTP request and the audit record.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// The job with whether its answer leaves a group's members out (the request's projection
    /// excluded them), so that the worker does not render them.
    #[must_use]
    pub fn with_answer_without_members(mut self, without: bool) -> Self {
        self.answer_without_members = without;
        self
    }

    /// Whether the answer leaves a group's members out.
    pub fn answers_without_members(&self) -> bool {
        self.answer_without_members
    }

    /// The job with whether its answer carries no resource (a PATCH answered `204`, a Bulk
    /// operation), so that the worker renders nothing and sends the version only.
    #[must_use]
    pub fn with_answer_version_only(mut self, version_only: bool) -> Self {
        self.answer_version_only = version_only;
        self
    }

    /// Whether the answer needs the resource's version only.
    pub fn answers_version_only(&self) -> bool {
        self.answer_version_only
    }

    /// The connection the change is made through (its scope, instance and rights mapping apply).
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    pub fn kind(&self) -> ResourceKind {
        self.kind
    }

    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The target's id, as the client sent it (empty for a create).
    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    /// The SCIM JSON: the resource, or the PatchOp message; `Null` for a delete.
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    pub fn if_match(&self) -> Option<&str> {
        self.if_match.as_deref()
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The queue's payload and secrets: the job encoded with its passwords sealed by `keys`.
    pub fn seal(&self, keys: &JobKeys) -> SealedJob {
        sealing::seal(self, keys)
    }

    /// The job encoded with `payload` in place of its own (the sealed copy, without passwords).
    pub(crate) fn encode_with_payload(&self, payload: &Value) -> Bytes {
        let payload = if payload.is_null() { Vec::new() } else { payload.to_string().into_bytes() };
        let job = pb::ProvisioningJob {
            caller: Some(common::Caller { connection_id: self.connection_id.clone() }),
            resource_type: kind::to_proto(self.kind) as i32,
            operation: self.operation.to_proto() as i32,
            resource_id: self.resource_id.clone(),
            payload,
            if_match: self.if_match.clone().unwrap_or_default(),
            request_id: self.request_id.clone(),
            answer_without_members: self.answer_without_members,
            answer_version_only: self.answer_version_only,
        };
        Bytes::from(job.encode_to_vec())
    }

    /// Opens a queue payload and its secrets with `keys`, and validates the job.
    ///
    /// # Errors
    /// `400` for bytes that are not a `ProvisioningJob`, an unknown resource type or operation,
    /// or what [`Job::new`] refuses; a payload that is not JSON is `invalidSyntax`. `500` when the
    /// secrets do not open (a key missing from `keys`, or secrets that belong to another job).
    pub fn open(payload: &[u8], secrets: &[u8], keys: &JobKeys) -> Result<Self, ServiceError> {
        let opened = sealing::open(payload, secrets, keys)?;
        let job = pb::ProvisioningJob::decode(payload)
            .map_err(|e| ServiceError::invalid_argument(format!("the job is not a ProvisioningJob: {e}")))?;
        let mut job = Self::try_from(job)?;
        for (pointer, value) in opened {
            match job.payload.pointer_mut(&pointer) {
                Some(slot) if slot.is_null() => *slot = value,
                _ => return Err(ServiceError::internal("a sealed value of the job has no place in its payload")),
            }
        }
        Ok(job)
    }

    /// The name that makes two creates the same object (userName, displayName, parent and name,
    /// target and principal); `None` for other operations or when the payload lacks it.
    pub fn unique_name(&self) -> Option<String> {
        if self.operation != Operation::Create {
            return None;
        }
        unique_name(self.kind, &self.payload)
    }

    /// The ordering key on the Secret Server instance `instance` (see the module docs).
    pub fn ordering_key(&self, instance: &str) -> String {
        let kind = self.kind.name();
        match (self.operation, self.unique_name()) {
            (Operation::Create, Some(name)) => format!("{instance}/{kind}/new:{}", bounded(&name.to_lowercase())),
            (Operation::Create, None) => format!("{instance}/{kind}/new:{}", uuid::Uuid::new_v4()),
            _ => format!("{instance}/{kind}/{}", self.resource_id),
        }
    }

    /// The submission of this job to the queue: on instance `instance`, with `idempotency_key`,
    /// in the trace `trace_context` (the only place the trace context travels), its passwords
    /// sealed with `keys`. Its fingerprint is
    /// empty: the submitter sets the one of the request the key belongs to.
    pub fn submission(
        &self,
        instance: &str,
        idempotency_key: String,
        trace_context: TraceContext,
        keys: &JobKeys,
    ) -> NewJob {
        let SealedJob { payload, secrets } = self.seal(keys);
        NewJob {
            idempotency_key,
            fingerprint: String::new(),
            ordering_key: self.ordering_key(instance),
            payload,
            secrets,
            trace_context,
        }
    }
}

impl TryFrom<pb::ProvisioningJob> for Job {
    type Error = ServiceError;

    fn try_from(job: pb::ProvisioningJob) -> Result<Self, Self::Error> {
        let kind = kind::from_proto(job.resource_type)
            .ok_or_else(|| ServiceError::invalid_argument(format!("unknown resource type {}", job.resource_type)))?;
        let operation = Operation::from_proto(job.operation)
            .ok_or_else(|| ServiceError::invalid_argument(format!("unknown operation {}", job.operation)))?;
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
        let connection_id = job.caller.map(|c| c.connection_id).unwrap_or_default();
        Ok(Job::new(connection_id, kind, operation, &job.resource_id, payload)?
            .with_if_match(Some(&job.if_match))
            .with_request_id(job.request_id)
            .with_answer_without_members(job.answer_without_members)
            .with_answer_version_only(job.answer_version_only))
    }
}

/// The name that makes two creates of `kind` the same object, read from the create's `doc`.
fn unique_name(kind: ResourceKind, doc: &Value) -> Option<String> {
    let text = |path: &[&str]| -> Option<String> {
        let mut v = doc;
        for p in path {
            v = v.get(*p)?;
        }
        v.as_str().map(str::to_owned)
    };
    let principal = || {
        text(&["user", "value"])
            .map(|u| format!("user:{u}"))
            .or_else(|| text(&["group", "value"]).map(|g| format!("group:{g}")))
    };
    match kind {
        ResourceKind::User => text(&["userName"]),
        ResourceKind::Group => text(&["displayName"]),
        ResourceKind::Container => {
            Some(format!("{}/{}", text(&["parent", "value"]).unwrap_or_default(), text(&["name"])?))
        }
        ResourceKind::PrivilegedData => text(&["name"]),
        ResourceKind::ContainerPermission => Some(format!("{}/{}", text(&["container", "value"])?, principal()?)),
        ResourceKind::PrivilegedDataPermission => {
            Some(format!("{}/{}", text(&["privilegedData", "value"])?, principal()?))
        }
        // Never created through the connector.
        ResourceKind::Role => None,
    }
}

/// What a job that succeeded produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The resource after the change, as the job's connection sees it.
    Resource(Resource),
    /// The resource is gone.
    Deleted,
}

impl Written {
    /// The result bytes the worker hands back through the queue.
    pub fn encode(&self) -> Bytes {
        let success = match self {
            Written::Resource(resource) => pb::JobSuccess { resource: Some(resource.clone().into()), deleted: false },
            Written::Deleted => pb::JobSuccess { resource: None, deleted: true },
        };
        Bytes::from(pb::JobResult { outcome: Some(pb::job_result::Outcome::Success(success)) }.encode_to_vec())
    }
}

/// The result bytes of a job that failed with `error`, as the SCIM client should see it.
pub fn encode_failure(error: &ServiceError) -> Bytes {
    Bytes::from(pb::JobResult { outcome: Some(pb::job_result::Outcome::Error(error.into())) }.encode_to_vec())
}

/// Decodes the result of a job.
///
/// # Errors
/// The job's own error, as the worker classified it; `Internal` for bytes that are not a
/// `JobResult`, or a success that neither deleted nor carries its resource.
pub fn decode_result(bytes: &[u8]) -> Result<Written, ServiceError> {
    let result =
        pb::JobResult::decode(bytes).map_err(|e| ServiceError::internal(format!("unreadable job result: {e}")))?;
    match result.outcome {
        Some(pb::job_result::Outcome::Error(error)) => Err(ServiceError::from(error)),
        Some(pb::job_result::Outcome::Success(success)) => {
            if success.deleted {
                return Ok(Written::Deleted);
            }
            let resource =
                success.resource.ok_or_else(|| ServiceError::internal("the job succeeded without a resource"))?;
            Ok(Written::Resource(Resource::try_from(resource)?))
        }
        None => Err(ServiceError::internal("the job result has no outcome")),
    }
}

/// The longest name an ordering key holds as it is (an id is checked by [`Job::new`]).
pub const MAX_KEY_PART_BYTES: usize = 256;

/// `part`, or its digest when longer than [`MAX_KEY_PART_BYTES`] (equal parts, equal digests).
fn bounded(part: &str) -> Cow<'_, str> {
    if part.len() <= MAX_KEY_PART_BYTES {
        return Cow::Borrowed(part);
    }
    let hex: String = Sha256::digest(part.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    Cow::Owned(format!("sha256:{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn user_job(operation: Operation, id: &str, payload: Value) -> Result<Job, ServiceError> {
        Job::new("okta", ResourceKind::User, operation, id, payload)
    }

    /// Seals with the process's key and opens again, as the gateway and a worker do.
    fn round_trip(job: &Job) -> Result<Job, ServiceError> {
        let keys = JobKeys::ephemeral();
        let sealed = job.seal(&keys);
        Job::open(&sealed.payload, &sealed.secrets, &keys)
    }

    fn decode(bytes: &[u8]) -> Result<Job, ServiceError> {
        Job::open(bytes, &[], &JobKeys::ephemeral())
    }

    #[test]
    fn a_job_reads_back_as_it_was_submitted() {
        let job = user_job(Operation::Patch, "42", json!({"Operations": []}))
            .unwrap()
            .with_if_match(Some(r#"W/"3""#))
            .with_request_id("r-1");
        assert_eq!(round_trip(&job).unwrap(), job);
        let answers = job.with_answer_without_members(true).with_answer_version_only(true);
        let decoded = round_trip(&answers).unwrap();
        assert!(decoded.answers_without_members() && decoded.answers_version_only());
        assert_eq!(decoded, answers);
    }

    #[test]
    fn a_create_decodes_with_its_payload() {
        let job = user_job(Operation::Create, "", json!({"userName": "a"})).unwrap();
        let decoded = round_trip(&job).unwrap();
        assert_eq!((decoded.kind(), decoded.operation()), (ResourceKind::User, Operation::Create));
        assert_eq!(decoded.payload()["userName"], "a");
        assert_eq!(decoded.if_match(), None);
    }

    #[test]
    fn a_replace_without_an_id_is_refused() {
        assert_eq!(user_job(Operation::Replace, " ", json!({})).unwrap_err().http_status(), 400);
    }

    #[test]
    fn another_spelling_of_an_id_is_not_found_so_no_job_and_no_ordering_key_exist_for_it() {
        for alias in ["+42", "042", "42 ", " 42", "42%20"] {
            for operation in [Operation::Replace, Operation::Patch, Operation::Delete] {
                let err = user_job(operation, alias, json!({})).unwrap_err();
                assert_eq!(err.http_status(), 404, "{operation:?} {alias:?}");
            }
        }
    }

    #[test]
    fn a_patch_whose_body_is_not_an_object_is_invalid_syntax() {
        let err = user_job(Operation::Patch, "4", json!(["nope"])).unwrap_err();
        assert_eq!(err.scim_type, Some(scim::ScimType::InvalidSyntax));
    }

    #[test]
    fn a_body_that_is_not_json_is_invalid_syntax() {
        let bytes = pb::ProvisioningJob {
            caller: Some(common::Caller { connection_id: "okta".into() }),
            resource_type: common::ResourceType::User as i32,
            operation: pb::Operation::Patch as i32,
            resource_id: "4".into(),
            payload: b"{nope".to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(decode(&bytes).unwrap_err().scim_type, Some(scim::ScimType::InvalidSyntax));
    }

    #[test]
    fn an_unknown_operation_is_refused() {
        let bytes = pb::ProvisioningJob {
            resource_type: common::ResourceType::User as i32,
            operation: 9,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(decode(&bytes).unwrap_err().http_status(), 400);
    }

    #[test]
    fn a_delete_carries_no_payload() {
        let job = user_job(Operation::Delete, "42", json!({"ignored": true})).unwrap();
        assert_eq!(round_trip(&job).unwrap().payload(), &Value::Null);
    }

    #[test]
    fn the_debug_form_never_shows_the_payload() {
        let job = user_job(Operation::Create, "", json!({"userName": "a", "password": "Hunter-2-Secret!"})).unwrap();
        let shown = format!("{job:?}");
        assert!(!shown.contains("Hunter-2"), "{shown}");
    }

    #[test]
    fn garbage_bytes_are_refused_not_panicked_on() {
        assert!(decode(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn creates_of_the_same_name_share_an_ordering_key_whatever_the_case() {
        let a = user_job(Operation::Create, "", json!({"userName": "BJensen"})).unwrap().ordering_key("primary");
        let b = user_job(Operation::Create, "", json!({"userName": "bjensen"})).unwrap().ordering_key("primary");
        assert_eq!(a, "primary/User/new:bjensen");
        assert_eq!(a, b);
    }

    #[test]
    fn a_name_too_long_for_a_queue_key_stands_as_its_digest_alike_for_alike() {
        let long = "A".repeat(1100);
        let a = user_job(Operation::Create, "", json!({"userName": long})).unwrap().ordering_key("primary");
        let b =
            user_job(Operation::Create, "", json!({"userName": long.to_lowercase()})).unwrap().ordering_key("primary");
        let other =
            user_job(Operation::Create, "", json!({"userName": "b".repeat(1100)})).unwrap().ordering_key("primary");
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert!(a.starts_with("primary/User/new:sha256:") && a.len() < 128, "{a}");
    }

    #[test]
    fn changes_of_one_resource_share_its_ordering_key() {
        let patch = user_job(Operation::Patch, "42", json!({})).unwrap();
        let delete = user_job(Operation::Delete, "42", Value::Null).unwrap();
        assert_eq!(patch.ordering_key("primary"), "primary/User/42");
        assert_eq!(delete.ordering_key("primary"), "primary/User/42");
    }

    #[test]
    fn unique_names_identify_what_a_create_would_make() {
        assert_eq!(unique_name(ResourceKind::User, &json!({"userName": "BJensen"})).as_deref(), Some("BJensen"));
        assert_eq!(unique_name(ResourceKind::Group, &json!({"displayName": "Admins"})).as_deref(), Some("Admins"));
        let grant = json!({"container": {"value": "12"}, "group": {"value": "7"}, "rights": ["View"]});
        assert_eq!(unique_name(ResourceKind::ContainerPermission, &grant).as_deref(), Some("12/group:7"));
        assert_eq!(unique_name(ResourceKind::User, &json!({})), None);
    }

    #[test]
    fn a_submission_carries_the_trace_context_beside_the_job() {
        let job = user_job(Operation::Create, "", json!({"userName": "a"})).unwrap();
        let context = TraceContext::from([("traceparent".to_owned(), "00-abc-def-01".to_owned())]);
        let keys = JobKeys::ephemeral();
        let submission = job.submission("primary", "key-1".into(), context.clone(), &keys);
        assert_eq!(submission.trace_context, context);
        assert_eq!(submission.ordering_key, "primary/User/new:a");
        assert_eq!(Job::open(&submission.payload, &submission.secrets, &keys).unwrap(), job);
    }

    const PASSWORD: &str = "Hunter-2-Secret!";

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_password_is_sealed_apart_from_the_payload_and_opens_in_its_place() {
        let create = user_job(Operation::Create, "", json!({"userName": "a", "password": PASSWORD})).unwrap();
        let patch = user_job(
            Operation::Patch,
            "42",
            json!({"Operations": [{"op": "replace", "path": "password", "value": PASSWORD}]}),
        )
        .unwrap();
        // `path` spelled twice: the gateway refuses such a PATCH, and sealing reads it as naming
        // the password whichever spelling comes first.
        let spelled_twice = user_job(
            Operation::Patch,
            "42",
            json!({"Operations": [{"op": "replace", "Path": "displayName", "path": "password", "value": PASSWORD}]}),
        )
        .unwrap();
        for job in [create, patch, spelled_twice] {
            let keys = JobKeys::ephemeral();
            let sealed = job.seal(&keys);
            assert!(!contains(&sealed.payload, PASSWORD.as_bytes()), "the payload holds no password");
            assert!(!contains(&sealed.secrets, PASSWORD.as_bytes()), "the secrets hold it encrypted");
            assert!(!sealed.secrets.is_empty());
            assert_eq!(Job::open(&sealed.payload, &sealed.secrets, &keys).unwrap(), job);
        }
    }

    #[test]
    fn a_job_without_a_password_has_no_secrets() {
        let job = user_job(Operation::Create, "", json!({"userName": "a"})).unwrap();
        assert!(job.seal(&JobKeys::ephemeral()).secrets.is_empty());
    }

    #[test]
    fn any_configured_key_opens_what_an_older_key_sealed_and_the_newest_seals() {
        let (old, old_text) = JobKeys::generate("old");
        let (_, new_text) = JobKeys::generate("new");
        let rotated = JobKeys::parse(&format!("{}\n{}", *old_text, *new_text)).unwrap();
        let job = user_job(Operation::Create, "", json!({"userName": "a", "password": PASSWORD})).unwrap();
        let by_old = job.seal(&old);
        assert_eq!(Job::open(&by_old.payload, &by_old.secrets, &rotated).unwrap(), job);
        let by_rotated = job.seal(&rotated);
        let err = Job::open(&by_rotated.payload, &by_rotated.secrets, &old).unwrap_err();
        assert_eq!(err.http_status(), 500);
        assert!(err.to_string().contains("\"new\""), "the error names the missing key: {err}");
    }

    #[test]
    fn sealed_secrets_open_only_in_their_own_job() {
        let keys = JobKeys::ephemeral();
        let alice = user_job(Operation::Create, "", json!({"userName": "alice", "password": PASSWORD})).unwrap();
        let mallory = user_job(Operation::Create, "", json!({"userName": "mallory", "password": "x"})).unwrap();
        let (alice, mallory) = (alice.seal(&keys), mallory.seal(&keys));
        assert_eq!(Job::open(&mallory.payload, &alice.secrets, &keys).unwrap_err().http_status(), 500);
    }

    #[test]
    fn a_failed_job_result_becomes_its_service_error() {
        let error = ServiceError::from(ScimError::uniqueness("userName taken"));
        let decoded = decode_result(&encode_failure(&error)).unwrap_err();
        assert_eq!((decoded.http_status(), decoded.scim_type), (409, Some(scim::ScimType::Uniqueness)));
    }

    #[test]
    fn a_succeeded_job_result_reads_back_as_written() {
        let resource = Resource {
            kind: ResourceKind::User,
            id: "42".into(),
            version: "W/\"1\"".into(),
            json: Bytes::from_static(br#"{"id":"42"}"#),
        };
        let written = Written::Resource(resource);
        assert_eq!(decode_result(&written.encode()).unwrap(), written);
        assert_eq!(decode_result(&Written::Deleted.encode()).unwrap(), Written::Deleted);
    }

    #[test]
    fn a_success_without_a_resource_is_an_internal_error() {
        let bytes = pb::JobResult {
            outcome: Some(pb::job_result::Outcome::Success(pb::JobSuccess { resource: None, deleted: false })),
        }
        .encode_to_vec();
        assert_eq!(decode_result(&bytes).unwrap_err().http_status(), 500);
    }
}
