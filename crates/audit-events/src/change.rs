//! A provisioning change as a worker records it ([`ChangeRecord`]), and as another adapter replica
//! reads it back off the stream ([`AppliedChange`]). The outcome and a group's member changes are
//! typed fields of the event, so that no reader parses them out of strings or the before/after
//! JSON, which exist for people reading the audit log.

use crate::{publish, resource_change};
use adapter_api::{Operation, kind};
use job_queue::{EventBus, QueueError};
use prost::Message;
use proto::audit::v1 as pb;
use proto::common::v1 as common;
use scim::ResourceKind;
use serde_json::Value;
use service_error::ServiceError;

/// Whether a change was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeOutcome {
    Succeeded,
    Failed,
}

impl ChangeOutcome {
    /// The name the audit log shows and filters by: `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOutcome::Succeeded => "succeeded",
            ChangeOutcome::Failed => "failed",
        }
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::ChangeOutcome {
        match self {
            ChangeOutcome::Succeeded => pb::ChangeOutcome::Succeeded,
            ChangeOutcome::Failed => pb::ChangeOutcome::Failed,
        }
    }

    /// The outcome of a protobuf value; `None` for `Unspecified` or an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        match pb::ChangeOutcome::try_from(value).ok()? {
            pb::ChangeOutcome::Succeeded => Some(ChangeOutcome::Succeeded),
            pb::ChangeOutcome::Failed => Some(ChangeOutcome::Failed),
            pb::ChangeOutcome::Unspecified => None,
        }
    }
}

/// The users a change added to a group and removed from it, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// One change to record: what a worker applied (or refused) in Secret Server.
#[derive(Debug, Clone)]
pub struct ChangeRecord {
    pub connection_id: String,
    /// The Secret Server instance the change was made on.
    pub instance: String,
    pub kind: ResourceKind,
    pub resource_id: String,
    pub operation: Operation,
    pub job_id: String,
    pub request_id: String,
    /// The mapped Secret Server fields before and after (`Null` when there is no side).
    pub before: Value,
    pub after: Value,
    /// For a group: the members added and removed; for a container: the privileged data (secrets)
    /// moved into it and out of it.
    pub members: MemberChanges,
    /// `None` when the change succeeded.
    pub error: Option<ServiceError>,
}

impl ChangeRecord {
    pub fn outcome(&self) -> ChangeOutcome {
        if self.error.is_some() { ChangeOutcome::Failed } else { ChangeOutcome::Succeeded }
    }

    /// The change's `AuditEvent`, in the current trace. Its id is derived from the job, so that a
    /// job redelivered after its event was published (but before its outcome was recorded)
    /// publishes the same event again and the audit service records it once.
    pub fn to_event(&self) -> pb::AuditEvent {
        let json = |v: &Value| if v.is_null() { Vec::new() } else { crate::change_json(v) };
        let mut event = resource_change(pb::ResourceChange {
            connection_id: self.connection_id.clone(),
            secret_server_instance: self.instance.clone(),
            resource_type: kind::to_proto(self.kind) as i32,
            resource_id: self.resource_id.clone(),
            operation: self.operation.name().to_owned(),
            job_id: self.job_id.clone(),
            request_id: self.request_id.clone(),
            before_json: json(&self.before),
            after_json: json(&self.after),
            error: self.error.as_ref().map(common::Error::from),
            outcome: self.outcome().to_proto() as i32,
            members_added: self.members.added.clone(),
            members_removed: self.members.removed.clone(),
        });
        event.event_id = format!("{}:{}", self.job_id, self.operation.name());
        event
    }

    /// Publishes the change's event.
    ///
    /// # Errors
    /// When the events stream refuses it; the worker retries the job, which is idempotent.
    pub async fn publish(&self, bus: &dyn EventBus) -> Result<(), QueueError> {
        publish(bus, &self.to_event()).await.map(|_| ())
    }
}

/// A change that succeeded, or the members a failed attempt changed before it failed, as a reader
/// of the events stream needs it to refresh its own copy of the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedChange {
    pub instance: String,
    pub kind: ResourceKind,
    pub resource_id: String,
    pub members: MemberChanges,
}

impl AppliedChange {
    /// The applied change an event payload carries; `None` for anything else (another kind of
    /// event, a failed change that changed no member, a resource type this build does not know,
    /// bytes that are not an event).
    pub fn decode(payload: &[u8]) -> Option<Self> {
        let event = pb::AuditEvent::decode(payload).ok()?;
        let pb::audit_event::Kind::Change(change) = event.kind? else { return None };
        let changed_members = !(change.members_added.is_empty() && change.members_removed.is_empty());
        match ChangeOutcome::from_proto(change.outcome)? {
            ChangeOutcome::Succeeded => {}
            ChangeOutcome::Failed if changed_members => {}
            ChangeOutcome::Failed => return None,
        }
        Some(AppliedChange {
            instance: change.secret_server_instance,
            kind: kind::from_proto(change.resource_type)?,
            resource_id: change.resource_id,
            members: MemberChanges { added: change.members_added, removed: change.members_removed },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn change(error: Option<ServiceError>) -> ChangeRecord {
        ChangeRecord {
            connection_id: "okta".into(),
            instance: "primary".into(),
            kind: ResourceKind::Group,
            resource_id: "42".into(),
            operation: Operation::Replace,
            job_id: "j-1".into(),
            request_id: "r-1".into(),
            before: json!({"name": "Admins"}),
            after: json!({"name": "Admins", "membersAdded": [7]}),
            members: MemberChanges { added: vec!["7".into()], removed: vec!["8".into()] },
            error,
        }
    }

    #[test]
    fn a_change_event_carries_before_and_after_and_its_job() {
        let event = change(None).to_event();
        assert_eq!(event.event_id, "j-1:replace");
        assert_eq!(event.source, "adapter");
        let Some(pb::audit_event::Kind::Change(c)) = event.kind else { panic!("not a change") };
        assert_eq!(c.outcome, pb::ChangeOutcome::Succeeded as i32);
        assert_eq!(c.resource_type, common::ResourceType::Group as i32);
        assert_eq!((c.members_added, c.members_removed), (vec!["7".to_owned()], vec!["8".to_owned()]));
        assert_eq!(serde_json::from_slice::<Value>(&c.after_json).unwrap()["membersAdded"], json!([7]));
    }

    #[test]
    fn a_succeeded_change_reads_back_as_applied_with_its_members() {
        let payload = crate::to_bus_event(&change(None).to_event()).payload;
        let applied = AppliedChange::decode(&payload).expect("an applied change");
        assert_eq!(
            applied,
            AppliedChange {
                instance: "primary".into(),
                kind: ResourceKind::Group,
                resource_id: "42".into(),
                members: MemberChanges { added: vec!["7".into()], removed: vec!["8".into()] },
            }
        );
    }

    #[test]
    fn a_failed_change_is_not_applied_but_the_members_it_changed_before_it_failed_are() {
        let mut failed = change(Some(ServiceError::not_found("no such group")));
        assert_eq!(failed.outcome(), ChangeOutcome::Failed);
        let members = failed.members.clone();
        let applied = AppliedChange::decode(&crate::to_bus_event(&failed.to_event()).payload);
        assert_eq!(applied.map(|a| a.members), Some(members), "the members it changed are changed");

        failed.members = MemberChanges::default();
        assert_eq!(AppliedChange::decode(&crate::to_bus_event(&failed.to_event()).payload), None);
    }

    #[test]
    fn other_events_and_garbage_are_not_applied_changes() {
        let call = crate::scim_call(pb::ScimCall::default());
        assert_eq!(AppliedChange::decode(&crate::to_bus_event(&call).payload), None);
        assert_eq!(AppliedChange::decode(b"\xff\xff"), None);
    }

    #[test]
    fn outcomes_round_trip_through_their_proto_values() {
        for outcome in [ChangeOutcome::Succeeded, ChangeOutcome::Failed] {
            assert_eq!(ChangeOutcome::from_proto(outcome.to_proto() as i32), Some(outcome));
        }
        assert_eq!(ChangeOutcome::from_proto(0), None);
    }
}
