//! Audit events: one `ResourceChange` per provisioning job, with the mapped Secret Server fields
//! before and after the change (never a password or a secret value), published on the events
//! stream for the audit service (and for other adapter replicas).
//!
//! The event id is derived from the job id, so that a job redelivered after its event was
//! published (but before its outcome was recorded) publishes the same event again and the audit
//! service records it once.

use job_queue::{EventBus, QueueError};
use proto::audit::v1 as audit_pb;
use proto::common::v1 as common;
use scim::ResourceKind;
use serde_json::Value;
use service_error::ServiceError;

/// The proto enum of a resource kind.
pub fn proto_kind(kind: ResourceKind) -> common::ResourceType {
    match kind {
        ResourceKind::User => common::ResourceType::User,
        ResourceKind::Group => common::ResourceType::Group,
        ResourceKind::Container => common::ResourceType::Container,
        ResourceKind::ContainerPermission => common::ResourceType::ContainerPermission,
        ResourceKind::PrivilegedData => common::ResourceType::PrivilegedData,
        ResourceKind::PrivilegedDataPermission => common::ResourceType::PrivilegedDataPermission,
    }
}

/// The resource kind of a proto enum value; `None` for unspecified or unknown values.
pub fn kind_of(value: i32) -> Option<ResourceKind> {
    match common::ResourceType::try_from(value).ok()? {
        common::ResourceType::User => Some(ResourceKind::User),
        common::ResourceType::Group => Some(ResourceKind::Group),
        common::ResourceType::Container => Some(ResourceKind::Container),
        common::ResourceType::ContainerPermission => Some(ResourceKind::ContainerPermission),
        common::ResourceType::PrivilegedData => Some(ResourceKind::PrivilegedData),
        common::ResourceType::PrivilegedDataPermission => Some(ResourceKind::PrivilegedDataPermission),
        common::ResourceType::Unspecified => None,
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct ChangeRecord {
    pub connection_id: String,
    pub instance: String,
    pub kind: ResourceKind,
    pub resource_id: String,
    pub operation: &'static str,
    pub job_id: String,
    pub request_id: String,
    pub before: Value,
    pub after: Value,
    /// `None` when the change succeeded.
    pub error: Option<ServiceError>,
}

/// The `source` of the adapter's events.
pub const SOURCE: &str = audit::events::SOURCE_ADAPTER;

/// Builds the `AuditEvent` of a change, in the current trace, with the `audit` crate's builder
/// (which also scrubs credential-named fields from before/after, as a second line of defence).
pub fn build(change: &ChangeRecord) -> audit_pb::AuditEvent {
    let json = |v: &Value| if v.is_null() { Vec::new() } else { audit::events::change_json(v) };
    let mut event = audit::events::resource_change(audit_pb::ResourceChange {
        connection_id: change.connection_id.clone(),
        secret_server_instance: change.instance.clone(),
        resource_type: proto_kind(change.kind) as i32,
        resource_id: change.resource_id.clone(),
        operation: change.operation.to_owned(),
        job_id: change.job_id.clone(),
        request_id: change.request_id.clone(),
        before_json: json(&change.before),
        after_json: json(&change.after),
        outcome: if change.error.is_some() { "failed" } else { "succeeded" }.to_owned(),
        error: change.error.as_ref().map(common::Error::from),
    });
    // Derived from the job, so that a redelivered job's event is recorded once.
    event.event_id = format!("{}:{}", change.job_id, change.operation);
    event
}

/// Publishes a change's event.
///
/// # Errors
/// When the events stream refuses it; the caller retries the job, which is idempotent.
pub async fn publish(bus: &dyn EventBus, change: &ChangeRecord) -> Result<(), QueueError> {
    audit::events::publish(bus, &build(change)).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_event_carries_before_and_after_and_its_job() {
        let change = ChangeRecord {
            connection_id: "okta".into(),
            instance: "primary".into(),
            kind: ResourceKind::User,
            resource_id: "42".into(),
            operation: "replace",
            job_id: "j-1".into(),
            request_id: "r-1".into(),
            before: json!({"displayName": "Barbara"}),
            after: json!({"displayName": "Babs"}),
            error: None,
        };
        let event = build(&change);
        assert_eq!(event.event_id, "j-1:replace");
        assert_eq!(event.source, "adapter");
        let Some(audit_pb::audit_event::Kind::Change(c)) = event.kind else { panic!("not a change") };
        assert_eq!(c.outcome, "succeeded");
        assert_eq!(c.resource_type, common::ResourceType::User as i32);
        assert_eq!(serde_json::from_slice::<Value>(&c.after_json).unwrap(), json!({"displayName": "Babs"}));
    }

    #[test]
    fn every_kind_round_trips_through_its_proto_value() {
        for kind in ResourceKind::ALL {
            assert_eq!(kind_of(proto_kind(kind) as i32), Some(kind));
        }
        assert_eq!(kind_of(0), None);
    }
}
