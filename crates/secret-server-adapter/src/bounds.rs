//! Expensive work, bounded per connection and kept off the async workers, so that one connection
//! cannot starve the others.
//!
//! A search the indexes do not narrow (an unindexed filter, a sort, a whole type) and a PATCH whose
//! member paths carry filters cost CPU in proportion to the data (100,000 users rendered and
//! evaluated). Such work runs on tokio's blocking pool, never on the runtime's async workers, which
//! keep answering everyone else; and each connection has `expensive_per_connection` slots for it.
//! Beyond them, that connection's expensive requests are refused at once (`429` with
//! `Retry-After`; a job is retried after the same wait) while other connections' work goes on.
//! Refusing rather than queueing keeps a flood from holding gRPC calls or provisioning workers
//! that other connections need.
//!
//! A slot is held until the work itself ends, also when its caller gave up (work on a blocking
//! thread cannot be interrupted), so that the bound holds for what actually runs.

use connections::ConnectionId;
use parking_lot::Mutex;
use service_error::{ErrorKind, ServiceError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots of every connection.
#[derive(Debug)]
pub struct ExpensiveWork {
    per_connection: usize,
    slots: Mutex<HashMap<ConnectionId, Arc<Semaphore>>>,
}

/// One of a connection's slots, held while its work runs.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl ExpensiveWork {
    /// Room for `per_connection` expensive requests of each connection at once.
    pub fn new(per_connection: usize) -> Self {
        Self { per_connection: per_connection.max(1), slots: Mutex::default() }
    }

    /// Takes one of `connection`'s slots.
    ///
    /// # Errors
    /// `429` with `Retry-After` when all of them are taken.
    pub fn admit(&self, connection: &ConnectionId) -> Result<Slot, ServiceError> {
        let slots = Arc::clone(
            self.slots
                .lock()
                .entry(connection.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_connection))),
        );
        slots.try_acquire_owned().map(|permit| Slot { _permit: permit }).map_err(|_| {
            crate::metrics::expensive_refused(connection.as_str());
            ServiceError::new(
                ErrorKind::ResourceExhausted,
                format!(
                    "this connection already runs {} expensive requests (unindexed filters or sorts, filtered \
                     member paths, reads of large groups with their members); retry when one has finished",
                    self.per_connection
                ),
            )
            .with_retry_after(1)
        })
    }

    /// Runs `work` on a blocking thread in one of `connection`'s slots.
    ///
    /// # Errors
    /// `429` when the connection has no free slot; else what `work` returns (`500` if it panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        connection: &ConnectionId,
        work: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let slot = self.admit(connection)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            span.in_scope(work)
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "expensive work failed");
            Err(ServiceError::internal("the request failed"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(name: &str) -> ConnectionId {
        name.parse().unwrap()
    }

    #[test]
    fn a_connection_gets_its_slots_and_no_more_while_others_keep_theirs() {
        let work = ExpensiveWork::new(2);
        let held = [work.admit(&id("okta")).unwrap(), work.admit(&id("okta")).unwrap()];
        let refused = work.admit(&id("okta")).unwrap_err();
        assert_eq!((refused.http_status(), refused.retry_after), (429, Some(1)));
        assert!(work.admit(&id("entra")).is_ok(), "another connection is not held up");
        drop(held);
        assert!(work.admit(&id("okta")).is_ok(), "a slot comes back when its work ends");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_work_runs_off_the_async_worker_and_holds_its_slot_until_it_ends() {
        let work = ExpensiveWork::new(1);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let okta = id("okta");
        let running = work.run(&okta, move || {
            let _ = started_tx.send(());
            // On the runtime's only thread this would block the test's own task: it must be elsewhere.
            release_rx.recv_timeout(Duration::from_secs(30)).map_err(|_| ServiceError::internal("never released"))
        });
        let (outcome, ()) = tokio::join!(running, async {
            started_rx.await.unwrap();
            assert_eq!(work.admit(&id("okta")).unwrap_err().http_status(), 429, "the slot is held while it runs");
            release_tx.send(()).unwrap();
        });
        outcome.unwrap();
        assert!(work.admit(&id("okta")).is_ok());
    }
}
