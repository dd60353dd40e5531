//! Trace ids without spans: what a process keeps of its traces when it exports none.
//!
//! Without an OTLP endpoint nothing reads a span's name, fields, times or events, yet the trace
//! context still matters: job payloads, audit records, log lines and outgoing calls carry it, so
//! that a process that does export (and the audit trail) sees one trace per provisioning flow.
//! The [`IdsLayer`] gives every span at `info` and above a W3C span context and nothing else: the
//! trace id of its parent (or a new one for a root, sampled as `OTEL_TRACES_SAMPLER` says), a new
//! span id, the parent's trace flags and state. The OpenTelemetry layer did the same and built
//! every span's attributes, events and timings for an SDK that dropped them: about a tenth of the
//! CPU of a create through `dev` (see docs/benchmarks.md, "Writes through Redis", round 6).
//!
//! [`propagation`](crate::propagation) reads and sets these contexts on the spans that have one,
//! and falls back to the OpenTelemetry layer's otherwise; the JSON log lines read the span an event
//! happened in from [`entered`].

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{Config, IdGenerator, SamplingDecision, ShouldSample};
use std::cell::RefCell;
use tracing::span::{Attributes, Id};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The span context of a span, kept in its extensions.
#[derive(Clone)]
struct Ids(SpanContext);

thread_local! {
    /// The spans entered on this thread, innermost last: their id and span context.
    static ENTERED: RefCell<Vec<(Id, SpanContext)>> = const { RefCell::new(Vec::new()) };
}

/// Gives spans a W3C span context (see the [module docs](self)).
pub(crate) struct IdsLayer {
    sampler: Box<dyn ShouldSample>,
    ids: Box<dyn IdGenerator>,
}

impl IdsLayer {
    /// The layer, with the sampler and id generator that the SDK would configure from `OTEL_*`.
    pub(crate) fn new() -> Self {
        let Config { sampler, id_generator, .. } = Config::default();
        Self { sampler, ids: id_generator }
    }

    /// The context of a span whose parent context is `parent` (none: a root).
    fn context(&self, parent: Option<&SpanContext>, name: &str) -> SpanContext {
        let trace_id = parent.map_or_else(|| self.ids.new_trace_id(), SpanContext::trace_id);
        let flags = self.flags(parent, trace_id, name);
        let state = parent.map_or_else(TraceState::default, |p| p.trace_state().clone());
        SpanContext::new(trace_id, self.ids.new_span_id(), flags, false, state)
    }

    /// The trace flags the sampler gives a span of trace `trace_id` whose parent is `parent`.
    fn flags(&self, parent: Option<&SpanContext>, trace_id: TraceId, name: &str) -> TraceFlags {
        let parent_cx = parent.map(|p| Context::new().with_remote_span_context(p.clone()));
        match self.sampler.should_sample(parent_cx.as_ref(), trace_id, name, &SpanKind::Internal, &[], &[]).decision {
            SamplingDecision::RecordAndSample => TraceFlags::SAMPLED,
            SamplingDecision::Drop | SamplingDecision::RecordOnly => TraceFlags::default(),
        }
    }
}

impl<S> Layer<S> for IdsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().and_then(|p| p.extensions().get::<Ids>().map(|ids| ids.0.clone()));
        let context = self.context(parent.as_ref(), attrs.metadata().name());
        span.extensions_mut().insert(Ids(context));
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(context) = ctx.span(id).and_then(|s| s.extensions().get::<Ids>().map(|ids| ids.0.clone())) else {
            return;
        };
        ENTERED.with(|entered| entered.borrow_mut().push((id.clone(), context)));
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            // Spans leave in the order they entered, on the thread they entered; look further
            // down only if one did not.
            if let Some(at) = entered.iter().rposition(|(entered, _)| entered == id) {
                entered.remove(at);
            }
        });
    }
}

/// The span context of the span entered last on this thread (the span an event happens in).
pub(crate) fn entered() -> Option<SpanContext> {
    ENTERED.with(|entered| entered.borrow().last().map(|(_, context)| context.clone()))
}

/// The span context of `span`, or of its nearest ancestor that has one.
fn of_span(span: &tracing::Span) -> Option<SpanContext> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        span.scope().find_map(|s| s.extensions().get::<Ids>().map(|ids| ids.0.clone()))
    })
    .flatten()
}

/// The OpenTelemetry context of `span` (its span context as the active span), when the
/// [`IdsLayer`] gave it or an ancestor one.
pub(crate) fn context_of(span: &tracing::Span) -> Option<Context> {
    of_span(span).map(|sc| Context::new().with_remote_span_context(sc))
}

/// Makes `parent` (a valid remote span context) the parent of `span`: the span takes its trace
/// id, flags (as the sampler decides for a child of it) and state, and keeps its own span id. Spans
/// created under `span` afterwards inherit them, so it must be called before the span is entered.
/// False when the [`IdsLayer`] gave `span` no context (it is disabled, or the process uses the
/// OpenTelemetry layer).
pub(crate) fn set_parent(span: &tracing::Span, parent: &SpanContext) -> bool {
    span.with_subscriber(|(id, dispatch)| set_parent_of(dispatch, id, parent)).unwrap_or(false)
}

fn set_parent_of(dispatch: &Dispatch, id: &Id, parent: &SpanContext) -> bool {
    let Some(registry) = dispatch.downcast_ref::<Registry>() else { return false };
    let Some(span) = registry.span(id) else { return false };
    let mut extensions = span.extensions_mut();
    let Some(Ids(own)) = extensions.get_mut::<Ids>() else { return false };
    let flags = dispatch
        .downcast_ref::<IdsLayer>()
        .map_or(parent.trace_flags(), |layer| layer.flags(Some(parent), parent.trace_id(), span.name()));
    *own = SpanContext::new(parent.trace_id(), own.span_id(), flags, false, parent.trace_state().clone());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::SpanId;
    use tracing_subscriber::layer::SubscriberExt;

    fn with_layer<T>(f: impl FnOnce() -> T) -> T {
        let layer = IdsLayer::new();
        let subscriber = Registry::default().with(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, f)
    }

    fn remote(flags: TraceFlags) -> SpanContext {
        SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            flags,
            true,
            TraceState::from_key_value([("vendor", "value")]).unwrap(),
        )
    }

    #[test]
    fn a_root_span_starts_a_sampled_trace_and_its_children_share_its_trace_id() {
        with_layer(|| {
            let root = tracing::info_span!("root");
            let child = root.in_scope(|| tracing::info_span!("child"));
            let (root_cx, child_cx) = (of_span(&root).unwrap(), of_span(&child).unwrap());
            assert!(root_cx.is_valid() && root_cx.is_sampled());
            assert_eq!(child_cx.trace_id(), root_cx.trace_id());
            assert_ne!(child_cx.span_id(), root_cx.span_id());
            assert_ne!(of_span(&tracing::info_span!("another root")).unwrap().trace_id(), root_cx.trace_id());
        });
    }

    #[test]
    fn a_span_given_a_remote_parent_joins_its_trace_with_its_flags_and_state() {
        with_layer(|| {
            let span = tracing::info_span!("job");
            assert!(set_parent(&span, &remote(TraceFlags::SAMPLED)));
            let child = span.in_scope(|| tracing::info_span!("call"));
            for cx in [of_span(&span).unwrap(), of_span(&child).unwrap()] {
                assert_eq!(cx.trace_id(), remote(TraceFlags::SAMPLED).trace_id());
                assert!(cx.is_sampled());
                assert_eq!(cx.trace_state().get("vendor"), Some("value"));
                assert_ne!(cx.span_id(), remote(TraceFlags::SAMPLED).span_id());
            }
            let unsampled = tracing::info_span!("unsampled job");
            assert!(set_parent(&unsampled, &remote(TraceFlags::default())));
            assert!(!of_span(&unsampled).unwrap().is_sampled(), "a child follows its parent's decision");
        });
    }

    #[test]
    fn inside_a_debug_span_the_context_is_that_of_the_info_span_around_it() {
        with_layer(|| {
            let root = tracing::info_span!("root");
            let _r = root.enter();
            let detail = tracing::debug_span!("detail");
            let _d = detail.enter();
            let cx = context_of(&tracing::Span::current()).unwrap();
            assert_eq!(cx.span().span_context().span_id(), of_span(&root).unwrap().span_id());
        });
    }

    #[test]
    fn without_the_layer_spans_have_no_context_here_and_set_parent_says_so() {
        tracing::subscriber::with_default(Registry::default(), || {
            let span = tracing::info_span!("job");
            assert!(context_of(&span).is_none());
            assert!(!set_parent(&span, &remote(TraceFlags::SAMPLED)));
        });
    }

    #[test]
    fn the_entered_span_is_the_innermost_one_on_this_thread() {
        with_layer(|| {
            assert!(entered().is_none());
            let outer = tracing::info_span!("outer");
            let _o = outer.enter();
            let inner = tracing::info_span!("inner");
            {
                let _i = inner.enter();
                assert_eq!(entered().unwrap().span_id(), of_span(&inner).unwrap().span_id());
            }
            assert_eq!(entered().unwrap().span_id(), of_span(&outer).unwrap().span_id());
        });
        assert!(entered().is_none());
    }
}
