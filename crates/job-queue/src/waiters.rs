//! Local wake-ups for `wait`: submitters park on a per-job [`Notify`] that the
//! backend pokes when it learns the job finished (Redis: a pub/sub message;
//! in-process: the worker itself), instead of polling the job's status.

use crate::{JobId, JobState, QueueError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    by_job: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    notify: Arc<Notify>,
    waiting: usize,
    /// The final state, when the notification carried it (saves reading it back).
    delivered: Option<JobState>,
}

/// Keeps a job's entry alive while someone waits on it.
pub(crate) struct WaitGuard {
    waiters: Arc<Waiters>,
    id: String,
    notify: Arc<Notify>,
}

impl WaitGuard {
    fn delivered(&self) -> Option<JobState> {
        self.waiters.by_job.lock().get(&self.id).and_then(|e| e.delivered.clone())
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let mut map = self.waiters.by_job.lock();
        if let Some(entry) = map.get_mut(&self.id) {
            entry.waiting -= 1;
            if entry.waiting == 0 {
                map.remove(&self.id);
            }
        }
    }
}

impl Waiters {
    pub(crate) fn register(self: &Arc<Self>, id: &str) -> WaitGuard {
        let mut map = self.by_job.lock();
        let entry = map.entry(id.to_owned()).or_insert_with(|| Entry {
            notify: Arc::new(Notify::new()),
            waiting: 0,
            delivered: None,
        });
        entry.waiting += 1;
        WaitGuard { waiters: Arc::clone(self), id: id.to_owned(), notify: Arc::clone(&entry.notify) }
    }

    /// Wakes whoever waits on `id` (nobody, usually: most jobs finish unobserved).
    pub(crate) fn wake(&self, id: &str) {
        if let Some(entry) = self.by_job.lock().get(id) {
            entry.notify.notify_waiters();
        }
    }

    /// Hands a job's final state to whoever waits on it, and wakes them.
    pub(crate) fn deliver(&self, state: JobState) {
        if let Some(entry) = self.by_job.lock().get_mut(&state.job_id.0) {
            entry.delivered = Some(state);
            entry.notify.notify_waiters();
        }
    }

    /// Wakes every waiter, so that each re-reads its job's status; used when
    /// notifications may have been missed (the pub/sub connection dropped).
    pub(crate) fn wake_all(&self) {
        for entry in self.by_job.lock().values() {
            entry.notify.notify_waiters();
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_job.lock().is_empty()
    }
}

/// The shared body of `JobQueue::wait`: re-read the status each time the job's
/// notifier fires, until it is final or the deadline passes. The notification
/// is armed before each read, so a completion between the read and the park
/// is not lost.
pub(crate) async fn wait_for_final<F, Fut>(
    waiters: &Arc<Waiters>,
    id: &JobId,
    timeout: Duration,
    mut status: F,
) -> Result<Option<JobState>, QueueError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<JobState>, QueueError>>,
{
    let deadline = Instant::now() + timeout;
    let guard = waiters.register(&id.0);
    loop {
        let notified = guard.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(state) = guard.delivered() {
            return Ok(Some(state));
        }
        let state = status().await?;
        match &state {
            None => return Ok(None),
            Some(s) if s.status.is_final() => return Ok(state),
            Some(_) => {}
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_lives_as_long_as_a_guard() {
        let waiters = Arc::new(Waiters::default());
        let a = waiters.register("j1");
        let b = waiters.register("j1");
        drop(a);
        assert!(!waiters.is_empty());
        drop(b);
        assert!(waiters.is_empty());
    }
}
