//! Load progress: records, rate and estimated time left, drawn with `indicatif` on stderr when it
//! is a terminal, and as log lines every few seconds otherwise (containers, CI, tests).

use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(3);

/// One phase of a load (users, groups, memberships...).
#[derive(Debug)]
pub struct Phase {
    instance: String,
    name: &'static str,
    bar: Option<ProgressBar>,
    inner: Mutex<PhaseState>,
}

#[derive(Debug)]
struct PhaseState {
    done: u64,
    total: Option<u64>,
    started: Instant,
    last_log: Instant,
}

impl Phase {
    /// Starts a phase; `bars` asks for a progress bar when stderr is a terminal.
    pub fn start(instance: &str, name: &'static str, bars: bool) -> Self {
        let bar = (bars && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{prefix:>24.bold} [{bar:30}] {human_pos}/{human_len} {per_sec:>12} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{instance}: {name}"));
            bar
        });
        let now = Instant::now();
        Self {
            instance: instance.to_owned(),
            name,
            bar,
            inner: Mutex::new(PhaseState { done: 0, total: None, started: now, last_log: now }),
        }
    }

    /// Sets (or raises) the number of records expected.
    pub fn set_total(&self, total: u64) {
        let mut inner = self.inner.lock();
        inner.total = Some(total.max(inner.done));
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Adds to the records expected (memberships are counted group by group).
    pub fn add_total(&self, more: u64) {
        let mut inner = self.inner.lock();
        let total = inner.total.unwrap_or(0) + more;
        inner.total = Some(total);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Counts `n` more records done.
    pub fn inc(&self, n: u64) {
        let mut inner = self.inner.lock();
        inner.done += n;
        if let Some(bar) = &self.bar {
            bar.set_position(inner.done);
            return;
        }
        if inner.last_log.elapsed() >= LOG_EVERY {
            inner.last_log = Instant::now();
            let elapsed = inner.started.elapsed().as_secs_f64().max(0.001);
            let rate = inner.done as f64 / elapsed;
            let eta = inner
                .total
                .filter(|t| *t > inner.done && rate > 0.0)
                .map(|t| format!("{:.0}s", (t - inner.done) as f64 / rate))
                .unwrap_or_else(|| "-".to_owned());
            tracing::info!(
                instance = %self.instance,
                phase = self.name,
                records = inner.done,
                total = inner.total.unwrap_or(0),
                rate = format!("{rate:.0}/s"),
                eta = %eta,
                "loading from Secret Server"
            );
        }
    }

    /// Ends the phase with a summary line; returns the records done.
    pub fn finish(&self) -> u64 {
        let inner = self.inner.lock();
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        let elapsed = inner.started.elapsed();
        tracing::info!(
            instance = %self.instance,
            phase = self.name,
            records = inner.done,
            seconds = format!("{:.2}", elapsed.as_secs_f64()),
            rate = format!("{:.0}/s", inner.done as f64 / elapsed.as_secs_f64().max(0.001)),
            "loaded"
        );
        inner.done
    }
}
