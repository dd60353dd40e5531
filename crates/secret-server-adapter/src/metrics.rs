//! The adapter's metrics, through the `metrics` facade (rendered by the telemetry crate's
//! Prometheus recorder on `/metrics`):
//! - `scim_read_model_records{instance,type}`: records held per instance and resource type
//!   (`type="Membership"` counts group memberships);
//! - `scim_read_model_age_seconds{instance}`: time since the last successful load or resync;
//! - `scim_job_duration_seconds{operation,outcome}`: provisioning job latency in the worker;
//! - `scim_directory_request_duration_seconds{method,outcome}`: gRPC read latency;
//! - `scim_resync_removals_held{instance}`: records the last resync found missing but kept, because
//!   they were more than its bound (0 when none are held back);
//! - `scim_jobs_lease_lost_total`: job attempts stopped before a Secret Server call because they
//!   had lost their lease (another attempt runs the job);
//! - `scim_expensive_refused_total{connection}`: expensive requests refused because the connection
//!   had no free slot (see [`crate::bounds`]);
//! - `scim_reads_behind_total`: reads served before this replica had followed every change
//!   published before them (Redis slow or down, or the follower behind by more than
//!   `read_fence_wait`; see [`crate::replication`]).

use std::time::Duration;

/// Sets `scim_read_model_records` for one instance and type.
pub fn read_model_records(instance: &str, kind: &str, count: usize) {
    metrics::gauge!("scim_read_model_records", "instance" => instance.to_owned(), "type" => kind.to_owned())
        .set(count as f64);
}

/// Sets `scim_read_model_age_seconds` for one instance.
pub fn read_model_age(instance: &str, age: Duration) {
    metrics::gauge!("scim_read_model_age_seconds", "instance" => instance.to_owned()).set(age.as_secs_f64());
}

/// Records one job in `scim_job_duration_seconds`.
pub fn job_duration(operation: &str, outcome: &'static str, elapsed: Duration) {
    metrics::histogram!("scim_job_duration_seconds", "operation" => operation.to_owned(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// Records one gRPC read in `scim_directory_request_duration_seconds`.
pub fn directory_request(method: &'static str, outcome: &'static str, elapsed: Duration) {
    metrics::histogram!("scim_directory_request_duration_seconds", "method" => method, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// Counts one expensive request refused in `scim_expensive_refused_total`.
pub fn expensive_refused(connection: &str) {
    metrics::counter!("scim_expensive_refused_total", "connection" => connection.to_owned()).increment(1);
}

/// Counts one job attempt stopped for a lost lease in `scim_jobs_lease_lost_total`.
pub fn lease_lost() {
    metrics::counter!("scim_jobs_lease_lost_total").increment(1);
}

/// Sets `scim_resync_removals_held` for one instance.
pub fn resync_removals_held(instance: &str, count: usize) {
    metrics::gauge!("scim_resync_removals_held", "instance" => instance.to_owned()).set(count as f64);
}

/// Counts one read this replica could not confirm was caught up with the events stream, in
/// `scim_reads_behind_total`.
pub fn read_behind() {
    metrics::counter!("scim_reads_behind_total").increment(1);
}
