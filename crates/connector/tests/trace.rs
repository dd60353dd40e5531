//! Issue 8's trace test, in its own binary because the tracer provider is process-wide: with OTLP
//! export pointed at an in-process receiver, one `POST /Users` yields one trace holding spans of the
//! gateway (the HTTP request), the adapter's worker (the job), the Secret Server call (the REST
//! client) and the audit record; and one `GET` crosses the gRPC hop into the adapter in one trace.

use secrecy::ExposeSecret;
use std::time::Duration;
use telemetry::testing::ReceivedSpan;
use telemetry::{LogFormat, TelemetrySettings};

fn names(spans: &[&ReceivedSpan]) -> Vec<String> {
    spans.iter().map(|s| s.name.clone()).collect()
}

/// How many audit records a query of the audit API finds (one page).
async fn audit_records(stack: &connector::testing::TestStack, query: &str) -> usize {
    stack.audit_records(query).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_post_users_is_one_trace_through_gateway_worker_secret_server_and_audit() {
    let settings = TelemetrySettings::new("scim-connector-trace-test", "0.0.1").with_log_format(LogFormat::Json);
    let (receiver, guard) = test_support::trace::export_spans(&settings, "info").await;

    let stack = connector::testing::spawn_stack().await;
    let created = reqwest::Client::new()
        .post(format!("{}/Users", stack.scim_base_url()))
        .bearer_auth(stack.token.expose_secret())
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"traced.user"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let read = reqwest::Client::new()
        .get(format!("{}/Users/{id}", stack.scim_base_url()))
        .bearer_auth(stack.token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    // The audit service has recorded the write's change and both calls before everything stops.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while audit_records(&stack, "kind=change").await < 1 || audit_records(&stack, "kind=scim_call").await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the audit service did not record the flow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stack.shutdown().await;
    guard.shutdown().await;

    let spans = receiver
        .wait_for(Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.name.starts_with("GET /scim/v2/")) && spans.iter().any(|s| s.name == "audit record")
        })
        .await;
    let root_named = |prefix: &str| {
        spans.iter().find(|s| s.name.starts_with(prefix) && s.parent_span_id.is_none()).unwrap_or_else(|| {
            panic!("a root span named {prefix}... among {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())
        })
    };

    // The write: HTTP in (gateway) → job (adapter worker) → Secret Server call → audit record.
    let request = root_named("POST /scim/v2/");
    let trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == request.trace_id).collect();
    let has = |predicate: &dyn Fn(&ReceivedSpan) -> bool| trace.iter().any(|s| predicate(s));
    assert!(has(&|s| s.name == "provisioning.job"), "the worker's span: {:?}", names(&trace));
    assert!(has(&|s| s.name == "POST /api/v1/users"), "the Secret Server call: {:?}", names(&trace));
    assert!(has(&|s| s.name == "audit record"), "the audit record: {:?}", names(&trace));
    let ids: std::collections::HashSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    for span in &trace {
        if let Some(parent) = &span.parent_span_id {
            assert!(ids.contains(parent.as_str()), "span {:?} has its parent in the same trace", span.name);
        }
    }

    // The read: HTTP in (gateway) → gRPC (adapter) in one trace.
    let read = root_named("GET /scim/v2/");
    let read_trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == read.trace_id).collect();
    assert!(read_trace.len() >= 2, "the read crossed the gRPC hop into the adapter: {:?}", names(&read_trace));
    assert!(
        read_trace.iter().any(|s| s.name.to_ascii_lowercase().contains("directory") || s.name.contains("GetResource")),
        "an adapter span in the read's trace: {:?}",
        names(&read_trace)
    );
}
