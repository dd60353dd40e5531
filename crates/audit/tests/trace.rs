//! The record step joins the trace of the request that caused the event: its own test binary,
//! because exporting spans needs the process-wide tracer.

use job_queue::{InProcessEventBus, QueueConfig};
use proto::audit::v1 as pb;
use std::sync::Arc;
use std::time::Duration;
use telemetry::{LogFormat, TelemetrySettings};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_record_span_is_a_child_of_the_span_that_emitted_the_event() {
    let settings = TelemetrySettings::new("audit-test", "0").with_log_format(LogFormat::Json).with_log_filter("info");
    // Logs at warn only: spans still reach the exporter (the log filter is for logs).
    let (receiver, guard) = test_support::trace::export_spans(&settings, "warn").await;

    let bus = Arc::new(InProcessEventBus::new(&QueueConfig::default()).unwrap());
    let data_dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let audit_settings = audit::AuditSettings {
        data_dir: data_dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_wait: Duration::from_millis(50),
        key: Some(audit::ChainKey::generate().0),
        ..audit::AuditSettings::default()
    };
    let running = audit::start(audit_settings, bus.clone(), shutdown.clone()).await.unwrap();

    let gateway_span = tracing::info_span!("gateway_request");
    let (event, trace_id) = gateway_span.in_scope(|| {
        (
            audit_events::scim_call(pb::ScimCall { method: "POST".into(), status: 201, ..Default::default() }),
            telemetry::current_trace_id().unwrap(),
        )
    });
    drop(gateway_span);
    audit_events::publish(bus.as_ref(), &event).await.unwrap();

    let store = running.store().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.stats().unwrap().head.seq < 1 {
        assert!(std::time::Instant::now() < deadline, "the event was not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    running.wait().await.unwrap();
    guard.shutdown().await;

    let spans = receiver
        .wait_for(Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.name == "audit record") && spans.iter().any(|s| s.name == "gateway_request")
        })
        .await;
    let gateway = spans.iter().find(|s| s.name == "gateway_request").expect("the gateway span");
    let record = spans.iter().find(|s| s.name == "audit record").expect("the audit record span");
    assert_eq!(gateway.trace_id, trace_id);
    assert_eq!(record.trace_id, trace_id, "the record step joined the trace");
    assert_eq!(record.parent_span_id.as_deref(), Some(gateway.span_id.as_str()));
    assert_eq!(record.attributes.get("audit.event_id"), Some(&event.event_id));
    assert_eq!(record.attributes.get("audit.seq").map(String::as_str), Some("1"), "{record:?}");
    assert_eq!(record.service_name.as_deref(), Some("audit-test"));
    receiver.stop().await;
}
