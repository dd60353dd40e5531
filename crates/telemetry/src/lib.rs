//! Logs, traces and metrics for every service of the connector.
//!
//! One call, [`init`], gives a service its `tracing` subscriber (the `RUST_LOG` filter, JSON or
//! pretty logs, JSON lines carrying `trace_id` and `span_id`) and, when the standard `OTEL_*`
//! variables ask for it, an OTLP span exporter; the returned guard flushes on shutdown. The
//! [`propagation`] helpers carry the W3C trace context across every hop (HTTP in and out, gRPC,
//! job payloads, audit events), so that one `POST /Users` is one trace from the gateway through the
//! adapter, the worker and the Secret Server call to the audit record. [`install_prometheus_recorder`]
//! backs every service's `/metrics`, and the [`actix`] module holds the request middleware and the
//! `/healthz`, `/readyz`, `/metrics` endpoints. With the `testing` feature, [`testing::OtlpReceiver`]
//! collects exported spans in-process for assertions.

pub mod actix;
mod ids;
mod init;
mod json;
mod metrics;
mod otel;
pub mod propagation;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use init::{TelemetryError, TelemetryGuard, init, init_for_tests, init_with_env};
pub use metrics::{install_prometheus_recorder, render_metrics};
pub use propagation::{
    current_trace_context, current_trace_id, extract_headers, extract_metadata, grpc_client_interceptor,
    inject_headers, inject_metadata, set_parent_from, set_parent_from_headers, set_parent_from_metadata,
};
pub use settings::{LogFormat, TelemetrySettings};
