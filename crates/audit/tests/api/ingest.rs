use crate::helpers::{call, chain_key, change, memory_bus, spawn_app};
use audit_events::ChangeOutcome;
use job_queue::Event;
use proto::common::v1::ResourceType;
use std::time::Duration;

#[tokio::test]
async fn an_event_published_twice_is_recorded_once() {
    let app = spawn_app().await;
    let event = call(("c1", "okta"), "POST", "/scim/v2/Users", ResourceType::User, "u1", 201);
    app.publish(&event).await;
    app.publish(&event).await;
    let other = change("c1", ResourceType::User, "u1", "create", ChangeOutcome::Succeeded);
    app.publish(&other).await;
    app.wait_for_head(2).await;
    app.settle().await;
    let page = app.get_json("/audit/v1/records").await;
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{page}");
    assert_eq!(records[0]["eventId"], event.event_id.as_str());
    assert_eq!(records[1]["eventId"], other.event_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn an_event_redelivered_after_a_crash_before_the_ack_is_recorded_once() {
    // A first audit instance records the event but "crashes" before acknowledging it: simulated
    // by writing it to the database and never acking. The running instance starts on that database
    // afterwards, so it can only meet the event again as a redelivery after the visibility timeout.
    let bus = memory_bus();
    let event = change("c1", ResourceType::Group, "g1", "add-member", ChangeOutcome::Succeeded);
    let mut crashed = bus.subscribe("audit", "crashed-consumer").await.unwrap();
    bus.publish(audit_events::to_bus_event(&event)).await.unwrap();
    let delivered = crashed.next_batch(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(delivered.len(), 1);
    let data_dir = tempfile::tempdir().unwrap();
    let crashed_store =
        audit::AuditStore::open(&audit::AuditStore::path_in(data_dir.path()), Some(chain_key())).unwrap();
    let record = audit::record::NewRecord::from_event(event.clone(), &delivered[0].id.0, &Default::default(), 0);
    assert_eq!(crashed_store.append(&[record]).unwrap(), vec![audit::store::Appended::Recorded(1)]);
    drop(crashed_store);
    drop(crashed);

    let app = crate::helpers::spawn_app_in(data_dir, bus.clone(), |_| {}).await;
    // The running consumer gets the unacknowledged event once the visibility timeout passes.
    bus.publish(audit_events::to_bus_event(&call(("c1", "okta"), "GET", "/x", ResourceType::User, "u", 200)))
        .await
        .unwrap();
    app.wait_for_head(2).await;
    // The running consumer's two deliveries: the new event, and the crashed one's after its visibility timeout.
    app.wait_for_acknowledged(2).await;
    let ids: Vec<String> = app.get_json("/audit/v1/records").await["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.iter().filter(|id| **id == event.event_id).count(), 1, "{ids:?}");
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(app.verify().is_intact());
    // The redelivered event was taken and acknowledged by the running consumer: a newcomer to
    // the group finds nothing left, pending or new.
    let mut probe = bus.subscribe("audit", "probe").await.unwrap();
    assert!(probe.next_batch(10, Duration::from_millis(100)).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_undecodable_event_is_recorded_as_such_and_the_stream_moves_on() {
    let app = spawn_app().await;
    app.publish_raw(b"\xff\xff\xff not protobuf").await;
    app.publish(&call(("c1", "okta"), "GET", "/scim/v2/Users", ResourceType::User, "", 200)).await;
    app.wait_for_head(2).await;
    let undecodable = app.get_json("/audit/v1/records?kind=undecodable").await;
    let records = undecodable["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0]["decodeError"].as_str().unwrap().contains("not an AuditEvent"));
    assert!(records[0]["event"]["payloadBase64"].as_str().is_some());
    assert!(records[0]["eventId"].as_str().unwrap().starts_with("stream:"));
    assert_eq!(app.seqs("kind=scim_call").await, vec![2]);
    app.settle().await;
    assert_eq!(app.store().stats().unwrap().records, 2, "the bad event is not redelivered and recorded again");
    app.stop().await;
}

#[tokio::test]
async fn a_password_in_a_change_is_never_stored() {
    let app = spawn_app().await;
    // Published raw, bypassing the producer helper's own scrubbing.
    let mut event = change("c1", ResourceType::User, "u1", "replace", ChangeOutcome::Succeeded);
    if let Some(proto::audit::v1::audit_event::Kind::Change(change)) = &mut event.kind {
        change.before_json = br#"{"userName":"alice","password":"hunter2-before"}"#.to_vec();
        change.after_json = br#"{"userName":"alice","credentials":{"Password":"hunter2-after"}}"#.to_vec();
    }
    let bus_event = Event { payload: prost::Message::encode_to_vec(&event).into(), trace_context: Default::default() };
    app.bus.publish(bus_event).await.unwrap();
    app.wait_for_head(1).await;
    let record = app.get_json("/audit/v1/records/1").await;
    let text = record.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(record["event"]["change"]["before"]["password"], audit::scrub::REDACTED);
    assert_eq!(record["event"]["change"]["after"]["credentials"]["Password"], audit::scrub::REDACTED);
    let raw = std::fs::read(app.db_path()).unwrap();
    let wal = std::fs::read(app.db_path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(!bytes.windows(7).any(|w| w == b"hunter2"), "the database files hold no password");
    }
    app.stop().await;
}

#[tokio::test]
async fn events_carry_the_trace_of_the_span_that_produced_them() {
    let app = spawn_app().await;
    let span = tracing::info_span!("gateway_request");
    let (event, trace_id) = span.in_scope(|| {
        (
            call(("c1", "okta"), "DELETE", "/scim/v2/Users/{id}", ResourceType::User, "u9", 204),
            telemetry::current_trace_id().expect("tests run with trace ids"),
        )
    });
    app.publish(&event).await;
    app.wait_for_head(1).await;
    assert_eq!(app.seqs(&format!("trace_id={trace_id}")).await, vec![1]);
    let record = app.get_json("/audit/v1/records/1").await;
    assert!(record["event"]["traceContext"]["traceparent"].as_str().unwrap().contains(&trace_id));
    app.stop().await;
}
