//! Issue 14, item 10, in its own binary because the tracer provider is process-wide: a caller's
//! `traceparent` is believed only once the caller is authenticated. A refused call is a new root
//! trace (its caller cannot put a chosen trace id into the connector's traces or audit records); an
//! authenticated call continues the caller's trace, and its audit record carries that trace id.

use secrecy::ExposeSecret;
use std::time::Duration;
use telemetry::testing::ReceivedSpan;
use telemetry::{LogFormat, TelemetrySettings};

const FORGED_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

/// How many audit records a query of the audit API finds (one page).
async fn audit_records(stack: &connector::testing::TestStack, query: &str) -> usize {
    stack.audit_records(query).await.len()
}

fn status(span: &ReceivedSpan) -> Option<&str> {
    span.attributes.get("http.response.status_code").map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_caller_starts_a_new_trace_and_an_authenticated_one_continues_its_own() {
    let settings =
        TelemetrySettings::new("scim-connector-untrusted-trace-test", "0.0.1").with_log_format(LogFormat::Json);
    let (receiver, guard) = test_support::trace::export_spans(&settings, "info").await;

    let stack = connector::testing::spawn_stack().await;
    let http = reqwest::Client::new();
    let refused = http
        .get(format!("{}/Users?count=1", stack.scim_base_url()))
        .bearer_auth("scimc_not-a-token")
        .header("traceparent", format!("00-{FORGED_TRACE}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let served = http
        .get(format!("{}/Users?count=1", stack.scim_base_url()))
        .bearer_auth(stack.token.expose_secret())
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while audit_records(&stack, &format!("kind=scim_call&trace_id={CALLER_TRACE}")).await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the authenticated call's record never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(audit_records(&stack, &format!("trace_id={FORGED_TRACE}")).await, 0, "no record in the forged trace");
    stack.shutdown().await;
    guard.shutdown().await;

    let spans = receiver
        .wait_for(Duration::from_secs(10), |spans| {
            let requests = spans.iter().filter(|s| s.name.starts_with("GET /scim/v2/"));
            requests.filter(|s| status(s).is_some()).count() >= 2
        })
        .await;
    let request = |code: &str| {
        spans.iter().find(|s| s.name.starts_with("GET /scim/v2/") && status(s) == Some(code)).unwrap_or_else(|| {
            panic!("a request span answered {code} among {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())
        })
    };
    let refused = request("401");
    assert_ne!(refused.trace_id, FORGED_TRACE, "the refused call is not in the trace its caller named");
    assert_eq!(refused.parent_span_id, None, "the refused call is a root");
    assert!(spans.iter().all(|s| s.trace_id != FORGED_TRACE), "no span joined the forged trace");
    let served = request("200");
    assert_eq!(served.trace_id, CALLER_TRACE, "the authenticated call continues its caller's trace");
    assert_eq!(served.parent_span_id.as_deref(), Some(CALLER_SPAN));
}
