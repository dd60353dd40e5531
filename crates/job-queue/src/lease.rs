//! A running attempt's hold on its job, as its handler sees it: held while the runner renews it in
//! time, lost once another worker may own the job. A handler with effects outside the queue checks
//! it before each effect, so that two attempts of one job never interleave their effects (the
//! queue's fencing only keeps a stale attempt's outcome out of the record).
//!
//! Through the lease, a running attempt may also look at the jobs queued behind its own on its
//! ordering key ([`JobLease::following`]): a read that the backend answers only while the attempt
//! still holds the job, so that what it shows is the chain as it stands behind a live head.

use crate::{QueueError, QueuedJob};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The hold an attempt has on its job. Cloned handles share one state. The default holds forever
/// (a handler called directly, outside a queue).
#[derive(Debug, Clone, Default)]
pub struct JobLease {
    inner: Option<Arc<Inner>>,
    /// The backend's view of the job's chain (none for a lease made outside a queue).
    chain: Option<Arc<dyn Chain>>,
}

/// Most jobs [`JobLease::following`] returns, whatever is asked: a bound on what one handler can
/// take in at once (payloads included).
pub const MAX_FOLLOWING: usize = 64;

/// A backend's read of the jobs queued behind a running attempt's job on its ordering key.
#[async_trait]
pub(crate) trait Chain: Send + Sync + fmt::Debug {
    /// Up to `max` jobs after the attempt's job in its chain, in chain order; none unless the
    /// attempt still owns the job and the job is the chain's head. Changes nothing but that the
    /// jobs shown can no longer be withdrawn.
    async fn following(&self, max: usize) -> Result<Vec<QueuedJob>, QueueError>;
}

#[derive(Debug)]
struct Inner {
    lost: AtomicBool,
    valid_until: Mutex<Instant>,
}

impl JobLease {
    /// A lease held for `valid_for` from now, unless renewed.
    pub fn new(valid_for: Duration) -> Self {
        let inner = Inner { lost: AtomicBool::new(false), valid_until: Mutex::new(Instant::now() + valid_for) };
        Self { inner: Some(Arc::new(inner)), chain: None }
    }

    /// The same lease, with the backend's view of the job's chain.
    pub(crate) fn with_chain(mut self, chain: Arc<dyn Chain>) -> Self {
        self.chain = Some(chain);
        self
    }

    /// Up to `max` (at most [`MAX_FOLLOWING`]) of the jobs submitted after this attempt's job on its
    /// ordering key and not finished, in the order they will run. They stay queued, and each still
    /// runs in its turn with its own attempt and its own result; but a job shown can no longer be
    /// withdrawn ([`JobQueue::withdraw`](crate::JobQueue::withdraw) answers it as taken): the
    /// handler may carry its change along with its own, so that its submitter must never be told
    /// that it was not applied.
    ///
    /// The answer is empty once the lease is not held (nor given by the backend then: it checks
    /// that the attempt still owns the job and that the job heads its chain), and for a lease
    /// made outside a queue. What it shows may grow (a submission appends to the chain) but never
    /// changes in order while the lease is held: only the head leaves a chain, and a job not shown
    /// yet when it is withdrawn.
    ///
    /// # Errors
    /// [`QueueError::Unavailable`] when the backend cannot be read.
    pub async fn following(&self, max: usize) -> Result<Vec<QueuedJob>, QueueError> {
        let Some(chain) = &self.chain else { return Ok(Vec::new()) };
        if max == 0 || !self.is_held() {
            return Ok(Vec::new());
        }
        let found = chain.following(max.min(MAX_FOLLOWING)).await?;
        // Held still: the backend's answer was read while no other attempt could own the job.
        Ok(if self.is_held() { found } else { Vec::new() })
    }

    /// Whether the attempt still holds its job: not lost, and renewed recently enough that no other
    /// worker can have reclaimed it. Once false, it stays false.
    pub fn is_held(&self) -> bool {
        let Some(inner) = &self.inner else { return true };
        if inner.lost.load(Ordering::Acquire) {
            return false;
        }
        if Instant::now() >= *inner.valid_until.lock() {
            inner.lost.store(true, Ordering::Release);
            return false;
        }
        true
    }

    /// The job belongs to another attempt now (the runner learnt it when renewing).
    pub fn mark_lost(&self) {
        if let Some(inner) = &self.inner {
            inner.lost.store(true, Ordering::Release);
        }
    }

    /// A renewal that was sent at `sent` succeeded: held until `sent + valid_for`.
    pub(crate) fn renewed(&self, sent: Instant, valid_for: Duration) {
        if let Some(inner) = &self.inner {
            let mut until = inner.valid_until.lock();
            *until = (*until).max(sent + valid_for);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_held_until_it_expires_or_is_lost_and_then_stays_lost() {
        assert!(JobLease::default().is_held());
        let lease = JobLease::new(Duration::from_secs(60));
        let handle = lease.clone();
        assert!(handle.is_held());
        lease.mark_lost();
        assert!(!handle.is_held());
        lease.renewed(Instant::now(), Duration::from_secs(60));
        assert!(!handle.is_held(), "a lost lease is never held again");
        let expired = JobLease::new(Duration::ZERO);
        assert!(!expired.is_held());
    }
}
