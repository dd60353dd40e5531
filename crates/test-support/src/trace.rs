//! Span export to an in-process OTLP receiver, for the tests that follow one trace across services.
//! Each such test has a binary of its own: the tracer provider is process-wide.

use telemetry::testing::OtlpReceiver;
use telemetry::{TelemetryGuard, TelemetrySettings};

/// Starts a receiver and initialises telemetry with `settings`, exporting spans to it, with
/// `RUST_LOG` = `rust_log`. Keep the guard until the spans are to be flushed.
///
/// # Panics
/// When the receiver cannot bind or telemetry is already initialised in this process.
pub async fn export_spans(settings: &TelemetrySettings, rust_log: &str) -> (OtlpReceiver, TelemetryGuard) {
    let receiver = OtlpReceiver::start().await.expect("the OTLP receiver starts");
    let endpoint = receiver.endpoint();
    let rust_log = rust_log.to_owned();
    let env = move |name: &str| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "RUST_LOG" => Some(rust_log.clone()),
        _ => None,
    };
    let guard = telemetry::init_with_env(settings, env).expect("telemetry starts with OTLP export");
    (receiver, guard)
}
