//! The Prometheus recorder behind every service's `/metrics`.
//!
//! Code everywhere records through the `metrics` facade (`counter!`, `histogram!`, `gauge!`); this
//! module installs the one process-wide recorder that renders them in the Prometheus text format.
//! Every metric whose name ends in `_seconds` is a histogram with latency buckets, so that rates and
//! quantiles can be aggregated across replicas (summaries cannot).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Latency buckets in seconds, from a cache hit to a slow Secret Server call.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often histogram samples are folded into their buckets when nobody scrapes: bounds memory.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
///
/// If another recorder was installed globally first (by code outside this crate), the returned
/// handle renders an empty registry rather than failing: metrics are never worth a crash.
pub fn install_prometheus_recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
            if let Err(error) = spawned {
                tracing::warn!(%error, "could not start the metrics upkeep thread; histograms drain on scrape only");
            }
            handle
        })
        .clone()
}

/// The metrics in the Prometheus text exposition format (installing the recorder if needed).
pub fn render_metrics() -> String {
    install_prometheus_recorder().render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_render_and_seconds_are_histograms() {
        let handle = install_prometheus_recorder();
        metrics::counter!("telemetry_unit_test_total", "kind" => "a").increment(2);
        metrics::histogram!("telemetry_unit_test_duration_seconds").record(0.003);
        let text = render_metrics();
        assert!(text.contains("telemetry_unit_test_total{kind=\"a\"} 2"), "{text}");
        assert!(text.contains("telemetry_unit_test_duration_seconds_bucket{le=\"0.005\"} 1"), "{text}");
        // Idempotent: a second install renders the same registry.
        assert!(install_prometheus_recorder().render().contains("telemetry_unit_test_total"));
        drop(handle);
    }
}
