//! Local wake-ups for `wait`: submitters park on a per-job [`Notify`] that the
//! backend pokes when it learns the job finished (Redis: a pub/sub message;
//! in-process: the worker itself), instead of polling the job's status.
//!
//! A job can also be *watched* from before it exists (Redis: registered before
//! its submission script runs, while the notifier is subscribed). Its done
//! message then cannot pass unseen, so a `wait` on it need not read the status
//! first: it parks at once and takes the state the message carries. Any doubt
//! (the notifier resubscribed, the message came before the wait, the watch was
//! not taken) falls back to reading the status, as without a watch.

use crate::{JobId, JobState, QueueError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Jobs watched at once, at most: a watch whose job nobody waits on lives
/// until the job finishes, so the map stays bounded if submitters never wait.
const MAX_ENTRIES: usize = 65_536;

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
    /// Watched since before the job existed, with the notifier subscribed ever
    /// since: every notification about the job reaches this entry.
    watched: bool,
}

/// Keeps a job's entry alive while someone waits on it.
pub(crate) struct WaitGuard {
    waiters: Arc<Waiters>,
    id: String,
    notify: Arc<Notify>,
}

impl WaitGuard {
    /// The delivered final state, and whether the entry is still watched.
    fn seen(&self) -> (Option<JobState>, bool) {
        self.waiters.by_job.lock().get(&self.id).map_or((None, false), |e| (e.delivered.clone(), e.watched))
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
            watched: false,
        });
        entry.waiting += 1;
        WaitGuard { waiters: Arc::clone(self), id: id.to_owned(), notify: Arc::clone(&entry.notify) }
    }

    /// Watches job `id` before it is submitted. Only valid while every
    /// notification from now on reaches [`Waiters::deliver`] (the caller checked
    /// the notifier is subscribed). Returns false, watching nothing, when too
    /// many jobs are watched already.
    pub(crate) fn watch(&self, id: &str) -> bool {
        let mut map = self.by_job.lock();
        if map.len() >= MAX_ENTRIES {
            return false;
        }
        let entry = map.entry(id.to_owned()).or_insert_with(|| Entry {
            notify: Arc::new(Notify::new()),
            waiting: 0,
            delivered: None,
            watched: false,
        });
        entry.watched = true;
        true
    }

    /// Stops watching `id` (its submission failed or named another job).
    pub(crate) fn unwatch(&self, id: &str) {
        let mut map = self.by_job.lock();
        if let Some(entry) = map.get_mut(id) {
            entry.watched = false;
            if entry.waiting == 0 {
                map.remove(id);
            }
        }
    }

    /// Wakes whoever waits on `id` (nobody, usually: most jobs finish unobserved).
    pub(crate) fn wake(&self, id: &str) {
        if let Some(entry) = self.by_job.lock().get(id) {
            entry.notify.notify_waiters();
        }
    }

    /// Hands a job's final state to whoever waits on it, and wakes them. A
    /// watch nobody waits on yet ends here: a later `wait` reads the status.
    pub(crate) fn deliver(&self, state: JobState) {
        let mut map = self.by_job.lock();
        if let Some(entry) = map.get_mut(&state.job_id.0) {
            if entry.waiting == 0 {
                map.remove(&state.job_id.0);
                return;
            }
            entry.delivered = Some(state);
            entry.notify.notify_waiters();
        }
    }

    /// Wakes every waiter, so that each re-reads its job's status; used when
    /// notifications may have been missed (the pub/sub connection dropped).
    /// Every watch ends: notifications may have been lost since it began.
    pub(crate) fn wake_all(&self) {
        let mut map = self.by_job.lock();
        map.retain(|_, entry| {
            entry.watched = false;
            entry.notify.notify_waiters();
            entry.waiting > 0
        });
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_job.lock().is_empty()
    }

    #[cfg(test)]
    fn waiting(&self, id: &str) -> usize {
        self.by_job.lock().get(id).map_or(0, |e| e.waiting)
    }
}

/// The shared body of `JobQueue::wait`: re-read the status each time the job's
/// notifier fires, until it is final or the deadline passes. The notification
/// is armed before each read, so a completion between the read and the park
/// is not lost. A watched job is not read first: its notification cannot have
/// passed (see the module docs); it is read when woken without a state (the
/// notifier resubscribed) and when the deadline passes.
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
    let mut read_first = true;
    loop {
        let notified = guard.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Checked after arming: a watch that ends from here on also wakes us.
        let (delivered, watched) = guard.seen();
        if let Some(state) = delivered {
            return Ok(Some(state));
        }
        let state = if read_first && watched {
            None
        } else {
            let state = status().await?;
            match &state {
                None => return Ok(None),
                Some(s) if s.status.is_final() => return Ok(state),
                Some(_) => {}
            }
            state
        };
        read_first = false;
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {
                return match state {
                    Some(state) => Ok(Some(state)),
                    // Parked without a read: the caller gets the state at the deadline.
                    None => status().await,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobStatus;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::UNIX_EPOCH;

    fn state(id: &str, status: JobStatus) -> JobState {
        JobState {
            job_id: JobId(id.to_owned()),
            status,
            ordering_key: "k".to_owned(),
            attempts: 1,
            behind: false,
            result: None,
            last_error: None,
            submitted_at: UNIX_EPOCH,
            updated_at: UNIX_EPOCH,
        }
    }

    /// Waits on `id`, counting status reads; the store holds `stored`.
    fn spawn_wait(
        waiters: &Arc<Waiters>,
        id: &str,
        timeout: Duration,
        stored: JobStatus,
    ) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<Result<Option<JobState>, QueueError>>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let (waiters, id, counter) = (Arc::clone(waiters), id.to_owned(), Arc::clone(&reads));
        let task = tokio::spawn(async move {
            let job = JobId(id.clone());
            wait_for_final(&waiters, &job, timeout, || {
                counter.fetch_add(1, Ordering::SeqCst);
                let state = state(&id, stored);
                async move { Ok(Some(state)) }
            })
            .await
        });
        (reads, task)
    }

    async fn until_parked(waiters: &Waiters, id: &str) {
        while waiters.waiting(id) == 0 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_watched_job_is_waited_for_without_reading_its_status() {
        let waiters = Arc::new(Waiters::default());
        assert!(waiters.watch("j1"));
        let (reads, task) = spawn_wait(&waiters, "j1", Duration::from_secs(30), JobStatus::Queued);
        until_parked(&waiters, "j1").await;
        waiters.deliver(state("j1", JobStatus::Succeeded));
        assert_eq!(task.await.unwrap().unwrap().unwrap().status, JobStatus::Succeeded);
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        assert!(waiters.is_empty());
    }

    #[tokio::test]
    async fn a_watched_job_that_finished_before_the_wait_is_read_back() {
        let waiters = Arc::new(Waiters::default());
        assert!(waiters.watch("j1"));
        waiters.deliver(state("j1", JobStatus::Succeeded));
        assert!(waiters.is_empty(), "nobody waited: the watch ended with the job");
        let (reads, task) = spawn_wait(&waiters, "j1", Duration::from_secs(30), JobStatus::Succeeded);
        assert_eq!(task.await.unwrap().unwrap().unwrap().status, JobStatus::Succeeded);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_resubscription_ends_every_watch_and_the_parked_waiter_reads_its_job() {
        let waiters = Arc::new(Waiters::default());
        assert!(waiters.watch("j1") && waiters.watch("j2"));
        let (reads, task) = spawn_wait(&waiters, "j1", Duration::from_secs(30), JobStatus::Succeeded);
        until_parked(&waiters, "j1").await;
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        // Its done message may have been published while the channel was down.
        waiters.wake_all();
        assert_eq!(task.await.unwrap().unwrap().unwrap().status, JobStatus::Succeeded);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(waiters.is_empty(), "the watch nobody waited on ended too");
    }

    #[tokio::test]
    async fn a_watched_wait_that_times_out_returns_the_state_read_at_the_deadline() {
        let waiters = Arc::new(Waiters::default());
        assert!(waiters.watch("j1"));
        let (reads, task) = spawn_wait(&waiters, "j1", Duration::from_millis(20), JobStatus::Running);
        assert_eq!(task.await.unwrap().unwrap().unwrap().status, JobStatus::Running);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn watches_are_bounded_and_an_unwatched_job_is_forgotten() {
        let waiters = Waiters::default();
        for n in 0..MAX_ENTRIES {
            assert!(waiters.watch(&n.to_string()));
        }
        assert!(!waiters.watch("one too many"));
        for n in 0..MAX_ENTRIES {
            waiters.unwatch(&n.to_string());
        }
        assert!(waiters.is_empty());
    }

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
