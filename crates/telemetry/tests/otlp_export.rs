//! The exporter end to end, in its own binary because the tracer provider is process-wide:
//! `init` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an in-process receiver exports the spans
//! of one trace across a propagation hop and an actix request, with the service name.

use actix_web::{App, HttpResponse, test, web};
use std::collections::BTreeMap;
use std::time::Duration;
use telemetry::testing::OtlpReceiver;
use telemetry::{LogFormat, TelemetryError, TelemetrySettings};
use tracing::Instrument;

const INCOMING_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_SPAN: &str = "00f067aa0ba902b7";

#[actix_web::test]
async fn spans_across_a_hop_and_an_http_request_reach_the_otlp_receiver_as_one_trace() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let endpoint = receiver.endpoint();
    let env = move |name: &str| (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| endpoint.clone());
    let settings = TelemetrySettings::new("telemetry-test", "0.0.1").with_log_format(LogFormat::Json);
    let guard = telemetry::init_with_env(&settings, env).expect("first init succeeds");
    assert!(matches!(telemetry::init(&settings), Err(TelemetryError::AlreadyInitialized)));

    // A producer hands its context to a consumer through a map (a job payload, an audit event).
    let producer = tracing::info_span!("producer");
    let (carried, producer_trace) = producer.in_scope(|| {
        (telemetry::current_trace_context(), telemetry::current_trace_id().expect("a trace id inside a span"))
    });
    drop(producer);
    assert!(carried.contains_key("traceparent"), "{carried:?}");
    let consumer = tracing::info_span!("consumer");
    telemetry::set_parent_from(&consumer, &carried);
    async { assert_eq!(telemetry::current_trace_id().as_deref(), Some(producer_trace.as_str())) }
        .instrument(consumer)
        .await;

    // An HTTP request carrying a traceparent becomes a server span named by its route template.
    let app = test::init_service(
        App::new()
            .wrap(actix_web::middleware::from_fn(telemetry::actix::trace_requests))
            .route("/items/{id}", web::get().to(|| async { HttpResponse::Ok().finish() })),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/items/secret-looking-id")
        .insert_header(("traceparent", format!("00-{INCOMING_TRACE}-{INCOMING_SPAN}-01")))
        .to_request();
    assert_eq!(test::call_service(&app, request).await.status(), 200);

    guard.shutdown().await;
    let spans = receiver
        .wait_for(Duration::from_secs(10), |spans| {
            ["producer", "consumer", "GET /items/{id}"].iter().all(|name| spans.iter().any(|s| s.name == *name))
        })
        .await;
    let by_name: BTreeMap<&str, _> = spans.iter().map(|s| (s.name.as_str(), s)).collect();
    let (producer, consumer, http) = (by_name["producer"], by_name["consumer"], by_name["GET /items/{id}"]);

    assert_eq!(producer.trace_id, producer_trace);
    assert_eq!(consumer.trace_id, producer.trace_id, "the consumer joined the producer's trace");
    assert_eq!(consumer.parent_span_id.as_deref(), Some(producer.span_id.as_str()));
    assert_eq!(producer.service_name.as_deref(), Some("telemetry-test"));

    assert_eq!(http.trace_id, INCOMING_TRACE);
    assert_eq!(http.parent_span_id.as_deref(), Some(INCOMING_SPAN));
    assert_eq!(http.kind, 2, "a server span");
    assert_eq!(http.attributes.get("http.route").map(String::as_str), Some("/items/{id}"));
    assert_eq!(http.attributes.get("http.request.method").map(String::as_str), Some("GET"));
    assert_eq!(http.attributes.get("http.response.status_code").map(String::as_str), Some("200"));
    assert!(!spans.iter().any(|s| s.name.contains("secret-looking-id")), "raw paths never name spans");
    receiver.stop().await;
}
