//! Audit events, for the services that emit them: the gateway (a `ScimCall` for every SCIM
//! request it authenticated, an `AuthFailureSummary` for the calls it refused, counted over an
//! interval), the adapter's workers (a `ResourceChange` for every provisioning change) and the
//! admin API (an `AdminAction`). Every producer builds its events here, so that each one carries a
//! fresh UUIDv7 `event_id`, its time and the trace context of the current span the same way, and
//! so that a change's before/after JSON is scrubbed of credential-named fields ([`scrub`]) before
//! it reaches the stream.
//!
//! The [`spool`] is where a producer keeps, on disk, the events the stream cannot take in time (the
//! gateway, so that a call is on record before its answer leaves), to publish them later in order.
//!
//! Producers depend on this crate only; the `audit` crate is the consumer (the store and its query
//! API) and reads the same types. Replicas of the adapter follow the stream too, and read the
//! changes applied elsewhere with [`AppliedChange::decode`].

mod change;
pub mod scrub;
pub mod spool;

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

/// Failed authentications of one kind, counted over an interval (see [`auth_failure_summary`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailureCount {
    /// `scim`, `oauth2` or `admin`.
    pub surface: String,
    /// The client's address, `*` for the overflow of an interval with too many keys.
    pub client_address: String,
    /// The Basic user name, OAuth client id or token digest (`sha256:<12 hex>`) presented; empty
    /// when no credential was.
    pub credential_id: String,
    /// `missing`, `invalid`, `repeated`, `throttled`, `busy` or `unavailable`.
    pub reason: String,
    /// The HTTP status the calls were answered with.
    pub status: u16,
    pub count: u64,
    pub first_seen: SystemTime,
    pub last_seen: SystemTime,
}

/// The event that summarises failed authentications (emitted by the gateway once per key and
/// interval, never once per refused call, so that a flood cannot flood the audit trail).
pub fn auth_failure_summary(count: AuthFailureCount) -> pb::AuditEvent {
    envelope(
        SOURCE_GATEWAY,
        pb::audit_event::Kind::AuthFailures(pb::AuthFailureSummary {
            surface: count.surface,
            client_address: count.client_address,
            credential_id: count.credential_id,
            reason: count.reason,
            status: u32::from(count.status),
            count: count.count,
            first_seen: Some(timestamp(count.first_seen)),
            last_seen: Some(timestamp(count.last_seen)),
        }),
    )
}

fn timestamp(at: SystemTime) -> prost_types::Timestamp {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
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
    fn a_summary_of_failed_authentications_carries_its_counts_and_times() {
        let first = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let event = auth_failure_summary(AuthFailureCount {
            surface: "scim".into(),
            client_address: "192.0.2.7".into(),
            credential_id: "okta-sync".into(),
            reason: "invalid".into(),
            status: 401,
            count: 42,
            first_seen: first,
            last_seen: first + Duration::from_secs(9),
        });
        assert_eq!(event.source, SOURCE_GATEWAY);
        let Some(pb::audit_event::Kind::AuthFailures(summary)) = &event.kind else { panic!("a summary") };
        assert_eq!((summary.count, summary.status), (42, 401));
        assert_eq!(summary.first_seen, Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 250_000_000 }));
        assert_eq!(summary.last_seen.unwrap().seconds, 1_700_000_009);
    }

    #[test]
    fn the_bus_event_decodes_back_to_the_audit_event() {
        let event = scim_call(pb::ScimCall { method: "POST".into(), status: 201, ..Default::default() });
        let bus = to_bus_event(&event);
        assert_eq!(pb::AuditEvent::decode(bus.payload).unwrap(), event);
    }
}
