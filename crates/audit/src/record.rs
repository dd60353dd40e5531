//! Audit records as the store keeps them, and their conversion from the `AuditEvent` wire type.
//!
//! The protobuf event stays at this edge: [`NewRecord::from_event`] turns it into the queryable
//! columns plus the full event as JSON (secrets scrubbed), and [`NewRecord::undecodable`] keeps a
//! payload that is not an `AuditEvent` at all, so that nothing on the stream is lost or looped on.

use crate::time_format::{format_micros, micros_of};
use audit_events::ChangeOutcome;
use audit_events::scrub::scrub_secrets;
use base64::Engine as _;
use proto::audit::v1 as pb;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Largest undecodable payload kept whole; longer ones are truncated (and say so).
const MAX_RAW_PAYLOAD: usize = 1024 * 1024;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// One SCIM HTTP request, as the gateway answered it.
    ScimCall,
    /// One provisioning change applied (or refused) in Secret Server.
    Change,
    /// A change to the connector's own configuration.
    Admin,
    /// Failed authentications at the gateway, counted over an interval (one record per client
    /// address, credential identifier and reason, never one per refused call).
    AuthFailures,
    /// A payload on the events stream that is not a valid `AuditEvent`.
    Undecodable,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] = [
        RecordKind::ScimCall,
        RecordKind::Change,
        RecordKind::Admin,
        RecordKind::AuthFailures,
        RecordKind::Undecodable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::ScimCall => "scim_call",
            RecordKind::Change => "change",
            RecordKind::Admin => "admin",
            RecordKind::AuthFailures => "auth_failures",
            RecordKind::Undecodable => "undecodable",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| {
            format!("unknown kind {s:?}: expected scim_call, change, admin, auth_failures or undecodable")
        })
    }
}

/// The SCIM name of a resource type (`None` when unspecified, `unknown(<n>)` for a value this
/// build does not know).
pub fn resource_type_name(value: i32) -> Option<String> {
    match adapter_api::kind::from_proto(value) {
        Some(kind) => Some(kind.name().to_owned()),
        None if value == proto::common::v1::ResourceType::Unspecified as i32 => None,
        None => Some(format!("unknown({value})")),
    }
}

/// The resource type names a filter may use.
pub const RESOURCE_TYPE_NAMES: [&str; 6] =
    ["User", "Group", "Container", "ContainerPermission", "PrivilegedData", "PrivilegedDataPermission"];

/// A record before it joins the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub event_id: String,
    /// Microseconds since the Unix epoch.
    pub occurred_at: i64,
    pub kind: RecordKind,
    pub columns: Columns,
    /// The trace the event belongs to (the record step joins it).
    pub trace_context: BTreeMap<String, String>,
    /// The full event, as JSON, secrets scrubbed.
    pub event: Value,
}

/// The queryable columns of a record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Columns {
    pub source: Option<String>,
    pub connection_id: Option<String>,
    pub connection_name: Option<String>,
    pub method: Option<String>,
    pub route: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub operation: Option<String>,
    /// The HTTP status of a SCIM call.
    pub status: Option<i64>,
    pub latency_micros: Option<i64>,
    pub client_address: Option<String>,
    pub trace_id: Option<String>,
    /// `succeeded` or `failed`, for a change.
    pub outcome: Option<String>,
    pub decode_error: Option<String>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Parses a change's before/after bytes and scrubs them. Bytes that are not JSON are not kept:
/// content of unknown shape cannot be scrubbed, so keeping it could keep a secret.
fn change_side(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            scrub_secrets(&mut value);
            value
        }
        Err(error) => json!({"invalidJson": true, "length": bytes.len(), "error": error.to_string()}),
    }
}

impl NewRecord {
    /// The record of a decoded event. `now` (µs) stands in for a missing `occurred_at`;
    /// `fallback_id` (the stream's id of the delivery) for a missing `event_id`;
    /// `fallback_context` (the delivery's trace context) for a missing one.
    pub fn from_event(
        event: pb::AuditEvent,
        fallback_id: &str,
        fallback_context: &BTreeMap<String, String>,
        now: i64,
    ) -> Self {
        let event_id = if event.event_id.is_empty() { format!("stream:{fallback_id}") } else { event.event_id.clone() };
        let occurred_at = event.occurred_at.as_ref().map(micros_of).unwrap_or(now);
        let trace_context: BTreeMap<String, String> = match &event.trace_context {
            Some(tc) if !tc.fields.is_empty() => tc.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => fallback_context.clone(),
        };
        let trace_id = non_empty(&event.trace_id.to_ascii_lowercase()).or_else(|| trace_id_of(&trace_context));
        let mut columns = Columns { source: non_empty(&event.source), trace_id, ..Columns::default() };
        let mut body = Map::new();
        body.insert("eventId".into(), Value::String(event_id.clone()));
        body.insert(
            "occurredAt".into(),
            event.occurred_at.as_ref().map(|t| Value::String(format_micros(micros_of(t)))).unwrap_or(Value::Null),
        );
        body.insert("traceId".into(), columns.trace_id.clone().map(Value::String).unwrap_or(Value::Null));
        body.insert("traceContext".into(), json!(trace_context));
        body.insert("source".into(), Value::String(event.source.clone()));

        let kind = match event.kind {
            Some(pb::audit_event::Kind::ScimCall(call)) => {
                columns.connection_id = non_empty(&call.connection_id);
                columns.connection_name = non_empty(&call.connection_name);
                columns.method = non_empty(&call.method.to_ascii_uppercase());
                columns.route = non_empty(&call.route);
                columns.resource_type = resource_type_name(call.resource_type);
                columns.resource_id = non_empty(&call.resource_id);
                columns.status = Some(i64::from(call.status));
                columns.latency_micros = Some(i64::try_from(call.latency_micros).unwrap_or(i64::MAX));
                columns.client_address = non_empty(&call.client_address);
                body.insert(
                    "scimCall".into(),
                    json!({
                        "connectionId": call.connection_id,
                        "connectionName": call.connection_name,
                        "method": call.method,
                        "route": call.route,
                        "resourceType": columns.resource_type,
                        "resourceId": call.resource_id,
                        "status": call.status,
                        "latencyMicros": call.latency_micros,
                        "clientAddress": call.client_address,
                        "scimType": call.scim_type,
                        "requestId": call.request_id,
                        "ignoredAttributes": call.ignored_attributes,
                    }),
                );
                RecordKind::ScimCall
            }
            Some(pb::audit_event::Kind::Change(change)) => {
                columns.connection_id = non_empty(&change.connection_id);
                columns.resource_type = resource_type_name(change.resource_type);
                columns.resource_id = non_empty(&change.resource_id);
                columns.operation = non_empty(&change.operation);
                let outcome = ChangeOutcome::from_proto(change.outcome).map(ChangeOutcome::as_str);
                columns.outcome = outcome.map(str::to_owned);
                let error = change.error.as_ref().map(|e| {
                    json!({
                        "kind": proto::common::v1::ErrorKind::try_from(e.kind).map(|k| k.as_str_name()).unwrap_or("ERROR_KIND_UNKNOWN"),
                        "scimType": e.scim_type,
                        "detail": e.detail,
                    })
                });
                body.insert(
                    "change".into(),
                    json!({
                        "connectionId": change.connection_id,
                        "secretServerInstance": change.secret_server_instance,
                        "resourceType": columns.resource_type,
                        "resourceId": change.resource_id,
                        "operation": change.operation,
                        "jobId": change.job_id,
                        "requestId": change.request_id,
                        "before": change_side(&change.before_json),
                        "after": change_side(&change.after_json),
                        "outcome": outcome.unwrap_or_default(),
                        "error": error,
                    }),
                );
                // A failed change lists the members it changed before it failed (a succeeded
                // group change has them in `after`).
                if change.error.is_some()
                    && let Some(Value::Object(c)) = body.get_mut("change")
                {
                    if !change.members_added.is_empty() {
                        c.insert("membersAdded".into(), json!(change.members_added));
                    }
                    if !change.members_removed.is_empty() {
                        c.insert("membersRemoved".into(), json!(change.members_removed));
                    }
                }
                RecordKind::Change
            }
            Some(pb::audit_event::Kind::Admin(admin)) => {
                columns.connection_id = non_empty(&admin.connection_id);
                columns.operation = non_empty(&admin.action);
                body.insert(
                    "admin".into(),
                    json!({
                        "actor": admin.actor,
                        "action": admin.action,
                        "connectionId": admin.connection_id,
                        "detail": admin.detail,
                    }),
                );
                RecordKind::Admin
            }
            Some(pb::audit_event::Kind::AuthFailures(summary)) => {
                // Queryable as `kind=auth_failures`, by `status` (401, 429, 503) and by `client_address`;
                // the reason is the operation, the surface the route.
                columns.client_address = non_empty(&summary.client_address);
                columns.operation = non_empty(&summary.reason);
                columns.route = non_empty(&summary.surface);
                columns.status = Some(i64::from(summary.status));
                let at = |t: &Option<prost_types::Timestamp>| {
                    t.as_ref().map(|t| Value::String(format_micros(micros_of(t)))).unwrap_or(Value::Null)
                };
                body.insert(
                    "authFailures".into(),
                    json!({
                        "surface": summary.surface,
                        "clientAddress": summary.client_address,
                        "credentialId": summary.credential_id,
                        "reason": summary.reason,
                        "status": summary.status,
                        "count": summary.count,
                        "firstSeen": at(&summary.first_seen),
                        "lastSeen": at(&summary.last_seen),
                    }),
                );
                RecordKind::AuthFailures
            }
            None => {
                columns.decode_error =
                    Some("the event has no kind (scim_call, change, admin or auth_failures)".to_owned());
                RecordKind::Undecodable
            }
        };
        NewRecord { event_id, occurred_at, kind, columns, trace_context, event: Value::Object(body) }
    }

    /// The record of a payload that is not an `AuditEvent`: kept (base64) with the decode error.
    pub fn undecodable(
        delivery_id: &str,
        payload: &[u8],
        error: String,
        trace_context: &BTreeMap<String, String>,
        now: i64,
    ) -> Self {
        let kept = &payload[..payload.len().min(MAX_RAW_PAYLOAD)];
        let columns =
            Columns { trace_id: trace_id_of(trace_context), decode_error: Some(error.clone()), ..Columns::default() };
        let event = json!({
            "streamId": delivery_id,
            "payloadBase64": base64::engine::general_purpose::STANDARD.encode(kept),
            "payloadLength": payload.len(),
            "truncated": kept.len() < payload.len(),
            "decodeError": error,
            "traceContext": trace_context,
        });
        NewRecord {
            event_id: format!("stream:{delivery_id}"),
            occurred_at: now,
            kind: RecordKind::Undecodable,
            columns,
            trace_context: trace_context.clone(),
            event,
        }
    }
}

/// The trace id in a `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn trace_id_of(context: &BTreeMap<String, String>) -> Option<String> {
    let parent = context.get("traceparent")?;
    let trace_id = parent.split('-').nth(1)?;
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| trace_id.to_ascii_lowercase())
}

/// A stored record, as the query API and the export show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub seq: u64,
    pub event_id: String,
    /// RFC 3339, UTC, microseconds.
    pub occurred_at: String,
    pub recorded_at: String,
    pub kind: RecordKind,
    #[serde(flatten)]
    pub columns: Columns,
    pub event: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::common::v1::ResourceType;

    fn change_event(before: &[u8], after: &[u8]) -> pb::AuditEvent {
        pb::AuditEvent {
            event_id: "e1".into(),
            occurred_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5_000 }),
            trace_id: String::new(),
            trace_context: None,
            source: "adapter".into(),
            kind: Some(pb::audit_event::Kind::Change(pb::ResourceChange {
                connection_id: "c1".into(),
                resource_type: ResourceType::User as i32,
                resource_id: "42".into(),
                operation: "patch".into(),
                before_json: before.to_vec(),
                after_json: after.to_vec(),
                outcome: pb::ChangeOutcome::Succeeded as i32,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn a_change_keeps_its_fields_and_loses_any_password() {
        let event = change_event(br#"{"userName":"a","password":"old"}"#, br#"{"userName":"b","password":"new"}"#);
        let record = NewRecord::from_event(event, "1-0", &BTreeMap::new(), 0);
        assert_eq!(record.kind, RecordKind::Change);
        assert_eq!(record.occurred_at, 1_700_000_000_000_005);
        assert_eq!(record.columns.resource_type.as_deref(), Some("User"));
        assert_eq!(record.columns.operation.as_deref(), Some("patch"));
        let text = record.event.to_string();
        assert!(!text.contains("old") && !text.contains("new"), "{text}");
        assert_eq!(record.event["change"]["after"]["userName"], "b");
    }

    #[test]
    fn a_failed_change_lists_the_members_it_changed_before_it_failed() {
        let mut event = change_event(b"", b"");
        if let Some(pb::audit_event::Kind::Change(c)) = &mut event.kind {
            c.resource_type = ResourceType::Group as i32;
            c.outcome = pb::ChangeOutcome::Failed as i32;
            c.error = Some(proto::common::v1::Error { detail: "user 9 is inactive".into(), ..Default::default() });
            c.members_added = vec!["7".into(), "8".into()];
        }
        let record = NewRecord::from_event(event, "1-0", &BTreeMap::new(), 0);
        assert_eq!(record.event["change"]["outcome"], "failed");
        assert_eq!(record.event["change"]["membersAdded"], json!(["7", "8"]));
        assert_eq!(record.event["change"].get("membersRemoved"), None, "only what it changed");
    }

    #[test]
    fn before_bytes_that_are_not_json_are_described_not_kept() {
        let record = NewRecord::from_event(change_event(b"password=hunter2", b""), "1-0", &BTreeMap::new(), 0);
        assert_eq!(record.event["change"]["before"]["invalidJson"], true);
        assert!(!record.event.to_string().contains("hunter2"));
        assert_eq!(record.event["change"]["after"], Value::Null);
    }

    #[test]
    fn a_missing_event_id_falls_back_to_the_stream_id_and_the_trace_id_to_the_context() {
        let mut event = change_event(b"", b"");
        event.event_id.clear();
        let context = BTreeMap::from([(
            "traceparent".to_owned(),
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".to_owned(),
        )]);
        let record = NewRecord::from_event(event, "17-3", &context, 0);
        assert_eq!(record.event_id, "stream:17-3");
        assert_eq!(record.columns.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn an_undecodable_payload_is_kept_in_base64_with_its_error() {
        let record = NewRecord::undecodable("9-0", b"\xff\x00garbage", "bad wire type".into(), &BTreeMap::new(), 7);
        assert_eq!(record.kind, RecordKind::Undecodable);
        assert_eq!(record.event_id, "stream:9-0");
        assert_eq!(record.columns.decode_error.as_deref(), Some("bad wire type"));
        let kept =
            base64::engine::general_purpose::STANDARD.decode(record.event["payloadBase64"].as_str().unwrap()).unwrap();
        assert_eq!(kept, b"\xff\x00garbage");
    }

    #[test]
    fn a_summary_of_failed_authentications_is_its_own_kind_with_its_address_and_count() {
        let event = audit_events::auth_failure_summary(audit_events::AuthFailureCount {
            surface: "scim".into(),
            client_address: "192.0.2.7".into(),
            credential_id: "okta-sync".into(),
            reason: "throttled".into(),
            status: 429,
            count: 300,
            first_seen: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            last_seen: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_010),
        });
        let record = NewRecord::from_event(event, "1-0", &BTreeMap::new(), 0);
        assert_eq!(record.kind, RecordKind::AuthFailures);
        assert_eq!(record.columns.client_address.as_deref(), Some("192.0.2.7"));
        assert_eq!(record.columns.status, Some(429));
        assert_eq!(record.columns.operation.as_deref(), Some("throttled"));
        assert_eq!(record.event["authFailures"]["count"], 300);
        assert_eq!(record.event["authFailures"]["credentialId"], "okta-sync");
        assert_eq!(record.event["authFailures"]["lastSeen"], "2023-11-14T22:13:30.000000Z");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>(), Ok(kind));
        }
        assert!("scim".parse::<RecordKind>().is_err());
    }
}
