//! Audit events, for the services that emit them: the gateway (a `ScimCall` for every SCIM
//! request), the adapter's workers (a `ResourceChange` for every provisioning change) and the
//! admin API (an `AdminAction`). Every producer builds its events here, so that each one carries a
//! fresh UUIDv7 `event_id`, its time and the trace context of the current span the same way, and
//! so that a change's before/after JSON is scrubbed of credential-named fields ([`scrub`]) before
//! it reaches the stream.
//!
//! Producers depend on this crate only; the `audit` crate is the consumer (the store and its query
//! API) and reads the same types. Replicas of the adapter follow the stream too, and read the
//! changes applied elsewhere with [`AppliedChange::decode`].

mod change;
pub mod scrub;

pub use change::{AppliedChange, ChangeOutcome, ChangeRecord, MemberChanges};

use bytes::Bytes;
use job_queue::{Event, EventBus, EventId, QueueError};
use prost::Message;
use proto::audit::v1 as pb;
use proto::common::v1::TraceContext;
use scrub::scrub_secrets;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `source` of events emitted by the SCIM gateway.
pub const SOURCE_GATEWAY: &str = "gateway";
/// The `source` of events emitted by the adapter's workers.
pub const SOURCE_ADAPTER: &str = "adapter";
/// The `source` of events emitted by the admin API.
pub const SOURCE_ADMIN: &str = "admin";

fn envelope(source: &str, kind: pb::audit_event::Kind) -> pb::AuditEvent {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let fields = telemetry::current_trace_context();
    pb::AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(now.subsec_nanos()).unwrap_or(0),
        }),
        trace_id: telemetry::current_trace_id().unwrap_or_default(),
        trace_context: (!fields.is_empty()).then(|| TraceContext { fields: fields.into_iter().collect() }),
        source: source.to_owned(),
        kind: Some(kind),
    }
}

/// The event of one SCIM HTTP request (emitted by the gateway once it has answered).
pub fn scim_call(call: pb::ScimCall) -> pb::AuditEvent {
    envelope(SOURCE_GATEWAY, pb::audit_event::Kind::ScimCall(call))
}

/// The event of one change applied (or refused) in Secret Server (emitted by a worker, usually
/// through [`ChangeRecord::to_event`]). The before/after JSON is scrubbed of credential-named
/// fields here too, so that a mapping bug cannot put a password on the stream.
pub fn resource_change(mut change: pb::ResourceChange) -> pb::AuditEvent {
    change.before_json = scrubbed(std::mem::take(&mut change.before_json));
    change.after_json = scrubbed(std::mem::take(&mut change.after_json));
    envelope(SOURCE_ADAPTER, pb::audit_event::Kind::Change(change))
}

/// The event of one change to the connector's configuration through the admin API.
pub fn admin_action(
    actor: impl Into<String>,
    action: impl Into<String>,
    connection_id: impl Into<String>,
    detail: impl Into<String>,
) -> pb::AuditEvent {
    envelope(
        SOURCE_ADMIN,
        pb::audit_event::Kind::Admin(pb::AdminAction {
            actor: actor.into(),
            action: action.into(),
            connection_id: connection_id.into(),
            detail: detail.into(),
        }),
    )
}

/// JSON for a change's before/after, scrubbed of credential-named fields.
pub fn change_json(value: &serde_json::Value) -> Vec<u8> {
    let mut value = value.clone();
    scrub_secrets(&mut value);
    serde_json::to_vec(&value).unwrap_or_default()
}

fn scrubbed(bytes: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value) => change_json(&value),
        // Not JSON: the audit service records only that it was not, never the bytes.
        Err(_) => bytes,
    }
}

/// The event as the bus carries it: the encoded `AuditEvent` and its trace context.
pub fn to_bus_event(event: &pb::AuditEvent) -> Event {
    let trace_context =
        event.trace_context.as_ref().map(|tc| tc.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    Event { payload: Bytes::from(event.encode_to_vec()), trace_context: trace_context.unwrap_or_default() }
}

/// Publishes `event` on the events stream.
///
/// # Errors
/// The bus's error when it cannot take the event.
pub async fn publish(bus: &dyn EventBus, event: &pb::AuditEvent) -> Result<EventId, QueueError> {
    bus.publish(to_bus_event(event)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_a_fresh_uuid_v7_and_the_time_of_now() {
        let one = admin_action("ops", "connection.create", "c1", "created");
        let two = admin_action("ops", "connection.create", "c1", "created");
        assert_ne!(one.event_id, two.event_id);
        assert_eq!(uuid::Uuid::parse_str(&one.event_id).unwrap().get_version_num(), 7);
        assert!(one.occurred_at.unwrap().seconds > 1_700_000_000);
        assert_eq!(one.source, SOURCE_ADMIN);
    }

    #[test]
    fn a_change_event_never_carries_a_password() {
        let event = resource_change(pb::ResourceChange {
            before_json: br#"{"userName":"a","password":"old-secret"}"#.to_vec(),
            after_json: change_json(&serde_json::json!({"userName": "a", "Password": "new-secret"})),
            ..Default::default()
        });
        let Some(pb::audit_event::Kind::Change(change)) = &event.kind else { panic!("a change") };
        let text =
            format!("{}{}", String::from_utf8_lossy(&change.before_json), String::from_utf8_lossy(&change.after_json));
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("userName"));
    }

    #[test]
    fn the_bus_event_decodes_back_to_the_audit_event() {
        let event = scim_call(pb::ScimCall { method: "POST".into(), status: 201, ..Default::default() });
        let bus = to_bus_event(&event);
        assert_eq!(pb::AuditEvent::decode(bus.payload).unwrap(), event);
    }
}
