//! A `metrics` recorder that keeps counter totals, gauge values and histogram sample
//! counts by `name{label=value,...}`, installed thread-locally around a test.

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

type Store = Arc<Mutex<BTreeMap<String, u64>>>;

#[derive(Debug, Default, Clone)]
pub(crate) struct TestRecorder {
    counters: Store,
    histograms: Store,
    gauges: Arc<Mutex<BTreeMap<String, f64>>>,
}

struct GaugeCell {
    key: String,
    store: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        *self.store.lock().unwrap().entry(self.key.clone()).or_default() += value;
    }

    fn decrement(&self, value: f64) {
        *self.store.lock().unwrap().entry(self.key.clone()).or_default() -= value;
    }

    fn set(&self, value: f64) {
        self.store.lock().unwrap().insert(self.key.clone(), value);
    }
}

struct Cell {
    key: String,
    store: Store,
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        *self.store.lock().unwrap().entry(self.key.clone()).or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.store.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl HistogramFn for Cell {
    fn record(&self, _value: f64) {
        *self.store.lock().unwrap().entry(self.key.clone()).or_default() += 1;
    }
}

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Cell { key: render(key), store: Arc::clone(&self.counters) }))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(GaugeCell { key: render(key), store: Arc::clone(&self.gauges) }))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Cell { key: render(key), store: Arc::clone(&self.histograms) }))
    }
}

impl TestRecorder {
    /// Counter totals whose rendered key starts with `name{`.
    pub(crate) fn counters(&self, name: &str) -> BTreeMap<String, u64> {
        let prefix = format!("{name}{{");
        self.counters
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// The sum of the counters named `name`.
    pub(crate) fn total(&self, name: &str) -> u64 {
        self.counters(name).values().sum()
    }

    /// The last value of gauge `name{labels}` (labels rendered `key=value`, sorted, comma
    /// separated), if it was set.
    pub(crate) fn gauge(&self, name: &str, labels: &str) -> Option<f64> {
        self.gauges.lock().unwrap().get(&format!("{name}{{{labels}}}")).copied()
    }

    /// Samples recorded in the histograms named `name`.
    pub(crate) fn samples(&self, name: &str) -> u64 {
        let prefix = format!("{name}{{");
        self.histograms.lock().unwrap().iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, v)| *v).sum()
    }
}

/// Runs `test` on a current-thread runtime with `recorder` installed for
/// this thread, so that every metric the client records lands in it.
pub(crate) fn with_recorder<F: Future<Output = ()>>(recorder: &TestRecorder, test: impl FnOnce() -> F) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(recorder, || runtime.block_on(test()));
}
