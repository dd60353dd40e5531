//! The metric names, and their publication through the `metrics` facade labelled by queue,
//! so that whichever recorder the binary installs (Prometheus) exports them.

use crate::QueueMetrics;

/// Gauge: jobs waiting to run, including scheduled retries.
pub const DEPTH: &str = "scim_queue_depth";
/// Gauge: age in seconds of the oldest unfinished job (0 when there is none).
pub const OLDEST_JOB_AGE: &str = "scim_queue_oldest_job_age_seconds";
/// Gauge: jobs delivered to a worker and not yet acknowledged.
pub const IN_FLIGHT: &str = "scim_queue_in_flight";
/// Counter: retries scheduled.
pub const RETRIES: &str = "scim_queue_retries_total";
/// Counter: jobs withdrawn before any worker took them.
pub const WITHDRAWN: &str = "scim_queue_withdrawn_total";
/// Gauge: jobs in the dead-letter stream.
pub const DEAD_LETTERS: &str = "scim_queue_dead_letters";

pub(crate) fn publish(queue: &str, m: &QueueMetrics) {
    let labels = [("queue", queue.to_owned())];
    metrics::gauge!(DEPTH, &labels).set(m.depth as f64);
    metrics::gauge!(OLDEST_JOB_AGE, &labels).set(m.oldest_age.map_or(0.0, |d| d.as_secs_f64()));
    metrics::gauge!(IN_FLIGHT, &labels).set(m.in_flight as f64);
    metrics::counter!(RETRIES, &labels).absolute(m.retries);
    metrics::counter!(WITHDRAWN, &labels).absolute(m.withdrawn);
    metrics::gauge!(DEAD_LETTERS, &labels).set(m.dead_letters as f64);
}
