//! `init`: the process-wide subscriber (filter, logs, OpenTelemetry layer), the W3C propagator,
//! and the guard that flushes spans on shutdown.

use crate::json::JsonWithTraceIds;
use crate::otel::{self, OtelMode};
use crate::settings::{LogFormat, TelemetrySettings};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

/// How long dropping the guard waits for the last spans to be exported.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry is already initialized in this process")]
    AlreadyInitialized,
    #[error("invalid log filter {filter:?} (from {source_name}): {reason}")]
    InvalidFilter { filter: String, source_name: &'static str, reason: String },
    #[error("invalid OpenTelemetry configuration: {0}")]
    Config(String),
    #[error("the OTLP span exporter could not be built: {0}")]
    Exporter(String),
    #[error("OTLP export needs a tokio runtime: call telemetry::init from within one")]
    NoRuntime,
}

/// Keeps telemetry running; flushes the spans not yet exported and shuts the exporter down when
/// dropped (or, better in async code, when [`TelemetryGuard::shutdown`] is awaited).
#[derive(Debug)]
#[must_use = "dropping the guard shuts the span exporter down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// A guard with nothing to flush.
    pub fn noop() -> Self {
        Self { provider: None }
    }

    /// Flushes and shuts the exporter down without blocking the async runtime (safe on a
    /// current-thread runtime, where blocking in `Drop` would starve the export task).
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let outcome = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_WAIT)).await;
            if let Ok(Err(error)) = outcome {
                eprintln!("telemetry: span exporter shutdown: {error}");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let Some(provider) = self.provider.take() else { return };
        // The batch processor exports on tokio. Blocking a current-thread runtime would starve
        // it, so there the shutdown is only requested; elsewhere we wait for it, bounded.
        let flavor = tokio::runtime::Handle::try_current().ok().map(|h| h.runtime_flavor());
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("telemetry-shutdown".into()).spawn(move || {
            let _ = done_tx.send(provider.shutdown_with_timeout(SHUTDOWN_WAIT));
        });
        if spawned.is_ok() && flavor != Some(tokio::runtime::RuntimeFlavor::CurrentThread) {
            let _ = done_rx.recv_timeout(SHUTDOWN_WAIT);
        }
    }
}

fn env_filter(
    settings: &TelemetrySettings,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<EnvFilter, TelemetryError> {
    let (filter, source_name) = match env("RUST_LOG") {
        Some(value) if !value.trim().is_empty() => (value, "RUST_LOG"),
        _ => (settings.log_filter.clone(), "the log_filter setting"),
    };
    EnvFilter::try_new(&filter).map_err(|e| TelemetryError::InvalidFilter {
        filter,
        source_name,
        reason: e.to_string(),
    })
}

/// Starts logs and traces for this process.
///
/// Installs a `tracing` subscriber with the `RUST_LOG` filter (else `settings.log_filter`), JSON or
/// pretty logs on standard error, and the OpenTelemetry layer configured by the standard `OTEL_*`
/// variables (OTLP export only when an endpoint is set; `OTEL_SDK_DISABLED` and `OTEL_TRACES_EXPORTER=none` are honoured); installs
/// the W3C TraceContext propagator globally; installs the ring rustls provider for the exporter's
/// HTTPS client.
///
/// # Errors
///
/// [`TelemetryError::AlreadyInitialized`] on a second call (or when another global subscriber is
/// set); an invalid filter or `OTEL_*` setting; no tokio runtime when OTLP export is asked for.
pub fn init(settings: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    init_with_env(settings, |name| std::env::var(name).ok())
}

/// [`init`], reading `RUST_LOG` and the `OTEL_*` variables that choose and address the exporter
/// through `env` instead of the process environment (tests; a configuration layer that holds them
/// elsewhere). The SDK still reads the sampler, batch and resource variables, and the exporter its
/// headers and timeout, from the process environment.
///
/// # Errors
///
/// As [`init`].
pub fn init_with_env(
    settings: &TelemetrySettings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<TelemetryGuard, TelemetryError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mode = otel::mode_from_env(&env)?;
    let filter = env_filter(settings, &env)?;
    if INITIALIZED.swap(true, Ordering::SeqCst) {
        return Err(TelemetryError::AlreadyInitialized);
    }
    let provider = match otel::tracer_provider(settings, mode, &env) {
        Ok(provider) => provider,
        Err(error) => {
            INITIALIZED.store(false, Ordering::SeqCst);
            return Err(error);
        }
    };
    // `RUST_LOG` governs log lines only. Spans at `info` and above always reach the OpenTelemetry
    // layer (or, exporting nothing, the ids layer), so that `RUST_LOG=warn` does not silently cut
    // every trace (and the trace ids that audit records and job payloads carry); the sampler is the
    // control for trace volume.
    let otel_layer = match (mode, &provider) {
        (OtelMode::Export(_), Some(p)) => Some(spans_layer(p.tracer(settings.service_name.clone())).boxed()),
        (OtelMode::LocalOnly, _) => Some(ids_layer().boxed()),
        _ => None,
    };
    let logs = match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields::new())
            .event_format(JsonWithTraceIds)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
    }
    .with_filter(filter);
    let installed = Registry::default().with(otel_layer).with(logs).try_init();
    if installed.is_err() {
        if let Some(provider) = provider {
            let _ = provider.shutdown();
        }
        return Err(TelemetryError::AlreadyInitialized);
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    tracing::debug!(
        service = %settings.service_name,
        otlp = matches!(mode, OtelMode::Export(_)),
        "telemetry initialized"
    );
    Ok(TelemetryGuard { provider })
}

/// The OpenTelemetry layer: every span at `info` and above, with its fields and source location.
/// Not the time each span spent entered and idle (`busy_ns`, `idle_ns`: two clock reads and a
/// write to the span's extensions at every poll of an instrumented future; entering and leaving
/// spans was 1.6 % of the process's CPU in the profile of a create) nor the thread that created it
/// (a task moves between threads): the span's own start and end times are what trace viewers show.
fn spans_layer<S>(tracer: opentelemetry_sdk::trace::Tracer) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_filter(LevelFilter::INFO)
}

/// The ids layer (see [`crate::ids`]): every span at `info` and above gets a W3C span context and
/// nothing else, for a process that exports no spans.
fn ids_layer<S>() -> impl Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    crate::ids::IdsLayer::new().with_filter(LevelFilter::INFO)
}

/// Telemetry for tests, once per process and never failing: logs through the test harness's
/// capture (filter `RUST_LOG`, default `warn`), spans at `info` and above with real trace ids (so that propagation and
/// audit trace ids can be asserted) but no exporter: the ids layer, as a process without an OTLP
/// endpoint has. Does nothing if a subscriber is already set.
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = std::env::var("RUST_LOG")
            .ok()
            .and_then(|value| EnvFilter::try_new(value).ok())
            .unwrap_or_else(|| EnvFilter::new("warn"));
        // The log filter applies to the log lines only: spans at `info` get trace ids whatever
        // the tests' log level, so that propagation can be asserted.
        let installed = Registry::default()
            .with(ids_layer())
            .with(tracing_subscriber::fmt::layer().with_test_writer().with_filter(filter))
            .try_init();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        if installed.is_ok() {
            INITIALIZED.store(true, Ordering::SeqCst);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn rust_log_wins_over_the_setting_and_a_bad_one_is_named() {
        let settings = TelemetrySettings::new("svc", "0").with_log_filter("info");
        assert!(env_filter(&settings, &env_of(&[("RUST_LOG", "warn,audit=debug")])).is_ok());
        let error = env_filter(&settings, &env_of(&[("RUST_LOG", "audit=loud")])).unwrap_err();
        assert!(error.to_string().contains("RUST_LOG"), "{error}");
        let bad_setting = TelemetrySettings::new("svc", "0").with_log_filter("=][=");
        let error = env_filter(&bad_setting, &env_of(&[])).unwrap_err();
        assert!(error.to_string().contains("log_filter"), "{error}");
    }

    #[test]
    fn invalid_configuration_fails_init_before_anything_is_installed() {
        let settings = TelemetrySettings::new("svc", "0");
        let error = init_with_env(&settings, env_of(&[("OTEL_TRACES_EXPORTER", "jaeger")]))
            .expect_err("an unsupported exporter");
        assert!(matches!(error, TelemetryError::Config(_)), "{error}");
        assert!(!INITIALIZED.load(Ordering::SeqCst), "a failed init leaves the process free to init again");
    }

    #[test]
    fn otlp_export_without_a_runtime_is_a_clear_error() {
        let settings = TelemetrySettings::new("svc", "0");
        let error = init_with_env(&settings, env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]))
            .expect_err("no tokio runtime here");
        assert!(matches!(error, TelemetryError::NoRuntime), "{error}");
        assert!(!INITIALIZED.load(Ordering::SeqCst));
    }
}
