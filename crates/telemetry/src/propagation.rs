//! W3C trace context across every hop: HTTP headers (reqwest out, actix in), gRPC metadata
//! (tonic), and the `trace_context` maps of job payloads and audit events.
//!
//! These helpers use a W3C `TraceContextPropagator` of their own rather than the global one, so
//! that they behave the same whether or not `init` ran (a library's unit test, say). Spans carry
//! their context in the OpenTelemetry layer when spans are exported, in the ids layer (see
//! `ids.rs`) when they are not; with neither, spans carry no context and the helpers inject nothing.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::BTreeMap;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

/// The OpenTelemetry context of the current `tracing` span (from the ids layer of a process that
/// exports no spans, else from the OpenTelemetry layer).
pub fn current_context() -> Context {
    let span = tracing::Span::current();
    crate::ids::context_of(&span).unwrap_or_else(|| span.context())
}

/// The `traceparent` / `tracestate` of the current span, for a job payload or an audit event.
/// Empty when the current span has no valid trace context.
pub fn current_trace_context() -> BTreeMap<String, String> {
    context_to_map(&current_context())
}

/// The `traceparent` / `tracestate` of `cx`.
pub fn context_to_map(cx: &Context) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    propagator().inject_context(cx, &mut MapCarrier(&mut map));
    map
}

/// The context a `traceparent` / `tracestate` map describes (an empty context when it is missing
/// or malformed).
pub fn context_from_map(map: &BTreeMap<String, String>) -> Context {
    propagator().extract(&MapReader(map))
}

/// Makes the context in `map` the parent of `span`, so that the span joins the trace that produced
/// the map. Must be called before the span is first entered; a missing or malformed map leaves the
/// span a root.
pub fn set_parent_from(span: &tracing::Span, map: &BTreeMap<String, String>) {
    set_parent(span, context_from_map(map));
}

/// Makes `cx` the parent of `span` when it holds a valid span context (before the span is entered).
pub fn set_parent_from_context(span: &tracing::Span, cx: Context) {
    set_parent(span, cx);
}

fn set_parent(span: &tracing::Span, cx: Context) {
    let parent = cx.span().span_context().clone();
    if parent.is_valid() && !crate::ids::set_parent(span, &parent) {
        // Fails only when the span is disabled or already started; either way there is nothing
        // better to do than to keep the span as it is.
        let _ = span.set_parent(cx);
    }
}

/// The W3C trace id (32 lowercase hex digits) of the current span.
pub fn current_trace_id() -> Option<String> {
    let cx = current_context();
    let span = cx.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// Writes the current span's context into HTTP headers (an outgoing request).
pub fn inject_headers(headers: &mut HeaderMap) {
    inject_context_headers(&current_context(), headers);
}

/// Writes `cx` into HTTP headers.
pub fn inject_context_headers(cx: &Context, headers: &mut HeaderMap) {
    propagator().inject_context(cx, &mut HeaderCarrier(headers));
}

/// The context carried by HTTP headers (an incoming request).
pub fn extract_headers(headers: &HeaderMap) -> Context {
    propagator().extract(&HeaderReader(headers))
}

/// Makes the context carried by `headers` the parent of `span`.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &HeaderMap) {
    set_parent(span, extract_headers(headers));
}

/// Writes the current span's context into gRPC metadata.
pub fn inject_metadata(metadata: &mut MetadataMap) {
    propagator().inject_context(&current_context(), &mut MetadataCarrier(metadata));
}

/// The context carried by gRPC metadata (server side).
pub fn extract_metadata(metadata: &MetadataMap) -> Context {
    propagator().extract(&MetadataReader(metadata))
}

/// Makes the context carried by gRPC metadata the parent of `span` (server side).
pub fn set_parent_from_metadata(span: &tracing::Span, metadata: &MetadataMap) {
    set_parent(span, extract_metadata(metadata));
}

/// A tonic client interceptor that injects the current span's context into every request:
/// `Client::with_interceptor(channel, telemetry::grpc_client_interceptor)`.
///
/// # Errors
///
/// Never: the signature is the one tonic requires of an interceptor.
#[allow(clippy::result_large_err)]
pub fn grpc_client_interceptor(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    inject_metadata(request.metadata_mut());
    Ok(request)
}

struct MapCarrier<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapReader<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // W3C field names are lowercase; accept any case from producers that capitalise.
        self.0
            .get(key)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
            .map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct HeaderCarrier<'a>(&'a mut HeaderMap);

impl Injector for HeaderCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderReader<'a>(&'a HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct MetadataCarrier<'a>(&'a mut MetadataMap);

impl Injector for MetadataCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (MetadataKey::from_bytes(key.as_bytes()), MetadataValue::try_from(value.as_str()))
        {
            self.0.insert(key, value);
        }
    }
}

struct MetadataReader<'a>(&'a MetadataMap);

impl Extractor for MetadataReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn map_with_parent() -> BTreeMap<String, String> {
        BTreeMap::from([("traceparent".to_owned(), PARENT.to_owned()), ("tracestate".to_owned(), "k=v".to_owned())])
    }

    #[test]
    fn a_map_round_trips_through_a_context() {
        let cx = context_from_map(&map_with_parent());
        assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context_to_map(&cx), map_with_parent());
    }

    #[test]
    fn headers_round_trip_through_a_context() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(PARENT));
        let cx = extract_headers(&headers);
        let mut out = HeaderMap::new();
        inject_context_headers(&cx, &mut out);
        assert_eq!(out.get("traceparent").unwrap(), PARENT);
    }

    #[test]
    fn metadata_carries_the_traceparent() {
        let mut metadata = MetadataMap::new();
        metadata.insert("traceparent", PARENT.parse().unwrap());
        let cx = extract_metadata(&metadata);
        assert_eq!(cx.span().span_context().span_id().to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn a_malformed_traceparent_yields_no_context() {
        let map = BTreeMap::from([("traceparent".to_owned(), "not-a-traceparent".to_owned())]);
        assert!(!context_from_map(&map).span().span_context().is_valid());
        assert!(context_to_map(&context_from_map(&map)).is_empty());
    }

    #[test]
    fn without_a_subscriber_there_is_no_current_trace() {
        assert_eq!(current_trace_id(), None);
        assert!(current_trace_context().is_empty());
        let mut headers = HeaderMap::new();
        inject_headers(&mut headers);
        assert!(headers.is_empty());
    }
}
