//! W3C trace context crosses the hop to Secret Server: the outgoing request
//! carries a `traceparent` of the caller's trace.

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use secret_server_client::{ClientConfig, SecretServerClient};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Accepts one connection, answers a healthcheck, and returns the request head.
async fn capture_one_request(listener: tokio::net::TcpListener) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed before the request head ended");
        head.extend_from_slice(&buf[..n]);
    }
    let body = r#"{"healthy":true,"databaseHealthy":true}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(answer.as_bytes()).await.unwrap();
    String::from_utf8_lossy(&head).to_lowercase()
}

#[tokio::test]
async fn outgoing_requests_carry_the_callers_trace_as_traceparent() {
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("contract")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/SecretServer", listener.local_addr().unwrap())).unwrap();
    let server = tokio::spawn(capture_one_request(listener));
    let mut config = ClientConfig::new(base, "scim-api", secrecy::SecretString::from("unused"));
    config.request_timeout = Duration::from_secs(5);
    let client = SecretServerClient::new(config).unwrap();

    let caller = tracing::info_span!("scim.request");
    let trace_id = caller.context().span().span_context().trace_id();
    assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID);
    client.healthcheck().instrument(caller).await.unwrap();

    let head = server.await.unwrap();
    assert!(head.starts_with("get /secretserver/api/v1/healthcheck "), "{head}");
    let traceparent = head.lines().find_map(|l| l.strip_prefix("traceparent: ")).expect("a traceparent header");
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent} is not of trace {trace_id}");
}
