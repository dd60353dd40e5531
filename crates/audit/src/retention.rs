//! Retention: removes records older than the configured age, oldest first, keeping the chain
//! verifiable (see [`crate::store`] for how the anchor makes that so).

use crate::store::{AuditStore, PruneReport, StoreError};
use crate::time_format::now_micros;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn cutoff(older_than: Duration) -> i64 {
    now_micros().saturating_sub(i64::try_from(older_than.as_micros()).unwrap_or(i64::MAX))
}

/// Removes the records recorded more than `older_than` ago from the database at `path` (for
/// `scim-connector audit prune`).
///
/// # Errors
///
/// No database at `path`, or any SQLite failure.
pub fn prune(path: &Path, older_than: Duration) -> Result<PruneReport, StoreError> {
    AuditStore::open_existing(path, None)?.prune_recorded_before(cutoff(older_than))
}

/// Prunes every `interval` until `shutdown`.
pub async fn run(store: Arc<AuditStore>, retention: Duration, interval: Duration, shutdown: CancellationToken) {
    loop {
        let store_for_task = store.clone();
        match tokio::task::spawn_blocking(move || store_for_task.prune_recorded_before(cutoff(retention))).await {
            Ok(Ok(report)) if report.removed > 0 => {
                tracing::info!(
                    removed = report.removed,
                    anchor = report.anchor.seq,
                    "retention removed old audit records"
                );
                metrics::counter!("scim_audit_pruned_total").increment(report.removed);
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(error = %error, "audit retention failed; will retry"),
            Err(error) => tracing::error!(error = %error, "audit retention task failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
