//! W3C trace context crosses the hop to Secret Server: the outgoing request
//! carries a `traceparent` of the caller's trace.

use crate::scripted::serve;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use secret_server_client::{ClientConfig, SecretServerClient};
use std::time::Duration;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn outgoing_requests_carry_the_callers_trace_as_traceparent() {
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("contract")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = serve(|_, _| (200, r#"{"healthy":true,"databaseHealthy":true}"#.to_owned())).await;
    let mut config =
        ClientConfig::new(server.base_url.parse().unwrap(), "scim-api", secrecy::SecretString::from("unused"))
            .allowing_http();
    config.request_timeout = Duration::from_secs(5);
    let client = SecretServerClient::new(config).unwrap();

    let caller = tracing::info_span!("scim.request");
    let trace_id = caller.context().span().span_context().trace_id();
    assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID);
    client.healthcheck().instrument(caller).await.unwrap();

    let received = server.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].request_line.starts_with("GET /SecretServer/api/v1/healthcheck "), "{received:?}");
    let traceparent = received[0].header("traceparent").expect("a traceparent header");
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent} is not of trace {trace_id}");
}
