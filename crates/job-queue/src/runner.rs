//! Runs one job's handler for either backend: renews the lease while the
//! handler works, and turns a panic into a retry instead of a lost worker.

use crate::lease::Chain;
use crate::{Disposition, Job, JobHandler, JobLease, KeyDigest};
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How a lease renewal went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    Renewed,
    /// Another worker owns the job now (this one stalled past the visibility timeout).
    Lost,
    /// The backend did not answer; try again at the next tick.
    Failed,
}

/// Runs the handler, calling `renew` every `renew_every` until it returns. `chain` answers the
/// handler's [`Job::following`].
///
/// A lost lease does not cancel the handler: stopping an effect halfway is
/// worse than finishing it, and the outcome is fenced out later anyway. The
/// handler learns it through [`Job::lease`], which it checks before each
/// effect: held while renewals succeed in time, lost once the backend says
/// another attempt owns the job or once no renewal succeeded for nine tenths
/// of the visibility timeout (three renewal periods).
pub(crate) async fn run_handler<R, RFut>(
    handler: &dyn JobHandler,
    mut job: Job,
    renew_every: Duration,
    chain: Arc<dyn Chain>,
    mut renew: R,
) -> Disposition
where
    R: FnMut() -> RFut,
    RFut: Future<Output = Renewal>,
{
    let valid_for = renew_every.saturating_mul(3).mul_f64(0.9);
    let lease = JobLease::new(valid_for).with_chain(chain);
    job.lease = lease.clone();
    let span = tracing::info_span!(
        "queue.handle",
        job_id = %job.id,
        ordering_key_digest = %KeyDigest(&job.ordering_key),
        attempt = job.attempt
    );
    let handled = AssertUnwindSafe(handler.handle(job)).catch_unwind().instrument(span.clone());
    tokio::pin!(handled);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lost = false;
    loop {
        tokio::select! {
            outcome = &mut handled => {
                return match outcome {
                    Ok(disposition) => disposition,
                    Err(panic) => {
                        let message = panic_message(panic.as_ref());
                        span.in_scope(|| tracing::error!(panic = %message, "job handler panicked; the job will be retried"));
                        Disposition::Retry { error: format!("handler panicked: {message}"), after: None }
                    }
                };
            }
            _ = ticks.tick(), if !lost => {
                let sent = std::time::Instant::now();
                match renew().await {
                    Renewal::Renewed => lease.renewed(sent, valid_for),
                    Renewal::Failed => span.in_scope(|| tracing::warn!("could not renew the job's lease; retrying at the next tick")),
                    Renewal::Lost => {
                        lost = true;
                        lease.mark_lost();
                        span.in_scope(|| tracing::warn!("lost the job's lease to another worker; its outcome will be discarded"));
                    }
                }
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}
