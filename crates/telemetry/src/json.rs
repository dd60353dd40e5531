//! The JSON log line: one object per event, carrying the W3C `trace_id` and `span_id` of the span
//! the event happened in, so that a log search can jump to the trace and back.
//!
//! `tracing-subscriber`'s own JSON formatter knows nothing of OpenTelemetry ids, hence this small
//! formatter. Span fields are taken from what the `JsonFields` formatter stored when the span was
//! created.

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as JSON lines with trace ids.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JsonWithTraceIds;

struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain: the log is where causes go (5xx bodies never carry them).
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.0.insert(field.name().to_owned(), Value::String(text));
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        line.insert("timestamp".into(), Value::String(now));
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_owned()));

        let mut fields = Map::new();
        event.record(&mut FieldVisitor(&mut fields));
        if let Some(message) = fields.remove("message") {
            line.insert("message".into(), message);
        }
        if !fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields));
        }

        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            let mut innermost: Option<Value> = None;
            for span in scope {
                names.push(Value::String(span.name().to_owned()));
                if innermost.is_none() {
                    let mut current = Map::new();
                    current.insert("name".into(), Value::String(span.name().to_owned()));
                    let extensions = span.extensions();
                    if let Some(stored) = extensions.get::<FormattedFields<JsonFields>>()
                        && let Ok(Value::Object(span_fields)) = serde_json::from_str::<Value>(stored)
                    {
                        current.extend(span_fields);
                    }
                    innermost = Some(Value::Object(current));
                }
            }
            names.reverse();
            if let Some(current) = innermost {
                line.insert("span".into(), current);
                line.insert("spans".into(), Value::Array(names));
            }
        }
        // The ids layer keeps the spans entered on this thread; the OpenTelemetry layer attaches
        // the context of a span while it is entered, so the current OpenTelemetry context is that
        // of the span this event happened in. (Asking the dispatcher instead would not work:
        // inside a dispatch, `get_default` is the no-op one.)
        let span_context =
            crate::ids::entered().unwrap_or_else(|| opentelemetry::Context::current().span().span_context().clone());
        if span_context.is_valid() {
            line.insert("trace_id".into(), Value::String(span_context.trace_id().to_string()));
            line.insert("span_id".into(), Value::String(span_context.span_id().to_string()));
        }

        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_the_trace_and_span_ids_of_the_current_span() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || writer.clone())
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonWithTraceIds),
            );
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!(answer = 42, "outside any span");
            let span = tracing::info_span!("request", route = "/scim/v2/Users");
            let _entered = span.enter();
            tracing::warn!(error = "boom", "inside");
            (
                crate::current_trace_id().unwrap(),
                tracing_opentelemetry::OpenTelemetrySpanExt::context(&span).span().span_context().span_id().to_string(),
            )
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "outside any span");
        assert_eq!(lines[0]["fields"]["answer"], 42);
        assert!(lines[0].get("trace_id").is_none());
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["trace_id"], trace_id.as_str());
        assert_eq!(lines[1]["span_id"], span_id.as_str());
        assert_eq!(lines[1]["span"]["name"], "request");
        assert_eq!(lines[1]["span"]["route"], "/scim/v2/Users");
        assert_eq!(lines[1]["spans"], serde_json::json!(["request"]));
    }

    #[test]
    fn json_lines_carry_the_ids_that_the_ids_layer_gave_the_current_span() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(crate::ids::IdsLayer::new().with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || writer.clone())
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonWithTraceIds)
                    .with_filter(tracing_subscriber::filter::LevelFilter::WARN),
            );
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            let _entered = span.enter();
            tracing::warn!("inside");
            let cx = crate::propagation::current_context();
            (cx.span().span_context().trace_id().to_string(), cx.span().span_context().span_id().to_string())
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["trace_id"], trace_id.as_str());
        assert_eq!(line["span_id"], span_id.as_str());
        assert_eq!(trace_id.len(), 32);
    }
}
