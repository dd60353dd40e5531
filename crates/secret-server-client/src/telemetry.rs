//! Metrics of every request, and W3C trace context in the outgoing headers.

use crate::route::RouteName;
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::Injector;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Counter of HTTP requests sent, by `route` (`GET /api/v1/users/{id}`) and
/// `status` (the HTTP status, or `timeout`, `connect`, `transport`).
pub const REQUESTS_TOTAL: &str = "scim_secret_server_requests_total";
/// Histogram of request durations in seconds, by `route`.
pub const REQUEST_DURATION_SECONDS: &str = "scim_secret_server_request_duration_seconds";
/// Counter of retries, by `route` and the `reason` (the error class retried).
pub const RETRIES_TOTAL: &str = "scim_secret_server_retries_total";

/// Records one HTTP exchange (one attempt).
pub(crate) fn record_request(route: RouteName, status: &'static str, elapsed: Duration) {
    let route = route.to_string();
    metrics::counter!(REQUESTS_TOTAL, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "route" => route).record(elapsed.as_secs_f64());
}

/// Records one retry.
pub(crate) fn record_retry(route: RouteName, reason: &'static str) {
    metrics::counter!(RETRIES_TOTAL, "route" => route.to_string(), "reason" => reason).increment(1);
}

/// Where requests read the trace context they carry, when a process keeps its spans' contexts
/// other than in the OpenTelemetry layer (the connector without a span exporter keeps only ids).
static TRACE_CONTEXT_SOURCE: OnceLock<fn() -> opentelemetry::Context> = OnceLock::new();

/// Makes every client of this process read the current trace context from `source` (once; later
/// calls change nothing). Without it, the context is the OpenTelemetry layer's for the current span.
pub fn set_trace_context_source(source: fn() -> opentelemetry::Context) {
    let _ = TRACE_CONTEXT_SOURCE.set(source);
}

/// Writes the current span's context into `headers` with the globally
/// installed propagator (`traceparent`, `tracestate` for W3C); a no-op when
/// no propagator is installed.
pub(crate) fn inject_trace_context(headers: &mut HeaderMap) {
    let context = match TRACE_CONTEXT_SOURCE.get() {
        Some(source) => source(),
        None => tracing::Span::current().context(),
    };
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A propagator producing an invalid header is skipped, not fatal.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// A status label from the static set, so that label values stay bounded.
pub(crate) fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => match status / 100 {
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}
