//! A running attempt's hold on its job, as its handler sees it: held while the runner renews it in
//! time, lost once another worker may own the job. A handler with effects outside the queue checks
//! it before each effect, so that two attempts of one job never interleave their effects (the
//! queue's fencing only keeps a stale attempt's outcome out of the record).

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The hold an attempt has on its job. Cloned handles share one state. The default holds forever
/// (a handler called directly, outside a queue).
#[derive(Debug, Clone, Default)]
pub struct JobLease {
    inner: Option<Arc<Inner>>,
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
        Self { inner: Some(Arc::new(inner)) }
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
